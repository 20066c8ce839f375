//! Handlers of the Lambda layers API (`/2018-10-31/layers`): PublishLayerVersion,
//! GetLayerVersion, GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use lambdalet_control::{LayerFilter, PublishLayerInput};
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::layer_shapes::{
    PublishLayerRequest, layer_max_items, layer_version, layer_zip, layers_list_item, list_item,
    version_number,
};
use crate::state::ApiState;

type Params = Query<HashMap<String, String>>;

fn filter(params: &HashMap<String, String>) -> LayerFilter<'_> {
    let given = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    LayerFilter {
        runtime: given("CompatibleRuntime"),
        architecture: given("CompatibleArchitecture"),
    }
}

/// `POST /2018-10-31/layers/{LayerName}/versions`.
pub(crate) async fn publish(
    State(s): State<ApiState>,
    Path(layer): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: PublishLayerRequest = parse_json(&body, "PublishLayerVersion")?;
    let (zip, zip_from_bucket) = layer_zip(req.content, &s.control).await?;
    let input = PublishLayerInput {
        layer,
        description: req.description,
        zip,
        zip_from_bucket,
        compatible_runtimes: req.compatible_runtimes,
        compatible_architectures: req.compatible_architectures,
        license_info: req.license_info,
    };
    let r = s.control.publish_layer_version(input).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &layer_version(&s.control, &headers, &r),
    ))
}

/// `GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`.
pub(crate) async fn get(
    State(s): State<ApiState>,
    Path((layer, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = s
        .control
        .get_layer_version(&layer, version_number(&version)?)?;
    Ok(json_response(
        StatusCode::OK,
        &layer_version(&s.control, &headers, &r),
    ))
}

/// `DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`: 204, whether or not the
/// version existed (as on AWS).
pub(crate) async fn delete(
    State(s): State<ApiState>,
    Path((layer, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.control
        .delete_layer_version(&layer, version_number(&version)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /2018-10-31/layers/{LayerName}/versions`: ListLayerVersions, newest first.
pub(crate) async fn list_versions(
    State(s): State<ApiState>,
    Path(layer): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let max = layer_max_items(params.get("MaxItems").map(String::as_str))?;
    let page = s.control.list_layer_versions(
        &layer,
        filter(&params),
        params.get("Marker").map(String::as_str),
        max,
    )?;
    let items = page
        .items
        .iter()
        .map(|r| list_item(&s.control, r))
        .collect();
    Ok(page_response("LayerVersions", items, page.next_marker))
}

/// `GET /2018-10-31/layers`: ListLayers, or GetLayerVersionByArn with `?find=LayerVersion`.
pub(crate) async fn root(
    State(s): State<ApiState>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match params.get("find").map(String::as_str) {
        None | Some("") => {}
        Some("LayerVersion") => {
            let arn = params.get("Arn").ok_or_else(|| {
                ApiError::invalid("Arn is required: the layer version ARN to look up")
            })?;
            let r = s.control.get_layer_version_by_arn(arn)?;
            return Ok(json_response(
                StatusCode::OK,
                &layer_version(&s.control, &headers, &r),
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "find={other} is not a lookup lambdalet knows: use find=LayerVersion&Arn=ARN"
            )));
        }
    }
    let max = layer_max_items(params.get("MaxItems").map(String::as_str))?;
    let page = s.control.list_layers(
        filter(&params),
        params.get("Marker").map(String::as_str),
        max,
    )?;
    let items = page
        .items
        .iter()
        .map(|r| layers_list_item(&s.control, r))
        .collect();
    Ok(page_response("Layers", items, page.next_marker))
}

/// A listing's answer: `{KEY: [...], "NextMarker": ...}` (the marker only when there is more).
fn page_response(key: &str, items: Vec<serde_json::Value>, next: Option<String>) -> Response {
    let mut body = json!({ key: items });
    if let Some(m) = next {
        body["NextMarker"] = json!(m);
    }
    json_response(StatusCode::OK, &body)
}
