//! Runtime identifiers (`python3.11`, `nodejs20.x`, `provided.al2023`) and what each needs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;

/// Every runtime identifier lambdalet accepts, in the order `--help` and errors list them.
pub const SUPPORTED_RUNTIMES: &[&str] = &[
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// How a runtime is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuntimeFamily {
    /// lambdalet's Python bootstrap on the host's Python interpreter.
    Python,
    /// lambdalet's Node.js bootstrap on the host's `node`.
    Node,
    /// The function's own `bootstrap` executable (custom runtime, `lambda_runtime`, awslambdaric, ...).
    Provided,
}

/// A language version as a runtime id names it (Python 3.12: major 3, minor 12; Node.js 22:
/// major 22, no minor) or as an interpreter reports it (then with its minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LanguageVersion {
    pub major: u32,
    pub minor: Option<u32>,
}

impl LanguageVersion {
    /// Whether an interpreter of version `found` serves a runtime that names `self`: the same
    /// major and, when `self` names one, the same minor.
    pub fn served_by(&self, found: &LanguageVersion) -> bool {
        self.major == found.major && self.minor.is_none_or(|m| found.minor == Some(m))
    }

    /// Whether `found` is a newer version of the same language line (same Python 3, a later
    /// minor; a later Node.js major).
    pub fn older_than(&self, found: &LanguageVersion) -> bool {
        match self.minor {
            Some(m) => found.major == self.major && found.minor.is_some_and(|f| f > m),
            None => found.major > self.major,
        }
    }
}

impl fmt::Display for LanguageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.minor {
            Some(m) => write!(f, "{}.{m}", self.major),
            None => write!(f, "{}", self.major),
        }
    }
}

/// What runs a function whose runtime's interpreter this host lacks (`serve
/// --runtime-fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RuntimeFallback {
    /// Nothing: the deploy is refused, an invocation fails, naming what to install.
    #[default]
    None,
    /// The nearest newer installed version of the same language, with a notice.
    Nearest,
}

impl RuntimeFallback {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "nearest" => Ok(Self::Nearest),
            other => Err(format!(
                "--runtime-fallback {other:?} is not valid: use none or nearest"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Nearest => "nearest",
        }
    }
}

/// A validated runtime identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Runtime {
    id: String,
    family: RuntimeFamily,
}

impl Runtime {
    pub fn parse(id: &str) -> Result<Self, LambdaError> {
        if !SUPPORTED_RUNTIMES.contains(&id) {
            return Err(LambdaError::invalid(format!(
                "runtime {id:?} is not supported; use one of: {}",
                SUPPORTED_RUNTIMES.join(", ")
            )));
        }
        let family = if id.starts_with("python") {
            RuntimeFamily::Python
        } else if id.starts_with("nodejs") {
            RuntimeFamily::Node
        } else {
            RuntimeFamily::Provided
        };
        Ok(Self {
            id: id.to_owned(),
            family,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn family(&self) -> RuntimeFamily {
        self.family
    }

    /// The runtime id an interpreter of `version` would serve in this runtime's language
    /// (`python3.13`, `nodejs20.x`), supported or not.
    pub fn id_for(&self, version: &LanguageVersion) -> String {
        match self.family {
            RuntimeFamily::Python => format!(
                "python{}.{}",
                version.major,
                version.minor.unwrap_or_default()
            ),
            RuntimeFamily::Node => format!("nodejs{}.x", version.major),
            RuntimeFamily::Provided => self.id.clone(),
        }
    }

    /// The language version this runtime names: `python3.12` → 3.12, `nodejs22.x` → 22
    /// (`None` for `provided`).
    pub fn language_version(&self) -> Option<LanguageVersion> {
        match self.family {
            RuntimeFamily::Python => {
                let (major, minor) = self.id.strip_prefix("python")?.split_once('.')?;
                Some(LanguageVersion {
                    major: major.parse().ok()?,
                    minor: Some(minor.parse().ok()?),
                })
            }
            RuntimeFamily::Node => Some(LanguageVersion {
                major: self
                    .id
                    .strip_prefix("nodejs")?
                    .strip_suffix(".x")?
                    .parse()
                    .ok()?,
                minor: None,
            }),
            RuntimeFamily::Provided => None,
        }
    }

    /// What to tell a user whose host lacks this runtime's interpreter.
    pub fn install_hint(&self) -> String {
        match (self.family, self.language_version()) {
            (RuntimeFamily::Python, Some(v)) => format!(
                "install Python {v} (for example `pyenv install {v}`, `uv python install {v}` or your distribution's python{v} package)"
            ),
            (RuntimeFamily::Node, Some(v)) => format!(
                "install Node.js {v} (for example `nvm install {v}`, or from https://nodejs.org)"
            ),
            _ => "include an executable file named `bootstrap` at the top of the zip".to_owned(),
        }
    }

    /// `AWS_EXECUTION_ENV`; custom runtimes have none.
    pub fn execution_env(&self) -> Option<String> {
        match self.family {
            RuntimeFamily::Provided => None,
            _ => Some(format!("AWS_Lambda_{}", self.id)),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl TryFrom<String> for Runtime {
    type Error = LambdaError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Runtime> for String {
    fn from(r: Runtime) -> String {
        r.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_versions() {
        let py = Runtime::parse("python3.11").expect("supported");
        assert_eq!(py.family(), RuntimeFamily::Python);
        let v = py.language_version().expect("a version");
        assert_eq!(v.to_string(), "3.11");
        assert!(py.install_hint().contains("install Python 3.11"));
        let node = Runtime::parse("nodejs22.x").expect("supported");
        let n = node.language_version().expect("a version");
        assert_eq!((n.major, n.minor), (22, None));
        assert!(node.install_hint().contains("install Node.js 22"));
        assert_eq!(
            node.id_for(&LanguageVersion {
                major: 20,
                minor: Some(3)
            }),
            "nodejs20.x"
        );
        assert_eq!(
            py.id_for(&LanguageVersion {
                major: 3,
                minor: Some(13)
            }),
            "python3.13"
        );
        assert_eq!(py.execution_env().as_deref(), Some("AWS_Lambda_python3.11"));
        let p = Runtime::parse("provided.al2023").expect("supported");
        assert_eq!(p.family(), RuntimeFamily::Provided);
        assert!(p.execution_env().is_none());
        let err = Runtime::parse("java21").expect_err("unsupported");
        assert!(err.message.contains("python3.11"), "{}", err.message);
    }

    #[test]
    fn versions_match_exactly_and_order_within_a_language() {
        let v = |major, minor| LanguageVersion { major, minor };
        assert!(v(3, Some(12)).served_by(&v(3, Some(12))));
        assert!(!v(3, Some(12)).served_by(&v(3, Some(11))));
        assert!(!v(3, Some(12)).served_by(&v(3, Some(13))));
        assert!(v(22, None).served_by(&v(22, Some(4))));
        assert!(!v(22, None).served_by(&v(20, Some(20))));
        assert!(v(3, Some(12)).older_than(&v(3, Some(13))));
        assert!(!v(3, Some(12)).older_than(&v(3, Some(11))));
        assert!(!v(3, Some(12)).older_than(&v(2, Some(17))));
        assert!(v(18, None).older_than(&v(20, Some(1))));
        assert!(!v(22, None).older_than(&v(20, Some(1))));
        assert_eq!(
            RuntimeFallback::parse("nearest"),
            Ok(RuntimeFallback::Nearest)
        );
        assert!(RuntimeFallback::parse("newest").is_err());
    }
}
