//! Failures of the store.

use lambdalet_core::{ErrorCode, HasErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored record could not be read ({0}); the database may be from a newer lambdalet")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot open the state database at {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

impl HasErrorCode for StoreError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Conflict(_) => ErrorCode::ResourceConflict,
            Self::NotFound(_) => ErrorCode::ResourceNotFound,
            Self::Sqlite(_) | Self::Corrupt(_) | Self::Open { .. } => ErrorCode::Service,
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}
