//! Running a candidate once to learn what it really is: its exact version, the executable
//! behind it (a pyenv shim or a wrapper script execs the real one) and its installation.
//! Answers are kept per file, until the file changes.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use lambdalet_core::{LanguageVersion, RuntimeFamily};
use parking_lot::Mutex;

/// How long a candidate may take to say what it is.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// What a Python prints: its version, `sys.executable`, `sys.base_prefix`, `sys.prefix`.
const PYTHON_PROBE: &str = "import sys\nprint('%d.%d.%d' % tuple(sys.version_info[:3]))\nprint(sys.executable)\nprint(getattr(sys, 'base_prefix', sys.prefix))\nprint(sys.prefix)\n";
/// What Node.js prints: its version and its executable.
const NODE_PROBE: &str = "console.log(process.versions.node); console.log(process.execPath)";

/// An interpreter that started and said what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// What a sandbox runs.
    pub exe: PathBuf,
    /// Its installation: Python's `sys.base_prefix` (and `sys.prefix` in a virtual
    /// environment), Node.js's directory above `bin/` (a container shows them read-only).
    pub homes: Vec<PathBuf>,
    /// Its version, with the minor (3.12, 20.20).
    pub version: LanguageVersion,
    /// Its full version as it prints it (`3.12.1`, `20.20.2`).
    pub full_version: String,
    /// The file it was found as (a shim, a link, a wrapper, or `exe` itself).
    pub found_as: PathBuf,
}

/// Identity of a file's content: when it changes, the candidate is run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_ns: i64,
}

fn file_id(path: &Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    Some(FileId {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: m.mtime(),
        mtime_ns: m.mtime_nsec(),
    })
}

type Answer = Result<Interpreter, String>;

/// What each candidate answered, by path.
#[derive(Default)]
pub(crate) struct ProbeCache {
    answers: Mutex<HashMap<PathBuf, (FileId, Answer)>>,
}

impl ProbeCache {
    /// What `path` is, running it unless it answered before and has not changed since.
    pub(crate) async fn probe(self: &Arc<Self>, family: RuntimeFamily, path: &Path) -> Answer {
        let Some(id) = file_id(path) else {
            return Err("it no longer exists".to_owned());
        };
        if let Some((seen, answer)) = self.answers.lock().get(path).cloned()
            && seen == id
            && answer.as_ref().map_or(true, |i| i.exe.exists())
        {
            return answer;
        }
        let answer = self.identify(family, path).await;
        if let Err(e) = &answer {
            tracing::debug!(candidate = %path.display(), error = %e, "runtime.candidate_skipped");
        }
        self.answers
            .lock()
            .insert(path.to_owned(), (id, answer.clone()));
        answer
    }

    /// Runs `path`; when it reports another executable (a shim, a wrapper that execs the real
    /// interpreter), that one is run too and used when it works by itself.
    async fn identify(&self, family: RuntimeFamily, path: &Path) -> Answer {
        let mut found = run(family, path).await?;
        let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
        if real(&found.exe) != real(path) {
            match run(family, &found.exe).await {
                Ok(direct) if direct.full_version == found.full_version => {
                    found.exe = direct.exe;
                    for h in direct.homes {
                        if !found.homes.contains(&h) {
                            found.homes.push(h);
                        }
                    }
                }
                _ => found.exe = path.to_owned(),
            }
        }
        found.found_as = path.to_owned();
        Ok(found)
    }
}

/// Runs a candidate with the probe program of its language and reads its answer.
async fn run(family: RuntimeFamily, path: &Path) -> Answer {
    let args: &[&str] = match family {
        RuntimeFamily::Python => &["-E", "-c", PYTHON_PROBE],
        RuntimeFamily::Node => &["-e", NODE_PROBE],
        RuntimeFamily::Provided => return Err("a provided runtime has no interpreter".to_owned()),
    };
    let child = tokio::process::Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(PROBE_TIMEOUT, child).await {
        Err(_) => return Err(format!("it did not answer within {PROBE_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("it does not start: {e}")),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("it exited with {}: {}", out.status, first.trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse(family, path, &text).ok_or_else(|| {
        format!(
            "it answered something other than an interpreter would: {:?}",
            text.chars().take(200).collect::<String>()
        )
    })
}

/// Reads a probe's output.
pub(crate) fn parse(family: RuntimeFamily, path: &Path, text: &str) -> Option<Interpreter> {
    let mut lines = text.lines().map(str::trim);
    let full_version = lines.next()?.to_owned();
    let mut nums = full_version.split('.').map(|n| n.parse::<u32>());
    let version = LanguageVersion {
        major: nums.next()?.ok()?,
        minor: Some(nums.next()?.ok()?),
    };
    let reported = lines
        .next()
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from);
    let mut exe = reported.unwrap_or_else(|| path.to_owned());
    let mut homes: Vec<PathBuf> = Vec::new();
    if family == RuntimeFamily::Python {
        let base = lines
            .next()
            .filter(|l| l.starts_with('/'))
            .map(PathBuf::from);
        let prefix = lines
            .next()
            .filter(|l| l.starts_with('/'))
            .map(PathBuf::from);
        let venv = prefix.is_some() && prefix != base;
        // A virtual environment's python is a link that makes it one: run it as it is.
        // Anything else runs as the file behind its links.
        if !venv {
            exe = exe.canonicalize().unwrap_or(exe);
        }
        homes.extend(base);
        homes.extend(prefix);
    }
    if homes.is_empty() {
        homes.extend(home_of(&exe));
    }
    homes.dedup();
    Some(Interpreter {
        exe,
        homes,
        version,
        full_version,
        found_as: path.to_owned(),
    })
}

/// The directory above an executable's `bin/`.
fn home_of(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent()?;
    (bin.file_name()? == "bin").then(|| bin.parent().map(Path::to_owned))?
}
