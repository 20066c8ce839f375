//! lambdalet's own endpoint for the Greengrass lifecycle settings of a function, which the AWS
//! CLI cannot send: `GET` and `PUT /lambdalet/v1/functions/{name}/configuration`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use lambdalet_control::VersionView;
use lambdalet_core::{FunctionConfigPatch, LifecyclePatch};
use lambdalet_invoker::ZygoteState;
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::functions::function_ref;
use crate::shapes::lifecycle_json;
use crate::state::ApiState;

fn render(s: &ApiState, v: &VersionView) -> serde_json::Value {
    let r = &v.record;
    let (state, reason) = s.control.state(&r.function, &r.version);
    let stats = s.invoker.stats(&r.function, &r.version);
    let mut body = lifecycle_json(v);
    body["functionName"] = json!(r.function);
    body["version"] = json!(r.version);
    body["state"] = json!(state);
    if let Some(reason) = reason {
        body["stateReason"] = json!(reason);
    }
    body["reservedConcurrency"] = json!(s.control.reserved_concurrency(&r.function).ok().flatten());
    body["instances"] = json!({
        "idle": stats.idle, "busy": stats.busy, "starting": stats.starting, "queued": stats.queued,
    });
    if let Some(z) = s.invoker.zygote_state(&r.function, &r.version) {
        body["zygote"] = match z {
            ZygoteState::Starting => json!({"state": "STARTING"}),
            ZygoteState::Ready => json!({"state": "READY"}),
            ZygoteState::Refused(why) => json!({"state": "REFUSED", "reason": why}),
        };
    }
    body
}

/// The settings of `$LATEST` (or `?Qualifier=`), with state, live instance counts and, with a
/// zygote, its state (`STARTING`, `READY`, or `REFUSED` and why).
pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: http::HeaderMap,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let q = r.qualifier.as_ref().map(ToString::to_string);
    let d = s.control.get_function(r.name.as_str(), q.as_deref())?;
    let mut body = render(&s, &d.view);
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:9001");
    if let Some(url) = crate::s3_events::webhook_url(&s, host, r.name.as_str()) {
        body["s3WebhookUrl"] = json!(url);
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// Changes the settings of `$LATEST`: any of `pinned`, `timeoutInSeconds`, `maxInstancesCount`,
/// `maxQueueSize`, `maxIdleTimeInSeconds`, `statusTimeoutInSeconds`, `inputPayloadEncodingType`,
/// `pubsubTopics`, `accessControl`, `containerMode`, `containerParams`, `network`,
/// `allowManagement`.
pub(crate) async fn put(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &HashMap::new())?;
    if r.qualifier.is_some() {
        return Err(ApiError::invalid(
            "only $LATEST can be changed: published versions are immutable",
        ));
    }
    let patch: LifecyclePatch = parse_json(&body, "lifecycle configuration")?;
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "give at least one of pinned, timeoutInSeconds, maxInstancesCount, maxQueueSize, maxIdleTimeInSeconds, statusTimeoutInSeconds, inputPayloadEncodingType, pubsubTopics, accessControl, containerMode, containerParams, network, allowManagement",
        ));
    }
    let view = s
        .control
        .update_configuration(
            r.name.as_str(),
            FunctionConfigPatch {
                lifecycle: patch,
                ..Default::default()
            },
            None,
        )
        .await?;
    Ok(json_response(StatusCode::OK, &render(&s, &view)))
}
