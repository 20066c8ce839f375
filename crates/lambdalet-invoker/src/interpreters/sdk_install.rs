//! `lambdalet runtimes install-sdk`: boto3 with each installed Python's pip, the v3 AWS SDK for
//! JavaScript with npm, fetched once from the package registries (pip and npm use their own
//! configuration: index, proxy, cache) into a new directory that replaces the old one whole.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambdalet_core::RuntimeFamily;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::Interpreter;
use super::sdk::{COMPLETE, NODE_PACKAGES, NODE_SDK_V3_SINCE, PYTHON_PACKAGE, SdkStore};

/// How long one package manager run may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Which SDKs to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkLanguage {
    Python,
    Node,
}

impl SdkLanguage {
    /// `python`, `node` or `all`.
    pub fn parse_set(s: &str) -> Result<Vec<Self>, String> {
        match s {
            "python" => Ok(vec![Self::Python]),
            "node" | "nodejs" => Ok(vec![Self::Node]),
            "all" => Ok(vec![Self::Python, Self::Node]),
            other => Err(format!("install-sdk {other:?}: say python, node or all")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Node => "node",
        }
    }
}

/// What an installation reports while it runs.
#[derive(Debug, Clone)]
pub enum InstallProgress {
    /// A step begins (one per Python version, one for Node.js).
    Step(String),
    /// A line pip or npm printed during `step`.
    Output { step: String, line: String },
}

/// An SDK now installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledSdk {
    pub language: SdkLanguage,
    /// The interpreter version it is for (`3.11`), or `18+` for Node.js.
    pub for_version: String,
    /// boto3's version, or `@aws-sdk/client-lambda`'s.
    pub version: String,
    pub dir: PathBuf,
}

/// What `install-sdk` did.
#[derive(Debug, Clone, Default)]
pub struct InstallReport {
    pub installed: Vec<InstalledSdk>,
    /// What could not be installed, and why.
    pub failed: Vec<(String, String)>,
}

pub type ProgressFn = Box<dyn Fn(InstallProgress) + Send + Sync>;

/// boto3 for each of `pythons` (one per version), with its own pip.
pub(crate) async fn python(
    store: &SdkStore,
    pythons: &[Interpreter],
    progress: &ProgressFn,
    report: &mut InstallReport,
) {
    if pythons.is_empty() {
        report.failed.push((
            "python".to_owned(),
            "no Python 3 is installed here: install one (see `lambdalet runtimes`), then run install-sdk again".to_owned(),
        ));
    }
    for py in pythons {
        let step = format!(
            "{PYTHON_PACKAGE} for Python {} (pip of {})",
            py.version,
            py.exe.display()
        );
        progress(InstallProgress::Step(step.clone()));
        let dest = store.python_path(&py.version);
        let partial = partial_of(&dest);
        let mut cmd = tokio::process::Command::new(&py.exe);
        cmd.args([
            "-E",
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            "--no-warn-script-location",
            "--target",
        ])
        .arg(&partial)
        .arg(PYTHON_PACKAGE);
        let result = match run(cmd, &step, progress).await {
            Err(e) if e.contains("No module named pip") => Err(format!(
                "Python {} at {} has no pip: install it (`{} -m ensurepip --upgrade`, or your distribution's python3-pip), then run install-sdk again",
                py.version,
                py.exe.display(),
                py.exe.display()
            )),
            other => other,
        };
        finish(
            result,
            &partial,
            &dest,
            RuntimeFamily::Python,
            SdkLanguage::Python,
            py.version.to_string(),
            &step,
            report,
        )
        .await;
    }
}

/// The v3 SDK packages with the npm of `node` (the newest Node.js 18 or later here).
pub(crate) async fn node(
    store: &SdkStore,
    node: Option<&Interpreter>,
    progress: &ProgressFn,
    report: &mut InstallReport,
) {
    let Some(node) = node.filter(|n| n.version.major >= NODE_SDK_V3_SINCE) else {
        report.failed.push((
            "node".to_owned(),
            format!("the AWS SDK for JavaScript v3 needs Node.js {NODE_SDK_V3_SINCE} or later, with npm, and none is installed here: install one (for example `nvm install 20`), then run install-sdk again"),
        ));
        return;
    };
    let bin = node.exe.parent().map(Path::to_owned).unwrap_or_default();
    let npm = if bin.join("npm").exists() {
        bin.join("npm")
    } else {
        PathBuf::from("npm")
    };
    let step = format!(
        "AWS SDK for JavaScript v3 for Node.js {NODE_SDK_V3_SINCE}+ (npm of Node.js {})",
        node.full_version
    );
    progress(InstallProgress::Step(step.clone()));
    let dest = store.node_path();
    let partial = partial_of(&dest);
    if let Err(e) = std::fs::create_dir_all(&partial) {
        report
            .failed
            .push((step, format!("cannot create {}: {e}", partial.display())));
        return;
    }
    let path = match std::env::var_os("PATH") {
        Some(p) => {
            let mut dirs = vec![bin.clone()];
            dirs.extend(std::env::split_paths(&p));
            std::env::join_paths(dirs).unwrap_or(p)
        }
        None => bin.clone().into_os_string(),
    };
    let mut cmd = tokio::process::Command::new(&npm);
    cmd.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--omit=dev",
        "--loglevel=http",
        "--prefix",
    ])
    .arg(&partial)
    .args(NODE_PACKAGES)
    .env("PATH", path);
    let result = run(cmd, &step, progress).await.map_err(|e| {
        if e.contains("No such file") && npm == Path::new("npm") {
            format!("npm was not found next to {} nor on PATH: install npm, then run install-sdk again ({e})", node.exe.display())
        } else {
            e
        }
    });
    finish(
        result,
        &partial,
        &dest,
        RuntimeFamily::Node,
        SdkLanguage::Node,
        format!("{NODE_SDK_V3_SINCE}+"),
        &step,
        report,
    )
    .await;
}

#[allow(
    clippy::too_many_arguments,
    reason = "one private step shared by both languages"
)]
async fn finish(
    result: Result<(), String>,
    partial: &Path,
    dest: &Path,
    family: RuntimeFamily,
    language: SdkLanguage,
    for_version: String,
    step: &str,
    report: &mut InstallReport,
) {
    let placed = match result {
        Ok(()) => {
            let (partial, dest) = (partial.to_owned(), dest.to_owned());
            tokio::task::spawn_blocking(move || place(&partial, &dest))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        }
        Err(e) => Err(e),
    };
    match placed {
        Ok(()) => {
            let version = SdkStore::version_in(family, dest).unwrap_or_else(|| "?".to_owned());
            tracing::info!(sdk = language.as_str(), for_version = %for_version, version = %version, dir = %dest.display(), "sdk.installed");
            report.installed.push(InstalledSdk {
                language,
                for_version,
                version,
                dir: dest.to_owned(),
            });
        }
        Err(e) => {
            let partial = partial.to_owned();
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(partial)).await;
            tracing::warn!(step, error = %e, "sdk.install_failed");
            report.failed.push((step.to_owned(), e));
        }
    }
}

/// A fresh directory beside `dest` for a new installation.
fn partial_of(dest: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    dest.with_file_name(format!(".{name}.partial-{}-{nanos}", std::process::id()))
}

/// Marks a finished installation, makes it readable by every sandbox user, and puts it in
/// place of the old one (which is then removed).
fn place(partial: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::write(partial.join(COMPLETE), b"")?;
    readable(partial)?;
    let old = dest
        .exists()
        .then(|| partial_of(dest).with_extension("old"));
    if let Some(old) = &old {
        std::fs::rename(dest, old)?;
    }
    std::fs::rename(partial, dest)?;
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

/// Read (and, for directories, search) permission for everyone, without following links.
fn readable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::symlink_metadata(&d)?.permissions().mode() & 0o7777;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode | 0o555))?;
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let mode = e.metadata()?.permissions().mode();
                std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode | 0o444))?;
            }
        }
    }
    Ok(())
}

/// Runs a package manager, passing each line it prints on as progress; fails with its last
/// lines when it fails.
async fn run(
    mut cmd: tokio::process::Command,
    step: &str,
    progress: &ProgressFn,
) -> Result<(), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run it: {e}"))?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("its output could not be read".to_owned());
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for pipe in [
        Box::new(out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box::new(err),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut tail: Vec<String> = Vec::new();
    let read = async {
        while let Some(line) = rx.recv().await {
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                continue;
            }
            tail.push(line.clone());
            if tail.len() > 12 {
                tail.remove(0);
            }
            progress(InstallProgress::Output {
                step: step.to_owned(),
                line,
            });
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(INSTALL_TIMEOUT, read).await {
        Err(_) => return Err(format!("it did not finish within {INSTALL_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("cannot wait for it: {e}")),
        Ok(Ok(s)) => s,
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("it failed ({status}): {}", tail.join(" | ")))
    }
}

/// One interpreter per Python version from 3.8 (the first found of each), for boto3.
pub(crate) fn one_per_version(found: Vec<Interpreter>) -> Vec<Interpreter> {
    let mut out: Vec<Interpreter> = Vec::new();
    for i in found {
        let supported = i.version.major == 3 && i.version.minor.is_some_and(|m| m >= 8);
        if supported && !out.iter().any(|o| o.version == i.version) {
            out.push(i);
        }
    }
    out.sort_by_key(|i| i.version);
    out
}

/// The newest Node.js found.
pub(crate) fn newest(found: Vec<Interpreter>) -> Option<Interpreter> {
    found.into_iter().max_by_key(|i| i.version)
}
