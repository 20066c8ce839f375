//! Where a runtime's interpreter is looked for: the daemon's `PATH`, then the places version
//! managers install to (pyenv, asdf, mise, uv, nvm) whether or not they are selected, then
//! `/usr/local/bin`, `/usr/bin`, `/opt/python*/bin` and `/opt/node*/bin`; or only the
//! directories of `serve --interpreter-path`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use lambdalet_core::{LanguageVersion, RuntimeFamily};

/// Which directories are searched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InterpreterSearch {
    /// `PATH`, the version managers' directories and the usual system ones.
    #[default]
    Default,
    /// Only these directories, in this order (`--interpreter-path`).
    Only(Vec<PathBuf>),
}

/// An executable that may be an interpreter, as found (a shim, a symbolic link, a wrapper or
/// the interpreter itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub path: PathBuf,
    /// The version its name promises (`python3.12`), none for `python3`, `node`.
    pub named: Option<LanguageVersion>,
}

impl InterpreterSearch {
    /// What `lambdalet runtimes` and the refusals say about where lambdalet looks.
    pub fn describe(&self) -> String {
        match self {
            Self::Default => "PATH, pyenv, asdf, mise, uv and nvm installations, /usr/local/bin, /usr/bin, /opt/python*/bin and /opt/node*/bin".to_owned(),
            Self::Only(dirs) => format!(
                "only {} (--interpreter-path)",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            ),
        }
    }

    /// The directories to search for `family`'s interpreters, in order, each once.
    pub(crate) fn dirs(&self, family: RuntimeFamily) -> Vec<PathBuf> {
        let all = match self {
            Self::Only(dirs) => dirs.clone(),
            Self::Default => default_dirs(family),
        };
        let mut seen = HashSet::new();
        all.into_iter()
            .filter(|d| d.is_absolute())
            .filter(|d| seen.insert(d.canonicalize().unwrap_or_else(|_| d.clone())))
            .collect()
    }

    /// Every executable in the search directories whose name is one of `family`'s
    /// interpreters, in search order.
    pub(crate) fn candidates(&self, family: RuntimeFamily) -> Vec<Candidate> {
        let mut out = Vec::new();
        for dir in self.dirs(family) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut here: Vec<Candidate> = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let named = interpreter_name(family, &name)?;
                    let path = dir.join(&name);
                    is_executable(&path).then_some(Candidate { path, named })
                })
                .collect();
            // Within a directory: the versioned names first, newest first, then python3, python.
            // (`node` before `nodejs`).
            let rank = |c: &Candidate| {
                let name = c.path.file_name().unwrap_or_default();
                u8::from(name == "python" || name == "nodejs")
            };
            here.sort_by(|a, b| b.named.cmp(&a.named).then_with(|| rank(a).cmp(&rank(b))));
            out.extend(here);
        }
        out
    }
}

/// Whether `name` is one of `family`'s interpreter names, and the version it promises.
pub(crate) fn interpreter_name(
    family: RuntimeFamily,
    name: &str,
) -> Option<Option<LanguageVersion>> {
    match family {
        RuntimeFamily::Python => {
            if name == "python3" || name == "python" {
                return Some(None);
            }
            let minor = name.strip_prefix("python3.")?;
            if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(Some(LanguageVersion {
                major: 3,
                minor: Some(minor.parse().ok()?),
            }))
        }
        RuntimeFamily::Node => (name == "node" || name == "nodejs").then_some(None),
        RuntimeFamily::Provided => None,
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn default_dirs(family: RuntimeFamily) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let under_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
    let env_or = |var: &str, rel: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| under_home(rel))
    };
    let asdf = env_or("ASDF_DATA_DIR", ".asdf").map(|d| d.join("installs"));
    let mise = env_or("MISE_DATA_DIR", ".local/share/mise").map(|d| d.join("installs"));
    let roots: Vec<PathBuf> = match family {
        RuntimeFamily::Python => [
            env_or("PYENV_ROOT", ".pyenv").map(|d| d.join("versions")),
            asdf.map(|d| d.join("python")),
            mise.map(|d| d.join("python")),
            env_or("UV_PYTHON_INSTALL_DIR", ".local/share/uv/python"),
        ]
        .into_iter()
        .flatten()
        .collect(),
        RuntimeFamily::Node => [
            env_or("NVM_DIR", ".nvm").map(|d| d.join("versions/node")),
            asdf.map(|d| d.join("nodejs")),
            mise.map(|d| d.join("node")),
        ]
        .into_iter()
        .flatten()
        .collect(),
        RuntimeFamily::Provided => Vec::new(),
    };
    for root in roots {
        dirs.extend(installations(&root, "").into_iter().map(|d| d.join("bin")));
    }
    dirs.push("/usr/local/bin".into());
    dirs.push("/usr/bin".into());
    let opt_prefix = match family {
        RuntimeFamily::Node => "node",
        _ => "python",
    };
    dirs.extend(
        installations(Path::new("/opt"), opt_prefix)
            .into_iter()
            .map(|d| d.join("bin")),
    );
    dirs
}

/// The subdirectories of `root` whose names start with `prefix`, newest version first.
fn installations(root: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.starts_with(prefix)
                .then(|| (version_key(&name), e.path()))
        })
        .filter(|(_, p)| p.is_dir())
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The numbers in a directory name (`cpython-3.12.1-linux` → [3, 12, 1]), for ordering.
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_promise_versions() {
        let py = |n| interpreter_name(RuntimeFamily::Python, n);
        assert_eq!(
            py("python3.12"),
            Some(Some(LanguageVersion {
                major: 3,
                minor: Some(12)
            }))
        );
        assert_eq!(py("python3"), Some(None));
        assert_eq!(py("python"), Some(None));
        assert_eq!(py("python3.12-config"), None);
        assert_eq!(py("python3."), None);
        assert_eq!(py("python2.7"), None);
        assert_eq!(interpreter_name(RuntimeFamily::Node, "node"), Some(None));
        assert_eq!(interpreter_name(RuntimeFamily::Node, "node-gyp"), None);
    }

    #[test]
    fn installations_come_newest_first() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for d in ["3.9.18", "3.12.1", "3.10.13", "python-stray-file"] {
            std::fs::create_dir(tmp.path().join(d)).expect("mkdir");
        }
        let names: Vec<String> = installations(tmp.path(), "3")
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["3.12.1", "3.10.13", "3.9.18"]);
    }

    #[test]
    fn candidates_are_executables_with_interpreter_names() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let make = |name: &str, mode: u32| {
            let p = tmp.path().join(name);
            std::fs::write(&p, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        make("python", 0o755);
        make("python3", 0o755);
        make("python3.11", 0o755);
        make("python3.13", 0o755);
        make("python3.12", 0o644);
        make("pip3", 0o755);
        let search = InterpreterSearch::Only(vec![tmp.path().to_owned(), "relative".into()]);
        let found: Vec<String> = search
            .candidates(RuntimeFamily::Python)
            .iter()
            .map(|c| {
                c.path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(found, ["python3.13", "python3.11", "python3", "python"]);
        assert!(search.candidates(RuntimeFamily::Node).is_empty());
    }
}
