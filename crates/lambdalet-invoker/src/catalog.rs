//! The runtimes lambdalet can start: our own bootstraps (shipped inside the binary and written
//! to the data directory at start) and the host interpreters they run on.

use std::path::{Path, PathBuf};

use lambdalet_core::{Runtime, RuntimeFallback, RuntimeFamily};
use sha2::{Digest, Sha256};

use crate::error::InvokeError;
use crate::interpreters::sdk::SdkStore;
use crate::interpreters::sdk_install::{InstallReport, ProgressFn, SdkLanguage};
use crate::interpreters::{Interpreter, InterpreterSearch, ResolvedRuntime, Resolver};

const PYTHON_BOOTSTRAP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../runtimes/python/bootstrap.py"
));
const NODE_BOOTSTRAP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../runtimes/node/bootstrap.js"
));

macro_rules! shipped {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../runtimes/", $path)))),*]
    };
}

/// Every file shipped into `<data-dir>/runtimes/<hash>/` besides the bootstraps: the Greengrass
/// V1 SDK support modules Python functions import (`greengrass_common`,
/// `greengrass_ipc_python_sdk`).
const FILES: &[(&str, &str)] = shipped![
    "python/greengrass/greengrass_common/__init__.py",
    "python/greengrass/greengrass_common/env_vars.py",
    "python/greengrass/greengrass_common/function_arn_fields.py",
    "python/greengrass/greengrass_ipc_python_sdk/__init__.py",
    "python/greengrass/greengrass_ipc_python_sdk/ipc_client.py",
];

/// Where the bootstraps are, which interpreter serves each runtime, and the SDKs.
pub struct RuntimeCatalog {
    dir: PathBuf,
    data_dir: PathBuf,
    resolver: Resolver,
    sdk: SdkStore,
    /// Held while `install-sdk` runs: one installation at a time.
    installing: tokio::sync::Mutex<()>,
}

impl RuntimeCatalog {
    /// Writes the bootstraps under `<data_dir>/runtimes/<content hash>/` (so a new lambdalet
    /// never changes files a running sandbox of an old one uses).
    pub fn install(
        data_dir: &Path,
        search: InterpreterSearch,
        fallback: RuntimeFallback,
    ) -> std::io::Result<Self> {
        let all: Vec<(&str, &str)> = [
            ("python/bootstrap.py", PYTHON_BOOTSTRAP),
            ("node/bootstrap.js", NODE_BOOTSTRAP),
        ]
        .into_iter()
        .chain(FILES.iter().copied())
        .collect();
        let mut hash = Sha256::new();
        for (rel, body) in &all {
            hash.update(rel);
            hash.update(body);
        }
        let id = hex::encode(&hash.finalize()[..6]);
        let dir = data_dir.join("runtimes").join(id);
        for (rel, body) in all {
            let path = dir.join(rel);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(body) {
                std::fs::create_dir_all(path.parent().expect("bootstrap paths have a parent"))?;
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, body)?;
                std::fs::rename(&tmp, &path)?;
            }
        }
        Ok(Self {
            dir,
            data_dir: data_dir.to_owned(),
            resolver: Resolver::new(search, fallback),
            sdk: SdkStore::new(data_dir),
            installing: tokio::sync::Mutex::new(()),
        })
    }

    /// The daemon's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Finds runtimes' interpreters.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The installed SDKs.
    pub fn sdk(&self) -> &SdkStore {
        &self.sdk
    }

    /// `LAMBDA_RUNTIME_DIR` for our bootstraps.
    pub fn runtime_dir(&self, family: RuntimeFamily) -> PathBuf {
        match family {
            RuntimeFamily::Python => self.dir.join("python"),
            RuntimeFamily::Node => self.dir.join("node"),
            RuntimeFamily::Provided => self.dir.clone(),
        }
    }

    /// The program and arguments that start `runtime` for code in `code_dir`, with the
    /// bootstraps in `runtime_dir` (paths as the sandbox sees them), on `interpreter` (none
    /// for a provided runtime).
    pub fn command(
        runtime: &Runtime,
        interpreter: Option<&Interpreter>,
        code_dir: &Path,
        runtime_dir: &Path,
        memory_mb: u32,
    ) -> Result<(PathBuf, Vec<String>), InvokeError> {
        let exe = || {
            interpreter.map(|i| i.exe.clone()).ok_or_else(|| {
                InvokeError::Internal(format!("runtime {runtime} started without its interpreter"))
            })
        };
        match runtime.family() {
            RuntimeFamily::Python => {
                let bootstrap = runtime_dir.join("bootstrap.py");
                Ok((
                    exe()?,
                    vec!["-u".to_owned(), bootstrap.display().to_string()],
                ))
            }
            RuntimeFamily::Node => {
                let bootstrap = runtime_dir.join("bootstrap.js");
                let mut args = node_args(memory_mb);
                args.push(bootstrap.display().to_string());
                Ok((exe()?, args))
            }
            RuntimeFamily::Provided => Ok((code_dir.join("bootstrap"), Vec::new())),
        }
    }

    /// The interpreter a new sandbox of `runtime` starts (`None` for a provided runtime). The
    /// answer is kept while the interpreter is there; a failure is not, so installing the
    /// interpreter later works without a restart.
    pub async fn interpreter(
        &self,
        runtime: &Runtime,
    ) -> Result<Option<ResolvedRuntime>, InvokeError> {
        if runtime.family() == RuntimeFamily::Provided {
            return Ok(None);
        }
        self.resolver.for_start(runtime).await.map(Some)
    }

    /// Installs SDKs (one installation at a time).
    pub async fn install_sdk(
        &self,
        which: &[SdkLanguage],
        progress: ProgressFn,
    ) -> Result<InstallReport, InvokeError> {
        let Ok(_one) = self.installing.try_lock() else {
            return Err(InvokeError::Busy(
                "an SDK installation is already running on this daemon: wait for it to finish"
                    .to_owned(),
            ));
        };
        Ok(self.resolver.install_sdk(&self.sdk, which, progress).await)
    }
}

/// Environment variable defaults of the Lambda execution environment (spec digest §1.7).
pub(crate) const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

/// Node.js's flags as Lambda's Node.js bootstrap passes them: V8's heap sized from the
/// function's memory (a tenth for the young generation, half of that per semi-space, the rest
/// for the old one), `--expose-gc` and an 80 KB HTTP header limit. The function's own
/// `NODE_OPTIONS` still apply on top.
pub(crate) fn node_args(memory_mb: u32) -> Vec<String> {
    let new_space = memory_mb / 10;
    vec![
        "--expose-gc".to_owned(),
        "--max-http-header-size=81920".to_owned(),
        format!("--max-semi-space-size={}", new_space / 2),
        format!("--max-old-space-size={}", memory_mb - new_space),
    ]
}

#[cfg(test)]
mod node_tests {
    #[test]
    fn v8_is_sized_from_the_memory_setting_as_on_lambda() {
        for (mb, semi, old) in [(128, 6, 116), (1024, 51, 922), (10240, 512, 9216)] {
            let args = super::node_args(mb);
            assert!(
                args.contains(&format!("--max-semi-space-size={semi}")),
                "{mb}: {args:?}"
            );
            assert!(
                args.contains(&format!("--max-old-space-size={old}")),
                "{mb}: {args:?}"
            );
        }
    }
}
