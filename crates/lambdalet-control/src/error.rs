//! Control-plane failures; each keeps the Lambda error code of its source.

use lambdalet_core::{ErrorCode, HasErrorCode, LambdaError};
use lambdalet_invoker::InvokeError;
use lambdalet_package::PackageError;
use lambdalet_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Lambda(#[from] LambdaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    #[error("an internal task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl HasErrorCode for ControlError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Lambda(e) => e.error_code(),
            Self::Store(e) => e.error_code(),
            Self::Package(e) => e.error_code(),
            Self::Invoke(e) => match e.error_code() {
                // At deploy time a missing interpreter is the caller's configuration problem.
                ErrorCode::InvalidRuntime => ErrorCode::InvalidParameterValue,
                c => c,
            },
            Self::Join(_) => ErrorCode::Service,
        }
    }
}
