//! What the runner is given: a component version's lifecycle, with every recipe variable
//! already replaced, and where its steps run and write.
//!
//! Also the two rules that depend only on the plan: a step's environment
//! ([`Plan::step_env`]) and whether its `Skipif` holds ([`SkipIf::holds`]).

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One lifecycle step of a recipe (`Script`, `Timeout`, `Skipif`, `Setenv`, `RequiresPrivilege`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Run as `/bin/sh -c <script>`.
    pub script: String,
    /// `None`: the step's default ([`StepKind::default_timeout`], see [`Step::timeout_as`]).
    pub timeout: Option<Duration>,
    pub skipif: Option<SkipIf>,
    /// This step's own `Setenv`; wins over every other source.
    pub setenv: BTreeMap<String, String>,
    /// Run as the daemon's own user instead of [`Plan::user`].
    pub requires_privilege: bool,
}

impl Step {
    /// A step with only a script, every other field at its default.
    pub fn script(script: impl Into<String>) -> Self {
        Step {
            script: script.into(),
            ..Step::default()
        }
    }
}

/// A step's `Skipif`: the step is skipped (and counts as a success) when it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipIf {
    /// `onpath <exe>`: an executable of that name is on the step's `PATH` (a name with a
    /// `/` is checked as a path).
    OnPath(String),
    /// `exists <file>`: the file exists (a relative path is taken from the work dir).
    Exists(PathBuf),
}

impl SkipIf {
    /// Whether the condition holds for a step with this `PATH` and work dir.
    pub fn holds(&self, path_var: Option<&str>, work_dir: &Path) -> bool {
        match self {
            SkipIf::OnPath(name) if name.contains('/') => is_executable(&work_dir.join(name)),
            SkipIf::OnPath(name) => path_var
                .unwrap_or("")
                .split(':')
                .filter(|dir| !dir.is_empty())
                .any(|dir| is_executable(&Path::new(dir).join(name))),
            SkipIf::Exists(file) => work_dir.join(file).exists(),
        }
    }
}

impl fmt::Display for SkipIf {
    /// As written in a recipe: `onpath <exe>`, `exists <file>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipIf::OnPath(name) => write!(f, "onpath {name}"),
            SkipIf::Exists(file) => write!(f, "exists {}", file.display()),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A component version's lifecycle, ready to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    pub version: String,
    /// The lifecycle's `Setenv`, for every step.
    pub setenv: BTreeMap<String, String>,
    /// What lambdalet gives every step (`SVCUID`, `AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH`, ...).
    pub env: BTreeMap<String, String>,
    pub bootstrap: Option<Step>,
    pub install: Option<Step>,
    pub run: Option<Step>,
    pub startup: Option<Step>,
    pub shutdown: Option<Step>,
    pub recover: Option<Step>,
    /// The working directory of every step; created (mode 0700) if missing.
    pub work_dir: PathBuf,
    /// Every step's output and the lifecycle's own lines, appended.
    pub log_file: PathBuf,
    /// The uid and gid of steps that do not require privilege; `None`: the daemon's own.
    pub user: Option<(u32, u32)>,
}

/// `PATH` when no source sets one.
pub const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Plan {
    /// The step of that kind, if the recipe has one.
    pub fn step(&self, kind: StepKind) -> Option<&Step> {
        match kind {
            StepKind::Bootstrap => self.bootstrap.as_ref(),
            StepKind::Install => self.install.as_ref(),
            StepKind::Run => self.run.as_ref(),
            StepKind::Startup => self.startup.as_ref(),
            StepKind::Shutdown => self.shutdown.as_ref(),
            StepKind::Recover => self.recover.as_ref(),
        }
    }

    /// The whole environment of `step`; nothing else is passed, in particular nothing of
    /// the daemon's own environment (it may hold credentials).
    ///
    /// Later sources win: a base (`PATH` = [`BASE_PATH`], `HOME` = the work dir,
    /// `LANG=C.UTF-8`), then [`Plan::env`], then the lifecycle's [`Plan::setenv`], then the
    /// step's own [`Step::setenv`]. A recipe can thus override what lambdalet sets, as
    /// Greengrass lets a recipe's `Setenv` override the nucleus's variables.
    pub fn step_env(&self, step: &Step) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([
            ("PATH".to_owned(), BASE_PATH.to_owned()),
            (
                "HOME".to_owned(),
                self.work_dir.to_string_lossy().into_owned(),
            ),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ]);
        for source in [&self.env, &self.setenv, &step.setenv] {
            env.extend(source.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        env
    }
}

/// The six lifecycle steps (the recipe's own kinds, with their default timeouts).
pub use lambdalet_package::recipe::StepKind;

/// A step kind's name in messages and in the log file: `install`, `run`, ...
pub fn step_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Bootstrap => "bootstrap",
        StepKind::Install => "install",
        StepKind::Run => "run",
        StepKind::Startup => "startup",
        StepKind::Shutdown => "shutdown",
        StepKind::Recover => "recover",
    }
}

impl Step {
    /// The timeout of this step when it runs as `kind`: its own, else the kind's default
    /// (`None`: unlimited).
    pub fn timeout_as(&self, kind: StepKind) -> Option<Duration> {
        self.timeout
            .or(kind.default_timeout().map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn step_setenv_beats_lifecycle_setenv_beats_lambdalet_env_beats_base() {
        let plan = Plan {
            work_dir: PathBuf::from("/w"),
            env: map(&[("A", "env"), ("B", "env"), ("C", "env"), ("PATH", "/env")]),
            setenv: map(&[("A", "lifecycle"), ("B", "lifecycle")]),
            ..Plan::default()
        };
        let step = Step {
            setenv: map(&[("A", "step")]),
            ..Step::script("true")
        };
        let env = plan.step_env(&step);
        assert_eq!(
            env,
            map(&[
                ("A", "step"),
                ("B", "lifecycle"),
                ("C", "env"),
                ("HOME", "/w"),
                ("LANG", "C.UTF-8"),
                ("PATH", "/env"),
            ])
        );
    }

    #[test]
    fn default_timeouts_follow_the_recipe_reference() {
        let secs = |k: StepKind| Step::default().timeout_as(k).map(|d| d.as_secs());
        assert_eq!(secs(StepKind::Bootstrap), Some(120));
        assert_eq!(secs(StepKind::Install), Some(120));
        assert_eq!(secs(StepKind::Startup), Some(120));
        assert_eq!(secs(StepKind::Shutdown), Some(15));
        assert_eq!(secs(StepKind::Recover), Some(60));
        assert_eq!(secs(StepKind::Run), None);
        let step = Step {
            timeout: Some(Duration::from_secs(7)),
            ..Step::default()
        };
        assert_eq!(step.timeout_as(StepKind::Run), Some(Duration::from_secs(7)));
    }

    #[test]
    fn skipif_looks_on_the_given_path_and_in_the_work_dir() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(bin.join("data"), "not executable").unwrap();
        let path = format!("/nonexistent:{}", bin.display());

        let on_path = |name: &str| SkipIf::OnPath(name.into()).holds(Some(&path), dir.path());
        assert!(on_path("tool"));
        assert!(!on_path("data"));
        assert!(!on_path("missing"));
        assert!(on_path("bin/tool"));
        assert!(!SkipIf::OnPath("tool".into()).holds(Some("/usr/bin"), dir.path()));

        assert!(SkipIf::Exists("bin/data".into()).holds(None, dir.path()));
        assert!(SkipIf::Exists(bin.join("tool")).holds(None, Path::new("/")));
        assert!(!SkipIf::Exists("nothing".into()).holds(None, dir.path()));
    }
}
