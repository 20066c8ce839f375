//! lambdalet's own endpoints under `/lambdalet/v1`: health, invocation logs, code downloads.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, Uri};
use lambdalet_core::{ErrorCode, FunctionName};
use serde_json::json;

use crate::body::json_response;
use crate::error::ApiError;
use crate::state::ApiState;

pub(crate) async fn health(State(s): State<ApiState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "functions": s.control.function_names().len(),
            "inFlight": s.invoker.in_flight(),
            "droppedLogRecords": s.records.dropped(),
        }),
    )
}

/// `GET /lambdalet/v1/functions/{name}/logs?limit=N&after=ID`: the newest invocation records,
/// oldest first; `after` returns only newer ones (for `lambdalet logs --follow`).
pub(crate) async fn logs(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = FunctionName::new(&name)?;
    let limit = match params.get("limit") {
        None => 20,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!("limit must be a number from 1 to 1000 (got {l:?})"))
            })?,
    };
    let after = match params.get("after") {
        None => 0,
        Some(a) => a
            .parse::<i64>()
            .map_err(|_| ApiError::invalid(format!("after must be a record id (got {a:?})")))?,
    };
    let rows = s
        .control
        .recent_invocations(name.as_str(), limit, after)
        .await?;
    let records: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "requestId": r.request_id,
                "version": r.version,
                "startedAt": lambdalet_core::timefmt::rfc3339_millis(
                    std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(r.started_ms)),
                "durationMs": r.duration_ms,
                "outcome": r.outcome.as_str(),
                "log": r.log,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "function": name.as_str(), "records": records }),
    ))
}

/// The URL of a stored zip (GetFunction's `Code.Location`, a layer version's
/// `Content.Location`) for a client that reached the API as `Host`: presigned and short-lived,
/// the only way to the zip, as on Lambda.
pub(crate) fn code_location(
    control: &lambdalet_control::Control,
    headers: &http::HeaderMap,
    sha256_hex: &str,
) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("127.0.0.1:9001");
    let path = format!("/lambdalet/v1/code/{sha256_hex}.zip");
    format!(
        "http://{host}{path}?{}",
        control.presign_code_url(host, &path)
    )
}

/// `GET /lambdalet/v1/code/{sha256}.zip`: the stored zip (GetFunction's `Code.Location`, a
/// layer version's `Content.Location`).
pub(crate) async fn code(
    State(s): State<ApiState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let sha = file.strip_suffix(".zip").unwrap_or(&file);
    let path = s.control.code_blob(sha).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("no stored code {file}"),
        )
    })?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        ApiError::new(
            ErrorCode::Service,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(([("content-type", "application/zip")], bytes).into_response())
}

/// `GET /lambdalet/v1/queue`: asynchronous events per function (pending, in flight, failed,
/// and the age of the oldest not yet ended).
pub(crate) async fn queue(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let rows = s.queue.summary().await?;
    let now = lambdalet_core::timefmt::epoch_millis(std::time::SystemTime::now());
    let functions: Vec<_> = rows
        .iter()
        .map(|q| {
            json!({
                "function": q.function,
                "pending": q.pending,
                "inFlight": q.in_flight,
                "failed": q.failed,
                "oldestAgeSeconds": q.oldest_received_ms.map(|t| now.saturating_sub(t) / 1000),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "functions": functions }),
    ))
}

/// `GET /lambdalet/v1/queue/{name}?limit=N`: the newest failed asynchronous events of a function.
pub(crate) async fn failed_events(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = FunctionName::new(&name)?;
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 1000);
    let rows = s.queue.failed(name.as_str(), limit).await?;
    let failed: Vec<_> = rows
        .iter()
        .map(|f| {
            json!({
                "requestId": f.request_id,
                "receivedAt": lambdalet_core::timefmt::rfc3339_millis(
                    std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(f.received_ms)),
                "attempts": f.attempts,
                "error": f.last_error,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "function": name.as_str(), "failed": failed }),
    ))
}

/// The answer to a request no route (or no method of its route) takes: see `unserved.rs`.
pub(crate) async fn not_found(method: http::Method, uri: Uri) -> ApiError {
    crate::unserved::answer(&method, &uri)
}
