//! A function's resource-based policy (`/2015-03-31/functions/{name}/policy`): AddPermission,
//! GetPolicy, RemovePermission; `?Qualifier=` (or `name:qualifier`) for a version's or an
//! alias's policy.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_core::PermissionInput;
use serde::Deserialize;
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::functions::function_ref;
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddPermissionRequest {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    invoked_via_function_url: Option<bool>,
    revision_id: Option<String>,
}

fn required(v: Option<String>, field: &str) -> Result<String, ApiError> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("{field} is required")))
}

/// `POST .../policy`: AddPermission.
pub(crate) async fn add(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let req: AddPermissionRequest = parse_json(&body, "AddPermission")?;
    let input = PermissionInput {
        statement_id: required(req.statement_id, "StatementId")?,
        action: required(req.action, "Action")?,
        principal: required(req.principal, "Principal")?,
        source_arn: req.source_arn,
        source_account: req.source_account,
        event_source_token: req.event_source_token,
        principal_org_id: req.principal_org_id,
        function_url_auth_type: req.function_url_auth_type,
        invoked_via_function_url: req.invoked_via_function_url,
    };
    let statement = s
        .control
        .add_permission(
            r.name.as_str(),
            r.qualifier.as_ref(),
            input,
            req.revision_id.as_deref(),
        )
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "Statement": statement.to_json() }),
    ))
}

/// `GET .../policy`: GetPolicy.
pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let policy = s.control.policy(r.name.as_str(), r.qualifier.as_ref())?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "Policy": policy.document(), "RevisionId": policy.revision_id }),
    ))
}

/// `DELETE .../policy/{StatementId}`: RemovePermission.
pub(crate) async fn remove(
    State(s): State<ApiState>,
    Path((name, sid)): Path<(String, String)>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    lambdalet_core::policy::check_statement_id(&sid)?;
    s.control
        .remove_permission(
            r.name.as_str(),
            r.qualifier.as_ref(),
            &sid,
            params.get("RevisionId").map(String::as_str),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
