//! Long operations that report progress: when the client asks for it
//! (`Accept: application/x-ndjson`), the answer is one JSON object per line as the work goes,
//! the last line being the result or `{"Error": {"Type", "Message"}}`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_stream::StreamExt as _;

use crate::error::ApiError;

const NDJSON: &str = "application/x-ndjson";

/// Whether the client takes progress lines.
pub(crate) fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(NDJSON))
}

/// The last line of an operation that failed.
pub(crate) fn error_line(e: impl Into<ApiError>) -> Value {
    let e = e.into();
    json!({ "Error": { "Type": e.code.as_str(), "Message": e.message } })
}

/// A 200 whose body is each value `rx` gets, a line each, until every sender is gone.
pub(crate) fn response(rx: UnboundedReceiver<Value>) -> Response {
    let lines = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(|v| {
        let mut line = v.to_string();
        line.push('\n');
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, NDJSON)
        .body(Body::from_stream(lines))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
