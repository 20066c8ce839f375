//! Reserved concurrency (`/2017-10-31/.../concurrency`, `/2019-09-30/.../concurrency`) and
//! provisioned concurrency (`/2019-09-30/.../provisioned-concurrency`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_control::ProvisionedStatus;
use serde::Deserialize;
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::functions::function_ref;
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutConcurrency {
    reserved_concurrent_executions: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutProvisioned {
    provisioned_concurrent_executions: Option<i64>,
}

fn unqualified_name(name: &str, params: &HashMap<String, String>) -> Result<String, ApiError> {
    let r = function_ref(name, params)?;
    if let Some(q) = r.qualifier {
        return Err(ApiError::invalid(format!(
            "concurrency is reserved for the whole function: remove the qualifier {q}"
        )));
    }
    Ok(r.name.to_string())
}

pub(crate) async fn put_reserved(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = unqualified_name(&name, &params)?;
    let req: PutConcurrency = parse_json(&body, "PutFunctionConcurrency")?;
    let n = req
        .reserved_concurrent_executions
        .ok_or_else(|| ApiError::invalid("ReservedConcurrentExecutions is required"))?;
    let n = s.control.put_reserved_concurrency(&name, n).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "ReservedConcurrentExecutions": n }),
    ))
}

pub(crate) async fn get_reserved(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let name = unqualified_name(&name, &params)?;
    let body = match s.control.reserved_concurrency(&name)? {
        Some(n) => json!({ "ReservedConcurrentExecutions": n }),
        None => json!({}),
    };
    Ok(json_response(StatusCode::OK, &body))
}

pub(crate) async fn delete_reserved(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let name = unqualified_name(&name, &params)?;
    s.control.delete_reserved_concurrency(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn qualified(name: &str, params: &HashMap<String, String>) -> Result<(String, String), ApiError> {
    let r = function_ref(name, params)?;
    let q = r.qualifier.map(|q| q.to_string()).ok_or_else(|| {
        ApiError::invalid("Qualifier is required: provisioned concurrency is set on a published version or an alias")
    })?;
    Ok((r.name.to_string(), q))
}

fn provisioned_json(
    s: &ApiState,
    function: &str,
    p: &ProvisionedStatus,
    with_arn: bool,
) -> serde_json::Value {
    let mut v = json!({
        "RequestedProvisionedConcurrentExecutions": p.requested,
        "AvailableProvisionedConcurrentExecutions": p.available,
        "AllocatedProvisionedConcurrentExecutions": p.allocated,
        "Status": if p.available >= p.requested { "READY" } else { "IN_PROGRESS" },
        "LastModified": lambdalet_core::timefmt::last_modified(std::time::SystemTime::now()),
    });
    if with_arn {
        v["FunctionArn"] = json!(s.control.account().qualified_arn(function, &p.qualifier));
    }
    v
}

pub(crate) async fn put_provisioned(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (function, q) = qualified(&name, &params)?;
    let req: PutProvisioned = parse_json(&body, "PutProvisionedConcurrencyConfig")?;
    let n = req
        .provisioned_concurrent_executions
        .ok_or_else(|| ApiError::invalid("ProvisionedConcurrentExecutions is required"))?;
    let status = s.control.put_provisioned(&function, &q, n).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &provisioned_json(&s, &function, &status, false),
    ))
}

pub(crate) async fn get_provisioned(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    if params.contains_key("List") {
        let function = unqualified_name(&name, &HashMap::new())?;
        let all: Vec<_> = s
            .control
            .list_provisioned(&function)?
            .iter()
            .map(|p| provisioned_json(&s, &function, p, true))
            .collect();
        return Ok(json_response(
            StatusCode::OK,
            &json!({ "ProvisionedConcurrencyConfigs": all }),
        ));
    }
    let (function, q) = qualified(&name, &params)?;
    let status = s.control.provisioned_status(&function, &q)?;
    Ok(json_response(
        StatusCode::OK,
        &provisioned_json(&s, &function, &status, false),
    ))
}

pub(crate) async fn delete_provisioned(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let (function, q) = qualified(&name, &params)?;
    s.control.delete_provisioned(&function, &q).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
