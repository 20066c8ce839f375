//! The effective lifecycle of a component: the steps the deployment engine runs, each
//! checked and with its defaults known (GG2 component-recipe-reference.md, "Lifecycle").

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

/// Keys of a lifecycle section, in canonical case.
pub(crate) const LIFECYCLE_KEYS: &[&str] = &[
    "Setenv",
    "Bootstrap",
    "Install",
    "Run",
    "Startup",
    "Shutdown",
    "Recover",
];

/// Keys of a step written as an object.
pub(crate) const STEP_KEYS: &[&str] =
    &["Script", "RequiresPrivilege", "Skipif", "Timeout", "Setenv"];

/// The steps of one component on one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// `Setenv`: variables for every step; a step's own `Setenv` overrides them.
    #[serde(rename = "Setenv", skip_serializing_if = "BTreeMap::is_empty")]
    pub setenv: BTreeMap<String, String>,
    #[serde(rename = "Bootstrap", skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<Step>,
    #[serde(rename = "Install", skip_serializing_if = "Option::is_none")]
    pub install: Option<Step>,
    #[serde(rename = "Run", skip_serializing_if = "Option::is_none")]
    pub run: Option<Step>,
    #[serde(rename = "Startup", skip_serializing_if = "Option::is_none")]
    pub startup: Option<Step>,
    #[serde(rename = "Shutdown", skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Step>,
    #[serde(rename = "Recover", skip_serializing_if = "Option::is_none")]
    pub recover: Option<Step>,
}

impl Lifecycle {
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

    fn step_mut(&mut self, kind: StepKind) -> &mut Option<Step> {
        match kind {
            StepKind::Bootstrap => &mut self.bootstrap,
            StepKind::Install => &mut self.install,
            StepKind::Run => &mut self.run,
            StepKind::Startup => &mut self.startup,
            StepKind::Shutdown => &mut self.shutdown,
            StepKind::Recover => &mut self.recover,
        }
    }
}

/// Which step a [`Step`] is; it decides the default timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    Bootstrap,
    Install,
    Run,
    Startup,
    Shutdown,
    Recover,
}

impl StepKind {
    pub const ALL: [StepKind; 6] = [
        Self::Bootstrap,
        Self::Install,
        Self::Run,
        Self::Startup,
        Self::Shutdown,
        Self::Recover,
    ];

    /// The recipe key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bootstrap => "Bootstrap",
            Self::Install => "Install",
            Self::Run => "Run",
            Self::Startup => "Startup",
            Self::Shutdown => "Shutdown",
            Self::Recover => "Recover",
        }
    }

    /// Seconds a step may take when the recipe gives no `Timeout`; `Run` has no limit.
    pub fn default_timeout(self) -> Option<u64> {
        match self {
            Self::Bootstrap | Self::Install | Self::Startup => Some(120),
            Self::Shutdown => Some(15),
            Self::Recover => Some(60),
            Self::Run => None,
        }
    }
}

/// One lifecycle step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `Script`, run with the shell; recipe variables not yet interpolated.
    #[serde(rename = "Script")]
    pub script: String,
    /// `RequiresPrivilege`: run as root instead of the component's user.
    #[serde(rename = "RequiresPrivilege")]
    pub requires_privilege: bool,
    #[serde(rename = "Skipif", skip_serializing_if = "Option::is_none")]
    pub skipif: Option<SkipIf>,
    /// `Timeout` as written; see [`Step::timeout`] for the value to enforce.
    #[serde(rename = "Timeout", skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The step's own `Setenv`, over the lifecycle's.
    #[serde(rename = "Setenv", skip_serializing_if = "BTreeMap::is_empty")]
    pub setenv: BTreeMap<String, String>,
}

impl Step {
    fn script(script: String) -> Self {
        Self {
            script,
            requires_privilege: false,
            skipif: None,
            timeout_seconds: None,
            setenv: BTreeMap::new(),
        }
    }

    /// The default timeout of a `kind` step, in seconds (`None`: no limit).
    pub fn default_timeout(kind: StepKind) -> Option<u64> {
        kind.default_timeout()
    }

    /// The timeout to enforce on this step when it runs as `kind`.
    pub fn timeout(&self, kind: StepKind) -> Option<u64> {
        self.timeout_seconds.or(kind.default_timeout())
    }
}

/// `Skipif`: skip the step when an executable is on `PATH` or a file exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SkipIf {
    OnPath(String),
    Exists(String),
}

impl SkipIf {
    /// `onpath <executable>` or `exists <file>`; the keyword in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let (word, rest) = text.trim().split_once(char::is_whitespace)?;
        let rest = rest.trim();
        if rest.is_empty() {
            return None;
        }
        match word.to_ascii_lowercase().as_str() {
            "onpath" => Some(Self::OnPath(rest.to_string())),
            "exists" => Some(Self::Exists(rest.to_string())),
            _ => None,
        }
    }
}

impl fmt::Display for SkipIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OnPath(exe) => write!(f, "onpath {exe}"),
            Self::Exists(file) => write!(f, "exists {file}"),
        }
    }
}

impl Serialize for SkipIf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

mod parse;

pub(crate) use parse::parse_lifecycle;

#[cfg(test)]
mod tests;
