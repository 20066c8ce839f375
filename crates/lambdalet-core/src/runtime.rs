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

    /// Host executables to try, in order, for this runtime's interpreter (empty for `provided`).
    pub fn interpreter_candidates(&self) -> Vec<String> {
        match self.family {
            RuntimeFamily::Python => vec![self.id.clone(), "python3".to_owned()],
            RuntimeFamily::Node => vec!["node".to_owned(), "nodejs".to_owned()],
            RuntimeFamily::Provided => Vec::new(),
        }
    }

    /// What to tell a user whose host lacks the interpreter.
    pub fn install_hint(&self) -> &'static str {
        match self.family {
            RuntimeFamily::Python => "install Python 3 (for example `apt-get install python3`)",
            RuntimeFamily::Node => "install Node.js (for example `apt-get install nodejs`)",
            RuntimeFamily::Provided => {
                "include an executable file named `bootstrap` at the top of the zip"
            }
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
    fn families_and_candidates() {
        let py = Runtime::parse("python3.11").expect("supported");
        assert_eq!(py.family(), RuntimeFamily::Python);
        assert_eq!(py.interpreter_candidates(), ["python3.11", "python3"]);
        assert_eq!(py.execution_env().as_deref(), Some("AWS_Lambda_python3.11"));
        let p = Runtime::parse("provided.al2023").expect("supported");
        assert_eq!(p.family(), RuntimeFamily::Provided);
        assert!(p.execution_env().is_none());
        let err = Runtime::parse("java21").expect_err("unsupported");
        assert!(err.message.contains("python3.11"), "{}", err.message);
    }
}
