//! The runtimes lambdalet can start: our own bootstraps (shipped inside the binary and written
//! to the data directory at start) and the host interpreters they run on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lambdalet_core::{Runtime, RuntimeFamily};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::error::InvokeError;

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

/// Where the bootstraps are and which interpreter serves each runtime.
pub struct RuntimeCatalog {
    dir: PathBuf,
    data_dir: PathBuf,
    interpreters: Mutex<HashMap<String, Interpreter>>,
}

/// A host interpreter: its executable and the directories it runs from (a container sandbox
/// shows them read-only when they are not part of the system directories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub exe: PathBuf,
    /// Its installation: Python's `sys.base_prefix` (and `sys.prefix` in a virtual
    /// environment), Node.js's directory above `bin/`.
    pub homes: Vec<PathBuf>,
}

impl RuntimeCatalog {
    /// Writes the bootstraps under `<data_dir>/runtimes/<content hash>/` (so a new lambdalet
    /// never changes files a running sandbox of an old one uses).
    pub fn install(data_dir: &Path) -> std::io::Result<Self> {
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
            interpreters: Mutex::new(HashMap::new()),
        })
    }

    /// The daemon's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
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
    /// bootstraps in `runtime_dir` (paths as the sandbox sees them).
    pub async fn command(
        &self,
        runtime: &Runtime,
        code_dir: &Path,
        runtime_dir: &Path,
    ) -> Result<(PathBuf, Vec<String>), InvokeError> {
        match runtime.family() {
            RuntimeFamily::Python => {
                let python = self.interpreter(runtime).await?;
                let bootstrap = runtime_dir.join("bootstrap.py");
                Ok((
                    python.exe,
                    vec!["-u".to_owned(), bootstrap.display().to_string()],
                ))
            }
            RuntimeFamily::Node => {
                let node = self.interpreter(runtime).await?;
                let bootstrap = runtime_dir.join("bootstrap.js");
                Ok((node.exe, vec![bootstrap.display().to_string()]))
            }
            RuntimeFamily::Provided => Ok((code_dir.join("bootstrap"), Vec::new())),
        }
    }

    /// Finds the host interpreter for `runtime` (e.g. `python3.11`, else `python3`) and resolves
    /// it to the real executable, skipping wrappers such as pyenv shims, which would add tens of
    /// milliseconds to every cold start. The answer is cached; a failure is not, so installing
    /// the interpreter later works without a restart.
    pub async fn interpreter(&self, runtime: &Runtime) -> Result<Interpreter, InvokeError> {
        if let Some(p) = self.interpreters.lock().get(runtime.id()) {
            return Ok(p.clone());
        }
        let candidates = runtime.interpreter_candidates();
        for candidate in &candidates {
            let Some(found) = find_on_path(candidate) else {
                continue;
            };
            let real = resolve_real_executable(runtime.family(), &found)
                .await
                .unwrap_or_else(|| Interpreter {
                    homes: home_of(&found).into_iter().collect(),
                    exe: found,
                });
            tracing::info!(runtime = %runtime, interpreter = %real.exe.display(), "runtime.interpreter");
            self.interpreters
                .lock()
                .insert(runtime.id().to_owned(), real.clone());
            return Ok(real);
        }
        Err(InvokeError::MissingInterpreter {
            runtime: runtime.id().to_owned(),
            tried: candidates.join(", "),
            hint: runtime.install_hint(),
        })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The directory above an executable's `bin/`.
fn home_of(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent()?;
    (bin.file_name()? == "bin").then(|| bin.parent().map(Path::to_owned))?
}

async fn resolve_real_executable(family: RuntimeFamily, exe: &Path) -> Option<Interpreter> {
    let args: &[&str] = match family {
        RuntimeFamily::Python => &[
            "-c",
            "import sys; print(sys.executable); print(sys.base_prefix); print(sys.prefix)",
        ],
        RuntimeFamily::Node => &["-p", "process.execPath"],
        RuntimeFamily::Provided => return None,
    };
    let run = tokio::process::Command::new(exe).args(args).output();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines().map(|l| PathBuf::from(l.trim()));
    let exe = lines.next().filter(|p| p.is_absolute())?;
    let mut homes: Vec<PathBuf> = lines.filter(|p| p.is_absolute()).collect();
    if homes.is_empty() {
        homes.extend(home_of(&exe));
    }
    homes.dedup();
    Some(Interpreter { exe, homes })
}

/// Environment variable defaults of the Lambda execution environment (spec digest §1.7).
pub(crate) const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";
