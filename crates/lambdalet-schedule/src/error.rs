//! What the Scheduler API answers when it refuses: EventBridge Scheduler's error types.

/// A refused or failed schedule operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The request is not valid (`ValidationException`, 400).
    #[error("{0}")]
    Validation(String),
    /// It already exists (`ConflictException`, 409).
    #[error("{0}")]
    Conflict(String),
    /// The schedule or group does not exist (`ResourceNotFoundException`, 404).
    #[error("{0}")]
    NotFound(String),
    /// lambdalet failed (`InternalServerException`, 500).
    #[error("{0}")]
    Internal(String),
}

impl ScheduleError {
    /// The name the Scheduler API sends in `x-amzn-ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::Conflict(_) => "ConflictException",
            Self::NotFound(_) => "ResourceNotFoundException",
            Self::Internal(_) => "InternalServerException",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::Validation(_) => 400,
            Self::Conflict(_) => 409,
            Self::NotFound(_) => 404,
            Self::Internal(_) => 500,
        }
    }
}

impl From<lambdalet_store::StoreError> for ScheduleError {
    fn from(e: lambdalet_store::StoreError) -> Self {
        match e {
            lambdalet_store::StoreError::Conflict(m) => Self::Conflict(m),
            lambdalet_store::StoreError::NotFound(m) => Self::NotFound(m),
            e => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::expr::ExprError> for ScheduleError {
    fn from(e: crate::expr::ExprError) -> Self {
        Self::Validation(e.0)
    }
}
