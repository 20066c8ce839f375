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
    /// Python interpreters whose bytecode cache of the bootstrap has been written.
    precompiled: tokio::sync::Mutex<std::collections::HashSet<PathBuf>>,
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
            precompiled: tokio::sync::Mutex::new(std::collections::HashSet::new()),
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
        let resolved = self.resolver.for_start(runtime).await?;
        if runtime.family() == RuntimeFamily::Python {
            self.precompile(&resolved.interpreter.exe).await;
        }
        Ok(Some(resolved))
    }

    /// Writes the Python bootstrap's bytecode cache for `exe` once, as the owner of the
    /// runtime directory: a container sandbox sees that directory read-only, as another user,
    /// and would otherwise compile the bootstrap at every cold start (4-6 ms). A failure only
    /// costs that time, so it is logged and not retried.
    async fn precompile(&self, exe: &Path) {
        let mut done = self.precompiled.lock().await;
        if !done.insert(exe.to_owned()) {
            return;
        }
        let bootstrap = self.dir.join("python/bootstrap.py");
        let run = tokio::process::Command::new(exe)
            .arg(&bootstrap)
            .env_clear()
            .env("LAMBDALET_BOOTSTRAP_PRECOMPILE", "1")
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(std::time::Duration::from_secs(30), run).await {
            Ok(Ok(o)) if o.status.success() => {
                tracing::debug!(interpreter = %exe.display(), "runtime.bootstrap_precompiled");
            }
            Ok(Ok(o)) => tracing::warn!(
                interpreter = %exe.display(),
                "could not write the Python bootstrap's bytecode cache ({}): {}; cold starts compile it each time",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Ok(Err(e)) => {
                tracing::warn!(interpreter = %exe.display(), error = %e, "could not write the Python bootstrap's bytecode cache; cold starts compile it each time")
            }
            Err(_) => {
                tracing::warn!(interpreter = %exe.display(), "writing the Python bootstrap's bytecode cache took over 30 s; cold starts compile it each time")
            }
        }
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
