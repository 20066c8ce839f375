//! Handlers of the alias operations of the management API.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_control::AliasInput;
use lambdalet_core::FunctionRef;
use serde_json::json;

use crate::body::{json_response, max_items, parse_json};
use crate::error::ApiError;
use crate::shapes::{AliasRequest, alias_configuration};
use crate::state::ApiState;

fn function_name(name: &str) -> Result<String, ApiError> {
    Ok(FunctionRef::parse(name)?.name.to_string())
}

fn input(req: AliasRequest) -> AliasInput {
    AliasInput {
        function_version: req.function_version,
        description: req.description,
        routing: req
            .routing_config
            .map(|r| r.additional_version_weights.unwrap_or_default()),
        revision_id: req.revision_id,
    }
}

pub(crate) async fn create(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let function = function_name(&name)?;
    let req: AliasRequest = parse_json(&body, "CreateAlias")?;
    let alias = req
        .name
        .clone()
        .ok_or_else(|| ApiError::invalid("Name is required: the alias name"))?;
    let a = s
        .control
        .create_alias(&function, &alias, input(req))
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &alias_configuration(s.control.account(), &a),
    ))
}

pub(crate) async fn get(
    State(s): State<ApiState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let a = s.control.get_alias(&function_name(&name)?, &alias)?;
    Ok(json_response(
        StatusCode::OK,
        &alias_configuration(s.control.account(), &a),
    ))
}

pub(crate) async fn update(
    State(s): State<ApiState>,
    Path((name, alias)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: AliasRequest = parse_json(&body, "UpdateAlias")?;
    let a = s
        .control
        .update_alias(&function_name(&name)?, &alias, input(req))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &alias_configuration(s.control.account(), &a),
    ))
}

pub(crate) async fn delete(
    State(s): State<ApiState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.control
        .delete_alias(&function_name(&name)?, &alias)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let max = max_items(params.get("MaxItems").map(String::as_str))?;
    let page = s.control.list_aliases(
        &function_name(&name)?,
        params.get("FunctionVersion").map(String::as_str),
        params.get("Marker").map(String::as_str),
        max,
    )?;
    let aliases: Vec<_> = page
        .items
        .iter()
        .map(|a| alias_configuration(s.control.account(), a))
        .collect();
    let mut body = json!({ "Aliases": aliases });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    Ok(json_response(StatusCode::OK, &body))
}
