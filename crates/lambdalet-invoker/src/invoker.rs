//! The invoker's public face: deploy versions, run invocations, report health, shut down.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lambdalet_core::{
    AccountInfo, ContainerMode, DeployedVersion, FunctionConfig, Runtime, RuntimeFallback,
    RuntimeFamily,
};
use lambdalet_sandbox::ZygoteState;
use lambdalet_store::RecordWriter;
use tokio::sync::Notify;

use crate::catalog::RuntimeCatalog;
use crate::error::InvokeError;
use crate::instance::StartContext;
use crate::interpreters::sdk_install::{InstallReport, ProgressFn, SdkLanguage};
use crate::interpreters::{InterpreterSearch, ResolvedRuntime, RuntimesReport};
use crate::request::{Invocation, InvocationResult};
use crate::sandboxes::{SandboxChoice, Sandboxes};
use crate::scheduler::{Health, PoolKey, PoolStats, STOP_GRACE, Scheduler};
use crate::streaming::ResponseStream;
use crate::supervisor;

/// Daemon-wide settings of the invoker.
#[derive(Debug, Clone)]
pub struct InvokerConfig {
    /// Most environments (sandboxes) alive at once, over all functions (`--max-concurrency`).
    pub max_concurrency: usize,
    /// What sandboxes get to reach the daemon's Greengrass services.
    pub greengrass: GreengrassEnv,
    /// Where runtimes' interpreters are looked for (`--interpreter-path`).
    pub interpreters: InterpreterSearch,
    /// What runs a function whose runtime is not installed (`--runtime-fallback`).
    pub runtime_fallback: RuntimeFallback,
    /// Whether versions that do not choose (`LAMBDALET_PRESTART`) keep one pre-started
    /// sandbox ready beyond the busy ones (`--prestart`).
    pub prestart: bool,
    /// Where invocations' trace spans go (`--otlp-endpoint`); off by default.
    pub spans: crate::traces::Spans,
}

impl Default for InvokerConfig {
    fn default() -> Self {
        Self {
            max_concurrency: 1000,
            greengrass: GreengrassEnv::default(),
            interpreters: InterpreterSearch::Default,
            runtime_fallback: RuntimeFallback::None,
            prestart: false,
            spans: crate::traces::Spans::default(),
        }
    }
}

/// The Greengrass side of a sandbox's environment: the IPC socket, the token that identifies
/// the function to it, and the daemon's address for the Greengrass V1 SDK.
#[derive(Debug, Clone, Default)]
pub struct GreengrassEnv {
    pub tokens: Arc<lambdalet_core::Tokens>,
    pub ipc_socket: Option<std::path::PathBuf>,
    /// `host:port` of the daemon's API.
    pub api_endpoint: Option<String>,
    /// `host:port` of the embedded S3 endpoint, when it runs.
    pub s3_endpoint: Option<String>,
}

pub(crate) struct Inner {
    pub ctx: StartContext,
    pub sched: Scheduler,
    pub records: RecordWriter,
    pub in_flight: AtomicUsize,
    pub drained: Notify,
    pub closing: AtomicBool,
    pub metrics: crate::metrics::Metrics,
    /// Every invocation record as it is written, for live log tails (sent only while someone
    /// listens).
    pub live: tokio::sync::broadcast::Sender<Arc<lambdalet_store::InvocationRecord>>,
    pub spans: crate::traces::Spans,
}

/// Records a live log tail may fall behind by before it misses some.
const LIVE_BACKLOG: usize = 512;

/// Runs invocations through per-version pools of environments.
pub struct Invoker {
    pub(crate) inner: Arc<Inner>,
}

impl Invoker {
    /// An invoker whose runtimes live under `data_dir/runtimes`. Starts the background task
    /// that reaps idle environments and keeps provisioned ones warm.
    pub fn new(
        data_dir: &Path,
        account: AccountInfo,
        sandboxes: Sandboxes,
        records: RecordWriter,
        config: InvokerConfig,
    ) -> std::io::Result<Arc<Self>> {
        let catalog =
            RuntimeCatalog::install(data_dir, config.interpreters, config.runtime_fallback)?;
        let inner = Arc::new(Inner {
            ctx: StartContext {
                catalog,
                sandboxes,
                account,
                greengrass: config.greengrass,
            },
            sched: Scheduler::new(config.max_concurrency, config.prestart),
            records,
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
            closing: AtomicBool::new(false),
            metrics: crate::metrics::Metrics::default(),
            live: tokio::sync::broadcast::channel(LIVE_BACKLOG).0,
            spans: config.spans.clone(),
        });
        tokio::spawn(supervisor::maintain(Arc::downgrade(&inner)));
        Ok(Arc::new(Self { inner }))
    }

    /// Checks at deploy time that this host can start `runtime`, searching its interpreter
    /// again: the interpreter it will run on (`None` for a provided runtime), with a notice
    /// when that is not the version asked for (`--runtime-fallback nearest`).
    pub async fn check_runtime(
        &self,
        runtime: &Runtime,
    ) -> Result<Option<ResolvedRuntime>, InvokeError> {
        if runtime.family() == RuntimeFamily::Provided {
            return Ok(None);
        }
        self.inner
            .ctx
            .catalog
            .resolver()
            .resolve(runtime)
            .await
            .map(Some)
    }

    /// The interpreter `runtime` runs on as last resolved (at a deploy, a cold start or
    /// `lambdalet runtimes`), or why it had none; `None` before the first search.
    pub fn runtime_status(&self, runtime: &Runtime) -> Option<Result<ResolvedRuntime, String>> {
        self.inner.ctx.catalog.resolver().last_status(runtime)
    }

    /// The daemon's `--runtime-fallback`.
    pub fn runtime_fallback(&self) -> RuntimeFallback {
        self.inner.ctx.catalog.resolver().fallback()
    }

    /// Every supported runtime on this host: its interpreter and SDK (`lambdalet runtimes`).
    pub async fn runtimes(&self) -> RuntimesReport {
        let catalog = &self.inner.ctx.catalog;
        catalog.resolver().report(catalog.sdk()).await
    }

    /// Installs the AWS SDKs of `which` under `<data-dir>/sdk` (`lambdalet runtimes
    /// install-sdk`), reporting pip's and npm's output through `progress`.
    pub async fn install_sdk(
        &self,
        which: &[SdkLanguage],
        progress: ProgressFn,
    ) -> Result<InstallReport, InvokeError> {
        self.inner.ctx.catalog.install_sdk(which, progress).await
    }

    /// Checks at deploy that this host can give `config` the sandbox it asks for: its volume
    /// sources and devices exist (when it will run in a container).
    pub fn check_sandbox(&self, config: &FunctionConfig) -> Result<(), String> {
        let choice = self.sandbox_choice(config);
        if config.package_type == lambdalet_core::PackageType::Image
            && choice.mode != ContainerMode::GreengrassContainer
        {
            return Err(match &self.inner.ctx.sandboxes.container_unavailable {
                Some(why) => format!(
                    "a container image function runs only in a container sandbox, which this host cannot make: {why}"
                ),
                None => "a container image function runs only in a container sandbox: leave out containerMode NoContainer (or set GreengrassContainer)".to_owned(),
            });
        }
        if choice.mode == ContainerMode::GreengrassContainer {
            let params = &config.lifecycle.container_params;
            lambdalet_sandbox::check_container_params(params)?;
            let data_dir = self.inner.ctx.catalog.data_dir();
            let data_dir = data_dir
                .canonicalize()
                .unwrap_or_else(|_| data_dir.to_owned());
            for (i, v) in params.volumes.iter().enumerate() {
                let source = std::path::Path::new(&v.source_path);
                let source = source.canonicalize().unwrap_or_else(|_| source.to_owned());
                if data_dir.starts_with(&source) || source.starts_with(&data_dir) {
                    return Err(format!(
                        "containerParams.volumes[{i}].sourcePath {} holds lambdalet's data directory {} (every function's code and state) or is inside it: pick a directory of your own",
                        v.source_path,
                        data_dir.display()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The sandbox a function with `config` runs in here, with the reason when that is not
    /// the one it asked for.
    pub fn sandbox_choice(&self, config: &FunctionConfig) -> SandboxChoice {
        self.inner.ctx.sandboxes.choose(config)
    }

    /// Why container sandboxes are unavailable on this host, when they are.
    pub fn container_unavailable(&self) -> Option<&str> {
        self.inner.ctx.sandboxes.container_unavailable.as_deref()
    }

    /// The daemon's default sandbox (`--sandbox`).
    pub fn default_sandbox(&self) -> ContainerMode {
        self.inner.ctx.sandboxes.default_mode
    }

    /// Makes a version known (at deploy and at daemon start). A changed revision replaces its
    /// warm environments; a pinned version gets its long-lived environment started now.
    pub fn deploy(&self, version: Arc<DeployedVersion>) {
        let key = (version.name.to_string(), version.version.clone());
        // New code or configuration: the version's zygote (Init of the old one) is retired now,
        // not at the next cold start, and exits once its sandboxes have.
        let replaced = self.inner.sched.pool_info(&key).is_some_and(|(old, _, _)| {
            old.revision_id != version.revision_id || old.config != version.config
        });
        if replaced {
            let family = crate::zygote::family(&key.0, &key.1);
            self.inner.ctx.sandboxes.retire_zygotes(Some(&family));
        }
        if self.inner.sched.deploy(version) {
            tokio::spawn(supervisor::supervise_pinned(self.inner.clone(), key));
        }
    }

    /// Forgets a function (`version` None: every version): its environments stop, its waiting
    /// invocations are refused.
    pub fn remove(&self, function: &str, version: Option<&str>) {
        self.inner.sched.remove(function, version);
        self.inner.metrics.remove(function, version);
        let family = crate::zygote::family(function, version.unwrap_or(""));
        self.inner.ctx.sandboxes.retire_zygotes(Some(&family));
    }

    /// Every invocation record from now on, as it is written (a live log tail). A receiver
    /// that falls more than a few hundred records behind is told how many it missed
    /// (`RecvError::Lagged`).
    pub fn live_records(
        &self,
    ) -> tokio::sync::broadcast::Receiver<Arc<lambdalet_store::InvocationRecord>> {
        self.inner.live.subscribe()
    }

    /// Waits until every invocation record handed to the writer is in the store (blocking).
    pub fn flush_records(&self) {
        self.inner.records.flush();
    }

    /// Lambda's metrics of every function (see [`crate::metrics`]).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// Reserved concurrency of a function (`None`: unreserved).
    pub fn set_reserved_concurrency(&self, function: &str, reserved: Option<u32>) {
        self.inner.sched.set_reserved(function, reserved);
    }

    /// Environments to keep warm for a version (0 to stop keeping them).
    pub fn set_provisioned(&self, function: &str, version: &str, count: u32) {
        self.inner
            .sched
            .set_provisioned(&(function.to_owned(), version.to_owned()), count);
    }

    /// Health of a version (`None` if it was never deployed or invoked).
    pub fn health(&self, function: &str, version: &str) -> Option<Health> {
        self.inner
            .sched
            .health(&(function.to_owned(), version.to_owned()))
    }

    /// Environment counts of a version.
    pub fn stats(&self, function: &str, version: &str) -> PoolStats {
        self.inner
            .sched
            .stats(&(function.to_owned(), version.to_owned()))
    }

    /// The state of the version's zygote, in whichever sandbox backend has one.
    pub fn zygote_state(&self, function: &str, version: &str) -> Option<ZygoteState> {
        let family = crate::zygote::family(function, version);
        let s = &self.inner.ctx.sandboxes;
        std::iter::once(&s.process)
            .chain(s.container.as_ref())
            .find_map(|b| b.zygote_state(&family))
    }

    /// Environment counts of every version.
    pub fn all_stats(&self) -> Vec<(PoolKey, PoolStats)> {
        self.inner.sched.all_stats()
    }

    /// Runs one invocation. It runs to its end even if the caller stops waiting (a client that
    /// disconnects does not abort a function halfway, as in Lambda).
    pub async fn invoke(&self, inv: Invocation) -> Result<InvocationResult, InvokeError> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(InvokeError::ShuttingDown);
        }
        let inner = self.inner.clone();
        crate::to_the_end::ToTheEnd::new(async move {
            crate::execute::run(&inner, inv, &mut crate::streaming::Delivery::Buffered).await
        })
        .await
        .map_err(|e| InvokeError::Internal(format!("the invocation failed: {}", e.0)))?
    }

    /// Runs one invocation whose response the caller reads as it comes (see
    /// [`ResponseStream`]). Returns once the response starts (or the invocation ended without
    /// one); refusals before the function runs (throttled, deleted, shutting down) are errors as
    /// for [`Self::invoke`]. The invocation runs to its end even if the stream is dropped.
    pub async fn invoke_stream(&self, inv: Invocation) -> Result<ResponseStream, InvokeError> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(InvokeError::ShuttingDown);
        }
        let inner = self.inner.clone();
        let (mut delivery, rx) = crate::streaming::streamed();
        let task = tokio::spawn(async move {
            let result = crate::execute::run(&inner, inv, &mut delivery).await?;
            if let crate::streaming::Delivery::Streamed(s) = delivery {
                s.complete(result).await;
            }
            Ok::<(), InvokeError>(())
        });
        if let Some(stream) = crate::streaming::first(rx).await {
            return Ok(stream);
        }
        match task.await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Err(InvokeError::Internal(
                "the invocation ended without a response".to_owned(),
            )),
            Err(e) => Err(InvokeError::Internal(format!(
                "the invocation task failed: {e}"
            ))),
        }
    }

    /// Stops taking invocations, lets those in flight finish for up to `grace`, then stops
    /// every environment (SIGTERM, then SIGKILL).
    pub async fn shutdown(&self, grace: Duration) {
        let inner = &self.inner;
        inner.closing.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + grace;
        while inner.in_flight.load(Ordering::Acquire) > 0 {
            let notified = inner.drained.notified();
            if inner.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(
                    in_flight = inner.in_flight.load(Ordering::Acquire),
                    "shutdown grace period over; stopping busy sandboxes"
                );
                break;
            }
        }
        let (idle, all) = inner.sched.close();
        for sandbox in &all {
            sandbox.terminate();
        }
        let stops: Vec<_> = idle
            .into_iter()
            .map(|i| tokio::spawn(i.stop(STOP_GRACE)))
            .collect();
        for s in stops {
            let _ = s.await;
        }
        for sandbox in &all {
            sandbox.kill();
        }
        inner.ctx.sandboxes.retire_zygotes(None);
    }

    /// The most environments alive at once over all functions (`--max-concurrency`).
    pub fn max_concurrency(&self) -> usize {
        self.inner.sched.global_max()
    }

    /// Number of invocations running now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }
}

/// Counts an invocation as in flight while it lives.
pub(crate) struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    pub(crate) fn enter(inner: &'a Inner) -> Self {
        inner.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}
