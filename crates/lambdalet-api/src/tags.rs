//! The tags API (`/2017-03-31/tags/{ARN}`): TagResource, UntagResource, ListTags. The ARN is
//! the function's, unqualified, URL-encoded in the path.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_core::tags::tagged_function;
use serde::Deserialize;
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::state::ApiState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagRequest {
    tags: Option<BTreeMap<String, String>>,
}

/// `GET /2017-03-31/tags/{ARN}`: ListTags.
pub(crate) async fn list(
    State(s): State<ApiState>,
    Path(arn): Path<String>,
) -> Result<Response, ApiError> {
    let f = tagged_function(&arn)?;
    let tags = s.control.tags(f.name.as_str())?;
    Ok(json_response(StatusCode::OK, &json!({ "Tags": tags })))
}

/// `POST /2017-03-31/tags/{ARN}`: TagResource.
pub(crate) async fn tag(
    State(s): State<ApiState>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let f = tagged_function(&arn)?;
    let req: TagRequest = parse_json(&body, "TagResource")?;
    let tags = req
        .tags
        .ok_or_else(|| ApiError::invalid("Tags is required: {\"Tags\": {\"KEY\": \"VALUE\"}}"))?;
    s.control.tag_function(f.name.as_str(), tags).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /2017-03-31/tags/{ARN}?tagKeys=K1&tagKeys=K2`: UntagResource.
pub(crate) async fn untag(
    State(s): State<ApiState>,
    Path(arn): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let f = tagged_function(&arn)?;
    let keys: Vec<String> = params
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    if keys.is_empty() {
        return Err(ApiError::invalid(
            "tagKeys is required: name the tags to remove as ?tagKeys=KEY&tagKeys=KEY2",
        ));
    }
    s.control.untag_function(f.name.as_str(), &keys).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
