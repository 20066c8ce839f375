//! `/lambdalet/v1/keys`: administrators' access keys (`lambdalet keys create|list|delete`).
//! Only an administrator may see or change keys: not a function, even with
//! `allowManagement`.

use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_control::KeyInfo;
use lambdalet_core::{ErrorCode, Principal, timefmt};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::state::ApiState;

fn admin_only(who: &Principal) -> Result<(), ApiError> {
    match who {
        Principal::Admin => Ok(()),
        other => Err(ApiError::new(
            ErrorCode::AccessDenied,
            format!("{other} may not manage access keys: only an administrator may"),
        )),
    }
}

fn info_json(k: &KeyInfo) -> Value {
    let created = std::time::UNIX_EPOCH + std::time::Duration::from_millis(k.created_ms);
    let mut v = json!({
        "AccessKeyId": k.access_key_id,
        "Description": k.description,
        "Created": timefmt::rfc3339_millis(created),
    });
    if let Some(f) = &k.function {
        v["Function"] = json!(f);
    }
    v
}

/// `GET /lambdalet/v1/keys`.
pub(crate) async fn list(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let keys: Vec<Value> = s.control.list_keys().iter().map(info_json).collect();
    Ok(json_response(StatusCode::OK, &json!({ "Keys": keys })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateKey {
    #[serde(default)]
    description: String,
}

/// `POST /lambdalet/v1/keys` `{"Description": "..."}`: the only answer that shows the secret.
pub(crate) async fn create(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let req: CreateKey = parse_json(&body, "CreateKey")?;
    let new = s.control.create_key(&req.description).await?;
    let mut v = info_json(&new.info);
    v["SecretAccessKey"] = json!(new.credentials.secret_access_key);
    Ok(json_response(StatusCode::CREATED, &v))
}

/// `DELETE /lambdalet/v1/keys/{id}`.
pub(crate) async fn delete(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    s.control.delete_key(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
