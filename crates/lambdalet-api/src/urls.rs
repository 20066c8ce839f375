//! The function URL operations of the management API (`/2021-10-31/functions/{name}/url`,
//! `/2021-10-31/functions/{name}/urls`) and their JSON shapes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_control::{Control, Cors, FunctionUrl, UrlInput};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::functions::function_ref;
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

/// The most configurations ListFunctionUrlConfigs returns at once.
const MAX_LIST_ITEMS: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UrlRequest {
    auth_type: Option<String>,
    cors: Option<Cors>,
    invoke_mode: Option<String>,
}

impl From<UrlRequest> for UrlInput {
    fn from(r: UrlRequest) -> Self {
        Self {
            auth_type: r.auth_type,
            cors: r.cors,
            invoke_mode: r.invoke_mode,
        }
    }
}

/// A timestamp as the function URL operations show it: ISO 8601 with microseconds and `Z`.
fn timestamp(ms: u64) -> String {
    let t = OffsetDateTime::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(&f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".to_owned())
}

/// A configuration as the API shows it; `LastModifiedTime` is not in CreateFunctionUrlConfig's
/// answer.
fn render(control: &Control, u: &FunctionUrl, modified: bool) -> Value {
    let mut v = json!({
        "FunctionUrl": control.function_url(u),
        "FunctionArn": control.function_url_arn(u),
        "AuthType": u.auth_type.as_str(),
        "CreationTime": timestamp(u.created_ms),
        "InvokeMode": u.invoke_mode.as_str(),
    });
    if let Some(c) = &u.cors {
        v["Cors"] = serde_json::to_value(c).unwrap_or_default();
    }
    if modified {
        v["LastModifiedTime"] = json!(timestamp(u.modified_ms));
    }
    v
}

pub(crate) async fn create(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let req: UrlRequest = parse_json(&body, "CreateFunctionUrlConfig")?;
    let u = s
        .control
        .create_function_url(r.name.as_str(), r.qualifier.as_ref(), req.into())
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &render(&s.control, &u, false),
    ))
}

pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let u = s
        .control
        .get_function_url(r.name.as_str(), r.qualifier.as_ref())?;
    Ok(json_response(StatusCode::OK, &render(&s.control, &u, true)))
}

pub(crate) async fn update(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let req: UrlRequest = parse_json(&body, "UpdateFunctionUrlConfig")?;
    let u = s
        .control
        .update_function_url(r.name.as_str(), r.qualifier.as_ref(), req.into())
        .await?;
    Ok(json_response(StatusCode::OK, &render(&s.control, &u, true)))
}

pub(crate) async fn delete(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    s.control
        .delete_function_url(r.name.as_str(), r.qualifier.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &HashMap::new())?;
    if let Some(q) = r.qualifier {
        return Err(ApiError::invalid(format!(
            "ListFunctionUrlConfigs takes the function without a qualifier; remove \":{q}\" from {name:?}"
        )));
    }
    let max = match params.get("MaxItems").map(String::as_str) {
        None | Some("") => MAX_LIST_ITEMS,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_ITEMS).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(format!(
                    "MaxItems must be a number from 1 to {MAX_LIST_ITEMS} (got {m:?})"
                )));
            }
        },
    };
    let page = s.control.list_function_urls(
        r.name.as_str(),
        params.get("Marker").map(String::as_str),
        max,
    )?;
    let configs: Vec<Value> = page
        .items
        .iter()
        .map(|u| render(&s.control, u, true))
        .collect();
    let mut body = json!({ "FunctionUrlConfigs": configs });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_z() {
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123000Z");
    }
}
