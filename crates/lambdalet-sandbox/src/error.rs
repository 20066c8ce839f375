//! Failures to create or control a sandbox.

use lambdalet_core::{ErrorCode, HasErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot set up the sandbox: {0}")]
    Setup(String),
}

impl HasErrorCode for SandboxError {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::Service
    }
}
