//! The read calls infrastructure tools (Terraform's AWS provider, SAM, CDK) make after they
//! create a function, for features lambdalet does not have: each answers what AWS answers for a
//! function on which the feature was never configured, and 404s for an unknown function.
//! Setting any of these features is refused as unserved (see `unserved.rs`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use crate::body::{json_response, max_items};
use crate::error::ApiError;
use crate::functions::{function_ref, unqualified};
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

/// Checks the function (and the version or alias, if named) exists; returns its name and
/// the ARN it was named by.
fn existing(
    s: &ApiState,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<(String, String), ApiError> {
    let r = function_ref(name, params)?;
    let q = r.qualifier.as_ref().map(ToString::to_string);
    s.control.get_function(r.name.as_str(), q.as_deref())?;
    let account = s.control.account();
    let arn = match &q {
        Some(q) => account.qualified_arn(r.name.as_str(), q),
        None => account.function_arn(r.name.as_str()),
    };
    Ok((r.name.to_string(), arn))
}

/// `GET /2020-06-30/functions/{name}/code-signing-config`: GetFunctionCodeSigningConfig. No
/// function has a code signing configuration: its ARN is empty, as AWS answers then.
pub(crate) async fn code_signing(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let (name, _) = existing(&s, &name, &HashMap::new())?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "CodeSigningConfigArn": "", "FunctionName": name }),
    ))
}

/// `GET /2021-07-20/functions/{name}/runtime-management-config`: GetRuntimeManagementConfig.
/// A runtime here is the host's interpreter, updated with the host: `Auto`.
pub(crate) async fn runtime_management(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let (_, arn) = existing(&s, &name, &params)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "UpdateRuntimeOn": "Auto", "FunctionArn": arn }),
    ))
}

/// `GET /2024-08-31/functions/{name}/recursion-config`: GetFunctionRecursionConfig, AWS's
/// default (`Terminate`).
pub(crate) async fn recursion(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = unqualified(&name)?;
    existing(&s, &name, &HashMap::new())?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "RecursiveLoop": "Terminate" }),
    ))
}

/// `GET /2015-03-31/event-source-mappings`: ListEventSourceMappings. lambdalet's event
/// sources are subscriptions and bucket notifications, not mappings: the list is empty; a
/// `FunctionName` must name a function.
pub(crate) async fn event_source_mappings(
    State(s): State<ApiState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    max_items(params.get("MaxItems").map(String::as_str))?;
    if let Some(name) = params.get("FunctionName").filter(|n| !n.is_empty()) {
        existing(&s, name, &HashMap::new())?;
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "EventSourceMappings": [] }),
    ))
}
