//! Why an invocation could not be run at all. (A function that fails is not an error here: it
//! is a normal result with `function_error` set, as in the Invoke API.)

use lambdalet_core::{ErrorCode, HasErrorCode};
use lambdalet_sandbox::SandboxError;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No interpreter of the runtime's version (nor, with `--runtime-fallback nearest`, of a
    /// newer one) is installed; the message says what to install.
    #[error("{message}")]
    MissingInterpreter { runtime: String, message: String },
    #[error("cannot create a sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("cannot start the Runtime API listener for a sandbox: {0}")]
    RuntimeApi(std::io::Error),
    #[error(
        "lambdalet is shutting down and takes no new invocations; retry against the restarted daemon"
    )]
    ShuttingDown,
    #[error("{message}")]
    Throttled {
        reason: &'static str,
        message: String,
    },
    /// Something of the daemon's is already being done (an SDK installation).
    #[error("{0}")]
    Busy(String),
    #[error("the function is in state Failed: {0}")]
    FunctionFailed(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Internal(String),
}

impl HasErrorCode for InvokeError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::MissingInterpreter { .. } => ErrorCode::InvalidRuntime,
            Self::Sandbox(_) | Self::RuntimeApi(_) | Self::ShuttingDown | Self::Internal(_) => {
                ErrorCode::Service
            }
            Self::Throttled { .. } => ErrorCode::TooManyRequests,
            Self::FunctionFailed(_) | Self::Busy(_) => ErrorCode::ResourceConflict,
            Self::Gone(_) => ErrorCode::ResourceNotFound,
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Self::Throttled { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
