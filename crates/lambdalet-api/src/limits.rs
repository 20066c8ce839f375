//! Limits on a request's head and body checked before any handler runs, and AWS's error shape
//! for the error answers the router makes itself (axum's rejections: a body over the limit, a
//! path or query string that does not parse, a method a path does not have).
//!
//! hyper answers some malformed requests itself, before the router sees them, with an empty
//! body: a request line or header it cannot parse (400), a head that outgrows its read buffer
//! ([`HEAD_BUFFER_BYTES`]; hyper checks between reads, so a head of up to about twice that may
//! pass) or with more than 100 header fields (431), a URI over 65,534 bytes (414). hyper 1 has
//! no way to give those answers a body (its `on_error` writes a head only). Its buffer is
//! therefore set well above the limits checked here, so that a URI or headers over lambdalet's
//! limits but within hyper's, which is what a real client sends by mistake, get an AWS-shaped
//! answer.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use http_body_util::BodyExt as _;
use lambdalet_core::ErrorCode;

use crate::error::ApiError;
use crate::server::HEAD_BUFFER_BYTES;

/// Largest management request body: a 50 MB zip, base64-encoded in JSON, plus the rest.
pub(crate) const MAX_BODY_BYTES: usize = 70 * 1024 * 1024;
/// Longest request target (path and query string).
pub(crate) const MAX_URI_BYTES: usize = 16 * 1024;
/// Most bytes of header fields (names, values and their separators).
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

// A head at lambdalet's limits must fit hyper's buffer, or hyper answers before the router.
const _: () = assert!(MAX_URI_BYTES + MAX_HEADER_BYTES + 1024 < HEAD_BUFFER_BYTES);

/// The middleware: refuses a head or a declared body over the limits, and gives the router's
/// own error answers AWS's shape.
pub(crate) async fn guard(req: Request, next: Next) -> Response {
    if let Some(refusal) = check_head(&req) {
        return refusal.into_response();
    }
    // Kept to name what was asked in a 405 (cheap: both share their bytes).
    let asked = (req.method().clone(), req.uri().clone());
    aws_shaped(next.run(req).await, &asked).await
}

fn check_head(req: &Request) -> Option<ApiError> {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some(too_large(
            StatusCode::URI_TOO_LONG,
            format!("the request URI is {uri} bytes; lambdalet takes at most {MAX_URI_BYTES}"),
        ));
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Some(too_large(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request's headers are {headers} bytes; lambdalet takes at most {MAX_HEADER_BYTES}"
            ),
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    // An image upload streams to a file; its handler enforces its own limit.
    let image_upload =
        req.method() == http::Method::PUT && req.uri().path() == crate::images::UPLOAD_PATH;
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 && !image_upload => {
            Some(body_too_large(Some(len)))
        }
        _ => None,
    }
}

fn too_large(status: StatusCode, message: String) -> ApiError {
    ApiError::new(ErrorCode::RequestTooLarge, message).with_status(status)
}

fn body_too_large(size: Option<u64>) -> ApiError {
    let size = size
        .map(|s| format!(" (this one is {s})"))
        .unwrap_or_default();
    ApiError::new(
        ErrorCode::RequestTooLarge,
        format!(
            "the request body is over {MAX_BODY_BYTES} bytes{size}, the most lambdalet reads: a zip may be 50 MB (base64-encoded in the request)"
        ),
    )
}

/// An error answer without `x-amzn-ErrorType` came from axum, not from [`ApiError`]: the same
/// status with AWS's shape, axum's text as the message. (axum adds `Allow` to a 405 after this.)
/// A console page (HTML) stays as it is.
async fn aws_shaped(response: Response, asked: &(http::Method, http::Uri)) -> Response {
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let ours = html || response.headers().contains_key("x-amzn-errortype");
    if ours || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large(None),
        StatusCode::NOT_FOUND => ApiError::new(ErrorCode::ResourceNotFound, text),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            ErrorCode::InvalidRequestContent,
            format!(
                "{} {}: this path does not take that method (the Allow header lists those it takes)",
                asked.0,
                asked.1.path()
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(ErrorCode::UnsupportedMediaType, text),
        s if s.is_server_error() => ApiError::new(ErrorCode::Service, text),
        _ => ApiError::new(ErrorCode::InvalidRequestContent, text),
    };
    error.with_status(status).into_response()
}

#[cfg(test)]
mod tests;
