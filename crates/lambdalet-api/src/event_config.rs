//! Put/Update/Get/Delete/ListFunctionEventInvokeConfig (`/2019-09-25/.../event-invoke-config`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_core::EventInvokeConfig;
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::functions::function_ref;
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

fn render(
    s: &ApiState,
    function: &str,
    qualifier: &str,
    c: &EventInvokeConfig,
    modified_ms: u64,
) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    v["FunctionArn"] = json!(s.control.account().qualified_arn(function, qualifier));
    // A timestamp member of the REST-JSON protocol: seconds since the epoch.
    v["LastModified"] = json!(modified_ms as f64 / 1000.0);
    if v.get("DestinationConfig").is_none() {
        v["DestinationConfig"] = json!({});
    }
    v
}

async fn put_or_update(
    s: ApiState,
    name: String,
    params: HashMap<String, String>,
    body: Bytes,
    merge: bool,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let config: EventInvokeConfig = parse_json(&body, "PutFunctionEventInvokeConfig")?;
    let (c, t) = s
        .control
        .put_event_config(r.name.as_str(), r.qualifier.as_ref(), config, merge)
        .await?;
    let q = lambdalet_core::destination::config_qualifier(r.qualifier.as_ref());
    Ok(json_response(
        StatusCode::OK,
        &render(&s, r.name.as_str(), &q, &c, t),
    ))
}

pub(crate) async fn put(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    put_or_update(s, name, params, body, false).await
}

pub(crate) async fn update(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    put_or_update(s, name, params, body, true).await
}

pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let (c, t) = s
        .control
        .event_config(r.name.as_str(), r.qualifier.as_ref())?;
    let q = lambdalet_core::destination::config_qualifier(r.qualifier.as_ref());
    Ok(json_response(
        StatusCode::OK,
        &render(&s, r.name.as_str(), &q, &c, t),
    ))
}

pub(crate) async fn delete(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    s.control
        .delete_event_config(r.name.as_str(), r.qualifier.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &HashMap::new())?;
    let all: Vec<_> = s
        .control
        .list_event_configs(r.name.as_str())?
        .iter()
        .map(|(q, c, t)| render(&s, r.name.as_str(), q, c, *t))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "FunctionEventInvokeConfigs": all }),
    ))
}
