//! `/lambdalet/v1/deployments`, `/lambdalet/v1/components` and `/lambdalet/v1/artifacts`:
//! Greengrass local deployments (`lambdalet deployment create|list|status`,
//! `lambdalet component list|details|restart|stop`) for tools. Only an administrator may use
//! them: a generic component runs on the host as the daemon's user, outside any sandbox, so
//! a function (even one with `allowManagement`) that could deploy one would escape.

use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use lambdalet_components::{DeployError, DeploymentRequest};
use lambdalet_core::{ErrorCode, Principal};
use serde::Deserialize;
use serde_json::json;

use crate::body::{json_response, parse_json};
use crate::error::ApiError;
use crate::state::ApiState;

impl From<DeployError> for ApiError {
    fn from(e: DeployError) -> Self {
        let code = match &e {
            DeployError::Invalid(_) => ErrorCode::InvalidParameterValue,
            DeployError::NotFound(_) => ErrorCode::ResourceNotFound,
            _ => ErrorCode::Service,
        };
        ApiError::new(code, e.to_string())
    }
}

fn admin_only(who: &Principal) -> Result<(), ApiError> {
    match who {
        Principal::Admin => Ok(()),
        other => Err(ApiError::new(
            ErrorCode::AccessDenied,
            format!(
                "{other} may not deploy or manage Greengrass components: they run on the host outside any sandbox, so only an administrator may"
            ),
        )),
    }
}

/// `PUT /lambdalet/v1/artifacts/{sha256}`: one artifact file, addressed by its SHA-256 (hex).
pub(crate) async fn put_artifact(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(sha): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let c = s.components.clone();
    tokio::task::spawn_blocking(move || c.put_artifact(&sha, &body))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Service, format!("the upload task failed: {e}")))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `HEAD /lambdalet/v1/artifacts/{sha256}`: 200 if stored (a client skips the upload), else 404.
pub(crate) async fn head_artifact(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    Ok(if s.components.has_artifact(&sha) {
        StatusCode::OK.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    })
}

/// `POST /lambdalet/v1/deployments`: checks and queues a deployment (201, `QUEUED`).
pub(crate) async fn create_deployment(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let req: DeploymentRequest = parse_json(&body, "CreateDeployment")?;
    let d = s.components.submit(req).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "deploymentId": d.id, "status": d.status }),
    ))
}

/// `GET /lambdalet/v1/deployments`: newest first.
pub(crate) async fn list_deployments(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let all = s.components.deployments()?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "deployments": all }),
    ))
}

/// `GET /lambdalet/v1/deployments/{id}`.
pub(crate) async fn get_deployment(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    Ok(json_response(
        StatusCode::OK,
        &s.components.deployment(&id)?,
    ))
}

/// `GET /lambdalet/v1/components`.
pub(crate) async fn list_components(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "components": s.components.list() }),
    ))
}

/// `GET /lambdalet/v1/components/{name}`.
pub(crate) async fn get_component(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    Ok(json_response(StatusCode::OK, &s.components.details(&name)?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Names {
    component_names: Vec<String>,
}

/// `POST /lambdalet/v1/components/restart` `{"componentNames": [...]}`.
pub(crate) async fn restart(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let n: Names = parse_json(&body, "RestartComponents")?;
    s.components.restart(&n.component_names).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /lambdalet/v1/components/stop` `{"componentNames": [...]}`.
pub(crate) async fn stop(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let n: Names = parse_json(&body, "StopComponents")?;
    s.components.stop(&n.component_names).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
