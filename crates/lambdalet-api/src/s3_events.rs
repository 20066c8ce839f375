//! `POST /lambdalet/v1/functions/{name}/s3-events`: S3 event JSON from an S3-compatible server
//! that keeps the objects elsewhere (MinIO's and Ceph's webhook notifications send it), each
//! record queued as an asynchronous invocation of the function, as lambdalet's own bucket
//! notifications are. Such servers cannot sign requests: the URL carries the function's
//! webhook token (`?token=`, shown by `GET /lambdalet/v1/functions/{name}/configuration`), or
//! the request is signed and its principal may invoke the function.

use std::collections::HashMap;

use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use lambdalet_core::{ErrorCode, FunctionName, Principal};
use lambdalet_invoker::AsyncRequest;
use serde_json::{Value, json};

use crate::body::json_response;
use crate::error::ApiError;
use crate::state::ApiState;

/// Where the webhook of `function` is, for a client that reached the API as `host`.
pub(crate) fn webhook_url(s: &ApiState, host: &str, function: &str) -> Option<String> {
    let token = s.control.webhook_token(function)?;
    Some(format!(
        "http://{host}/lambdalet/v1/functions/{function}/s3-events?token={token}"
    ))
}

/// Whether the request carries the function's webhook token (the authentication middleware
/// lets such requests through unsigned; this handler checks the token).
pub(crate) fn token_of(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned)
}

pub(crate) async fn receive(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    who: Option<Extension<Principal>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = FunctionName::new(&name)?;
    match (q.get("token"), who) {
        (Some(t), _) => {
            if !s.control.check_webhook_token(name.as_str(), t) {
                return Err(ApiError::new(
                    ErrorCode::AccessDenied,
                    format!(
                        "the token is not function {name}'s S3 webhook token: take the URL from `GET /lambdalet/v1/functions/{name}/configuration` (s3WebhookUrl)"
                    ),
                ));
            }
        }
        (None, Some(Extension(p))) => s.control.authorize_invoke(&p, name.as_str())?,
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::AccessDenied,
                "sign the request or add ?token=",
            ));
        }
    }
    s.control
        .resolve(&lambdalet_core::FunctionRef::parse(name.as_str())?)?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequestContent,
            format!("the body is not JSON: {e}; send S3 event JSON ({{\"Records\": [...]}})"),
        )
    })?;
    let records = doc
        .get("Records")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequestContent, "the body has no Records: send S3 event JSON ({\"Records\": [{\"eventName\": ..., \"s3\": {...}}]})"))?;
    let mut checked = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        checked.push(record(i, r)?);
    }
    let mut ids = Vec::new();
    for r in checked {
        let payload = serde_json::to_vec(&json!({ "Records": [r] })).unwrap_or_default();
        ids.push(
            s.queue
                .accept(AsyncRequest {
                    function: name.to_string(),
                    qualifier: None,
                    payload: Bytes::from(payload),
                    client_context: None,
                })
                .await?,
        );
    }
    tracing::info!(function = %name, records = ids.len(), "s3.webhook");
    Ok(json_response(
        StatusCode::OK,
        &json!({ "accepted": ids.len(), "requestIds": ids }),
    ))
}

/// Checks one record and writes its `eventName` as Lambda's S3 events have it
/// (`ObjectCreated:Put`; MinIO sends `s3:ObjectCreated:Put`).
fn record(i: usize, r: &Value) -> Result<Value, ApiError> {
    let bad = |what: &str| {
        ApiError::new(
            ErrorCode::InvalidRequestContent,
            format!(
                "Records[{i}] {what}: each record needs eventName, s3.bucket.name and s3.object.key"
            ),
        )
    };
    let mut r = r.clone();
    let Some(obj) = r.as_object_mut() else {
        return Err(bad("is not an object"));
    };
    let name = obj
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no eventName"))?;
    let name = name.strip_prefix("s3:").unwrap_or(name).to_owned();
    obj.insert("eventName".into(), json!(name));
    let s3 = obj.get("s3").ok_or_else(|| bad("has no s3"))?;
    if s3.pointer("/bucket/name").and_then(Value::as_str).is_none() {
        return Err(bad("has no s3.bucket.name"));
    }
    if s3.pointer("/object/key").and_then(Value::as_str).is_none() {
        return Err(bad("has no s3.object.key"));
    }
    Ok(r)
}
