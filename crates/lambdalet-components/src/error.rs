//! What can go wrong in a deployment, worded for the person who reads its status.

use std::path::Path;

/// A deployment's or a component operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The request itself is wrong (a bad recipe, an unknown component): nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// No such deployment or component.
    #[error("{0}")]
    NotFound(String),
    /// An artifact is missing, does not match its digest or cannot be unpacked.
    #[error("{0}")]
    Artifact(String),
    /// A component could not be installed or started.
    #[error("{0}")]
    Component(String),
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the store failed: {0}")]
    Store(#[from] lambdalet_store::StoreError),
}

impl DeployError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.display().to_string(),
            source,
        }
    }
}
