//! Handlers of the function operations of the management API.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use lambdalet_control::{CreateFunctionInput, UpdateCodeInput};
use lambdalet_core::FunctionRef;
use serde_json::json;

use crate::body::{json_response, max_items, parse_json};
use crate::error::ApiError;
use crate::own::code_location;
use crate::shapes::{
    CreateFunctionRequest, PublishVersionRequest, UpdateCodeRequest, UpdateConfigurationRequest,
    check_architectures, code_in, configuration,
};
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

/// Parses the `{name}` path segment (name, `name:qualifier` or ARN) with `?Qualifier=`.
pub(crate) fn function_ref(
    name: &str,
    params: &HashMap<String, String>,
) -> Result<FunctionRef, ApiError> {
    Ok(FunctionRef::parse(name)?
        .with_qualifier_param(params.get("Qualifier").map(String::as_str))?)
}

/// A function named without a qualifier (operations on the function itself).
pub(crate) fn unqualified(name: &str) -> Result<String, ApiError> {
    let r = FunctionRef::parse(name)?;
    if let Some(q) = r.qualifier {
        return Err(ApiError::invalid(format!(
            "this operation takes the function without a qualifier; remove \":{q}\" from {name:?}"
        )));
    }
    Ok(r.name.to_string())
}

pub(crate) async fn create(State(s): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let req: CreateFunctionRequest = parse_json(&body, "CreateFunction")?;
    let name = req
        .function_name
        .ok_or_else(|| ApiError::invalid("FunctionName is required"))?;
    let name = unqualified(&name)?;
    check_architectures(req.architectures.as_ref())?;
    let code = code_in(req.code.unwrap_or_default(), &s.control).await?;
    let mut config = req.config.into_patch()?;
    config.package_type = req.package_type;
    let input = CreateFunctionInput {
        name,
        config,
        zip: code.zip,
        zip_from_bucket: code.from_bucket,
        publish: req.publish.unwrap_or(false),
        tags: req.tags.unwrap_or_default(),
        image_uri: code.image_uri,
    };
    let view = s.control.create_function(input).await?;
    let qualify = view.record.version != lambdalet_store::LATEST;
    Ok(json_response(
        StatusCode::CREATED,
        &configuration(&s.control, &view, qualify),
    ))
}

pub(crate) async fn get(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let q = r.qualifier.as_ref().map(ToString::to_string);
    let d = s.control.get_function(r.name.as_str(), q.as_deref())?;
    let code = match &d.view.record.config.image {
        Some(image) => json!({
            "RepositoryType": "ECR",
            "ImageUri": image.uri,
            "ResolvedImageUri": image.resolved_uri(),
        }),
        None => json!({
            "RepositoryType": "S3",
            "Location": code_location(&s.control, &headers, &d.view.record.code_sha256),
        }),
    };
    let mut body = json!({
        "Configuration": configuration(&s.control, &d.view, q.is_some()),
        "Code": code,
    });
    if !d.tags.is_empty() {
        body["Tags"] = json!(d.tags);
    }
    if let Some(n) = s.control.reserved_concurrency(r.name.as_str())? {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok(json_response(StatusCode::OK, &body))
}

pub(crate) async fn get_configuration(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let q = r.qualifier.as_ref().map(ToString::to_string);
    let d = s.control.get_function(r.name.as_str(), q.as_deref())?;
    Ok(json_response(
        StatusCode::OK,
        &configuration(&s.control, &d.view, q.is_some()),
    ))
}

pub(crate) async fn list(
    State(s): State<ApiState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let max = max_items(params.get("MaxItems").map(String::as_str))?;
    let all = match params.get("FunctionVersion").map(String::as_str) {
        None | Some("") => false,
        Some("ALL") => true,
        Some(v) => {
            return Err(ApiError::invalid(format!(
                "FunctionVersion must be ALL (got {v:?})"
            )));
        }
    };
    let page = s
        .control
        .list_functions(params.get("Marker").map(String::as_str), max, all);
    let functions: Vec<_> = page
        .items
        .iter()
        .map(|v| configuration(&s.control, v, all))
        .collect();
    let mut body = json!({ "Functions": functions });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    Ok(json_response(StatusCode::OK, &body))
}

pub(crate) async fn delete(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    let q = r.qualifier.as_ref().map(ToString::to_string);
    s.control
        .delete_function(r.name.as_str(), q.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn update_code(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = unqualified(&name)?;
    let req: UpdateCodeRequest = parse_json(&body, "UpdateFunctionCode")?;
    check_architectures(req.architectures.as_ref())?;
    let code = code_in(req.code, &s.control).await?;
    let input = UpdateCodeInput {
        zip: code.zip,
        zip_from_bucket: code.from_bucket,
        image_uri: code.image_uri,
        publish: req.publish.unwrap_or(false),
        dry_run: req.dry_run.unwrap_or(false),
        revision_id: req.revision_id,
    };
    let view = s.control.update_code(&name, input).await?;
    let qualify = view.record.version != lambdalet_store::LATEST;
    Ok(json_response(
        StatusCode::OK,
        &configuration(&s.control, &view, qualify),
    ))
}

pub(crate) async fn update_configuration(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = unqualified(&name)?;
    let req: UpdateConfigurationRequest = parse_json(&body, "UpdateFunctionConfiguration")?;
    let patch = req.config.into_patch()?;
    let view = s
        .control
        .update_configuration(&name, patch, req.revision_id.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &configuration(&s.control, &view, false),
    ))
}

pub(crate) async fn publish_version(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = unqualified(&name)?;
    let req: PublishVersionRequest = parse_json(&body, "PublishVersion")?;
    let view = s
        .control
        .publish_version(
            &name,
            req.code_sha256.as_deref(),
            req.description.as_deref(),
            req.revision_id.as_deref(),
        )
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &configuration(&s.control, &view, true),
    ))
}

pub(crate) async fn list_versions(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let name = unqualified(&name)?;
    let max = max_items(params.get("MaxItems").map(String::as_str))?;
    let page = s
        .control
        .list_versions(&name, params.get("Marker").map(String::as_str), max)?;
    let versions: Vec<_> = page
        .items
        .iter()
        .map(|v| configuration(&s.control, v, true))
        .collect();
    let mut body = json!({ "Versions": versions });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    Ok(json_response(StatusCode::OK, &body))
}
