//! Error codes as the Lambda APIs name them, and the HTTP status each one travels with.
//!
//! Libraries keep their own `thiserror` enums (`DeployError`, `InvokeError`, ...) and
//! implement [`HasErrorCode`] so the API layer can put any of them on the wire in one place.

use std::fmt;

/// The error names of the Lambda Invoke and management APIs that lambdalet produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    UnsupportedMediaType,
    ResourceNotFound,
    ResourceConflict,
    ResourceInUse,
    PreconditionFailed,
    TooManyRequests,
    CodeStorageExceeded,
    InvalidZipFile,
    InvalidRuntime,
    ResourceNotReady,
    ProvisionedConcurrencyConfigNotFound,
    /// Authenticated, but not allowed to do this.
    AccessDenied,
    /// A function's resource-based policy would grow past 20 KB.
    PolicyLengthExceeded,
    /// A Lambda API operation lambdalet knows by name but does not serve (lambdalet's own
    /// name: AWS serves every operation of its API).
    UnsupportedOperation,
    /// A path under a Lambda API version prefix that names no operation.
    UnknownOperation,
    Service,
}

impl ErrorCode {
    /// The name AWS uses, as sent in `x-amzn-ErrorType` and the error body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameterValue => "InvalidParameterValueException",
            Self::InvalidRequestContent => "InvalidRequestContentException",
            Self::RequestTooLarge => "RequestTooLargeException",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::ResourceConflict => "ResourceConflictException",
            Self::ResourceInUse => "ResourceInUseException",
            Self::PreconditionFailed => "PreconditionFailedException",
            Self::TooManyRequests => "TooManyRequestsException",
            Self::CodeStorageExceeded => "CodeStorageExceededException",
            Self::InvalidZipFile => "InvalidZipFileException",
            Self::InvalidRuntime => "InvalidRuntimeException",
            Self::ResourceNotReady => "ResourceNotReadyException",
            Self::ProvisionedConcurrencyConfigNotFound => {
                "ProvisionedConcurrencyConfigNotFoundException"
            }
            Self::AccessDenied => "AccessDeniedException",
            Self::PolicyLengthExceeded => "PolicyLengthExceededException",
            Self::UnsupportedOperation => "UnsupportedOperationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Service => "ServiceException",
        }
    }

    /// The HTTP status AWS answers this error with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidParameterValue
            | Self::InvalidRequestContent
            | Self::CodeStorageExceeded
            | Self::ResourceInUse
            | Self::PolicyLengthExceeded => 400,
            // As AWS's other REST-JSON services answer a path that is no operation.
            Self::ResourceNotFound
            | Self::ProvisionedConcurrencyConfigNotFound
            | Self::UnknownOperation => 404,
            Self::ResourceConflict => 409,
            Self::AccessDenied => 403,
            Self::PreconditionFailed => 412,
            Self::RequestTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests => 429,
            Self::Service => 500,
            // Not Implemented: no SDK retries it (they retry 500, 502, 503 and 504).
            Self::UnsupportedOperation => 501,
            Self::InvalidZipFile | Self::InvalidRuntime | Self::ResourceNotReady => 502,
        }
    }

    /// AWS reports client mistakes as `User` errors and its own failures as `Service` errors.
    pub fn fault(self) -> &'static str {
        if self.http_status() >= 500 && self != Self::InvalidZipFile {
            "Service"
        } else {
            "User"
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every domain error that can reach an API caller.
pub trait HasErrorCode: std::error::Error {
    fn error_code(&self) -> ErrorCode;
    /// For `TooManyRequestsException`: the `Reason` field (`ConcurrentInvocationLimitExceeded`, ...).
    fn reason(&self) -> Option<&str> {
        None
    }
}

/// A ready-made error: a code and a message that says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LambdaError {
    pub code: ErrorCode,
    pub message: String,
    pub reason: Option<String>,
}

impl LambdaError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceConflict, message)
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

impl HasErrorCode for LambdaError {
    fn error_code(&self) -> ErrorCode {
        self.code
    }

    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_the_invoke_api_reference() {
        assert_eq!(ErrorCode::ResourceNotFound.http_status(), 404);
        assert_eq!(ErrorCode::ResourceConflict.http_status(), 409);
        assert_eq!(ErrorCode::RequestTooLarge.http_status(), 413);
        assert_eq!(ErrorCode::TooManyRequests.http_status(), 429);
        assert_eq!(ErrorCode::InvalidRequestContent.http_status(), 400);
        assert_eq!(ErrorCode::InvalidZipFile.fault(), "User");
        assert_eq!(ErrorCode::Service.fault(), "Service");
        assert_eq!(ErrorCode::UnsupportedOperation.http_status(), 501);
        assert_eq!(ErrorCode::UnknownOperation.http_status(), 404);
    }
}
