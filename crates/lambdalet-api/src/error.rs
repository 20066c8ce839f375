//! The one place where failures become HTTP responses, in AWS's error shape: status code,
//! `x-amzn-ErrorType` header (what the AWS SDKs read) and a JSON body carrying both the service
//! fields (`Type`, `message`) and the Lambda error fields (`errorType`, `errorMessage`).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use lambdalet_core::{ErrorCode, HasErrorCode, LambdaError};

/// An error on its way to the caller.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub reason: Option<String>,
    /// The HTTP status when it is not the code's own (a 414 or 431 is a `RequestTooLarge`).
    pub status: Option<StatusCode>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
            status: None,
        }
    }

    /// Sends the error with `status` instead of its code's own.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    fn from_domain(e: &dyn HasErrorCode) -> Self {
        Self {
            code: e.error_code(),
            message: e.to_string(),
            reason: e.reason().map(str::to_owned),
            status: None,
        }
    }
}

impl From<LambdaError> for ApiError {
    fn from(e: LambdaError) -> Self {
        Self::from_domain(&e)
    }
}

impl From<lambdalet_control::ControlError> for ApiError {
    fn from(e: lambdalet_control::ControlError) -> Self {
        Self::from_domain(&e)
    }
}

impl From<lambdalet_invoker::InvokeError> for ApiError {
    fn from(e: lambdalet_invoker::InvokeError) -> Self {
        Self::from_domain(&e)
    }
}

impl From<lambdalet_events::RouteError> for ApiError {
    fn from(e: lambdalet_events::RouteError) -> Self {
        Self::from_domain(&e)
    }
}

impl From<lambdalet_store::StoreError> for ApiError {
    fn from(e: lambdalet_store::StoreError) -> Self {
        Self::from_domain(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        if status.is_server_error() {
            tracing::warn!(error_type = %self.code, message = %self.message, "api.error");
        } else {
            tracing::debug!(error_type = %self.code, message = %self.message, "api.error");
        }
        shaped(
            status,
            self.code.as_str(),
            self.code.fault(),
            &self.message,
            self.reason.as_deref(),
        )
    }
}

/// An error response in AWS's shape, for errors that are not an [`ErrorCode`] (the
/// authentication errors, whose types come from `lambdalet-auth`).
pub(crate) fn shaped(
    status: StatusCode,
    error_type: &'static str,
    fault: &'static str,
    message: &str,
    reason: Option<&str>,
) -> Response {
    let mut body = serde_json::json!({
        "Type": fault,
        "message": message,
        "errorType": error_type,
        "errorMessage": message,
    });
    if let Some(reason) = reason {
        body["Reason"] = serde_json::Value::String(reason.to_owned());
    }
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", id);
    }
    resp
}
