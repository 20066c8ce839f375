//! Request bodies and parameters: JSON parsed with Lambda's error for malformed input, and
//! the small helpers every handler uses to answer.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use lambdalet_core::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses a JSON request body; an empty body is `{}`.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequestContent,
            format!("Could not parse request body into json: {what}: {e}"),
        )
    })
}

/// A JSON answer with a fresh `x-amzn-RequestId`.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", id);
    }
    resp
}

/// `MaxItems` parameter: 1 to 10000, default 50.
pub(crate) fn max_items(given: Option<&str>) -> Result<usize, ApiError> {
    use lambdalet_core::limits::{DEFAULT_LIST_ITEMS, MAX_LIST_ITEMS};
    match given {
        None | Some("") => Ok(DEFAULT_LIST_ITEMS),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_ITEMS).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "MaxItems must be a number from 1 to {MAX_LIST_ITEMS} (got {s:?})"
            ))),
        },
    }
}
