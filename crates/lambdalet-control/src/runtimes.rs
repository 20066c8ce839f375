//! Runtimes on this host: the interpreter a function's runtime runs on (the invoker's one
//! resolver, asked at every deploy), `lambdalet runtimes` and `install-sdk`.

use std::collections::BTreeSet;
use std::sync::Arc;

use lambdalet_core::{FunctionConfig, Runtime, RuntimeFallback};
use lambdalet_invoker::{InstallReport, ResolvedRuntime, RuntimesReport, SdkLanguage};

use crate::control::Control;
use crate::error::ControlError;

impl Control {
    /// Checks this host has `config`'s runtime (a zip function's): its interpreter, found
    /// again, with a notice when it is a fallback; an error naming what to install otherwise.
    pub(crate) async fn check_runtime(
        &self,
        config: &FunctionConfig,
    ) -> Result<Option<ResolvedRuntime>, ControlError> {
        match &config.runtime {
            Some(r) => self.check_runtime_of(r).await,
            None => Ok(None),
        }
    }

    /// The interpreter `runtime` runs on here (`None` for a provided runtime), searched
    /// again, as CreateFunction checks it (Greengrass deployments ask this too).
    pub async fn check_runtime_of(
        &self,
        runtime: &Runtime,
    ) -> Result<Option<ResolvedRuntime>, ControlError> {
        Ok(self.invoker.check_runtime(runtime).await?)
    }

    /// The interpreter a version with `config` runs on as last resolved, or why it has none
    /// (for GetFunction).
    pub fn runtime_status(
        &self,
        config: &FunctionConfig,
    ) -> Option<Result<ResolvedRuntime, String>> {
        config
            .runtime
            .as_ref()
            .and_then(|r| self.invoker.runtime_status(r))
    }

    /// The daemon's `--runtime-fallback`.
    pub fn runtime_fallback(&self) -> RuntimeFallback {
        self.invoker.runtime_fallback()
    }

    /// Every supported runtime on this host (`lambdalet runtimes`).
    pub async fn runtimes(&self) -> RuntimesReport {
        self.invoker.runtimes().await
    }

    /// Installs the AWS SDKs of `which` (`lambdalet runtimes install-sdk`).
    pub async fn install_sdk(
        &self,
        which: &[SdkLanguage],
        progress: lambdalet_invoker::interpreters::sdk_install::ProgressFn,
    ) -> Result<InstallReport, ControlError> {
        Ok(self.invoker.install_sdk(which, progress).await?)
    }

    /// Resolves, in the background, the runtimes of the functions loaded at start, so that
    /// GetFunction shows their interpreters and the log says at once which cannot start (an
    /// interpreter removed since they were deployed).
    pub(crate) fn check_loaded_runtimes(self: &Arc<Self>) {
        let runtimes: BTreeSet<String> = self
            .table
            .read()
            .values()
            .flat_map(|e| e.all_versions())
            .filter_map(|v| v.record.config.runtime.as_ref().map(ToString::to_string))
            .collect();
        if runtimes.is_empty() {
            return;
        }
        let invoker = self.invoker.clone();
        tokio::spawn(async move {
            for id in runtimes {
                let Ok(runtime) = Runtime::parse(&id) else {
                    continue;
                };
                if let Err(e) = invoker.check_runtime(&runtime).await {
                    tracing::warn!(runtime = %id, "functions of runtime {id} cannot start until it is installed (their invocations fail with InvalidRuntimeException): {e}");
                }
            }
        });
    }
}
