//! What `lambdalet runtimes` shows, and `install-sdk`'s choice of interpreters.

use std::path::PathBuf;

use lambdalet_core::runtime::SUPPORTED_RUNTIMES;
use lambdalet_core::{Runtime, RuntimeFallback, RuntimeFamily};

use super::sdk::{SdkSource, SdkStore};
use super::sdk_install::{self, InstallReport, ProgressFn, SdkLanguage};
use super::{Found, ResolvedRuntime, Resolver};

/// One supported runtime on this host.
#[derive(Debug, Clone)]
pub struct RuntimeReport {
    pub runtime: Runtime,
    /// Its interpreter, or why there is none (with what to install).
    pub resolved: Result<ResolvedRuntime, String>,
    /// The SDK it provides, when it has an interpreter (`None` for provided runtimes).
    pub sdk: Option<SdkSource>,
}

/// Every supported runtime, and every candidate interpreter looked at.
#[derive(Debug, Clone)]
pub struct RuntimesReport {
    pub fallback: RuntimeFallback,
    /// Where interpreters are looked for.
    pub search: String,
    /// `<data-dir>/sdk`.
    pub sdk_dir: PathBuf,
    pub runtimes: Vec<RuntimeReport>,
    pub candidates: Vec<(RuntimeFamily, Found)>,
}

impl Resolver {
    /// Looks at every candidate interpreter, then resolves every supported runtime.
    pub async fn report(&self, sdk: &SdkStore) -> RuntimesReport {
        let mut candidates = Vec::new();
        for family in [RuntimeFamily::Python, RuntimeFamily::Node] {
            for f in self.scan(family).await {
                candidates.push((family, f));
            }
        }
        let mut runtimes = Vec::new();
        for id in SUPPORTED_RUNTIMES {
            let Ok(runtime) = Runtime::parse(id) else {
                continue;
            };
            if runtime.family() == RuntimeFamily::Provided {
                runtimes.push(RuntimeReport {
                    runtime,
                    resolved: Err(
                        "runs the function's own `bootstrap` (no interpreter needed)".to_owned(),
                    ),
                    sdk: None,
                });
                continue;
            }
            let resolved = self.resolve(&runtime).await.map_err(|e| e.to_string());
            runtimes.push(RuntimeReport {
                runtime,
                resolved,
                sdk: None,
            });
        }
        // Which SDK each provides: asked of the interpreters all at once.
        let mut tasks = tokio::task::JoinSet::new();
        for (i, r) in runtimes.iter().enumerate() {
            if let Ok(res) = &r.resolved {
                let (sdk, runtime, interpreter) =
                    (sdk.clone(), r.runtime.clone(), res.interpreter.clone());
                tasks.spawn(async move { (i, sdk.source(&runtime, &interpreter).await) });
            }
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, source)) = done
                && let Some(r) = runtimes.get_mut(i)
            {
                r.sdk = Some(source);
            }
        }
        RuntimesReport {
            fallback: self.fallback,
            search: self.search.describe(),
            sdk_dir: sdk.root().to_owned(),
            runtimes,
            candidates,
        }
    }

    /// Installs the SDKs of `which`: boto3 for every installed Python version from 3.8, the
    /// v3 JavaScript SDK with the newest Node.js.
    pub async fn install_sdk(
        &self,
        sdk: &SdkStore,
        which: &[SdkLanguage],
        progress: ProgressFn,
    ) -> InstallReport {
        let mut report = InstallReport::default();
        for language in which {
            let family = match language {
                SdkLanguage::Python => RuntimeFamily::Python,
                SdkLanguage::Node => RuntimeFamily::Node,
            };
            let found: Vec<_> = self
                .scan(family)
                .await
                .into_iter()
                .filter_map(|f| f.answer.ok())
                .collect();
            match language {
                SdkLanguage::Python => {
                    let pythons = sdk_install::one_per_version(found);
                    sdk_install::python(sdk, &pythons, &progress, &mut report).await;
                }
                SdkLanguage::Node => {
                    let node = sdk_install::newest(found);
                    sdk_install::node(sdk, node.as_ref(), &progress, &mut report).await;
                }
            }
        }
        report
    }
}
