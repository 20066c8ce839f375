//! `/lambdalet/v1/images`: container images for image functions (`lambdalet image
//! load|list|rm`). An upload is a `docker save` or OCI layout tarball streamed to a file (the
//! Lambda API's body limit does not apply; a signed upload sends `UNSIGNED-PAYLOAD`), then
//! loaded by the package crate's image store: digests checked, layers applied into a
//! content-addressed root filesystem. Administrators only: an image is what a function runs.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt as _;
use lambdalet_core::{ErrorCode, Principal};
use lambdalet_package::image::{LoadedImage, Progress};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::body::json_response;
use crate::error::ApiError;
use crate::state::ApiState;

pub(crate) const UPLOAD_PATH: &str = "/lambdalet/v1/images";

/// An archive a little bigger than the unpacked limit is still plausible (tar headers).
const ARCHIVE_SLACK_BYTES: u64 = 256 * 1024 * 1024;

fn admin_only(who: &Principal) -> Result<(), ApiError> {
    match who {
        Principal::Admin => Ok(()),
        other => Err(ApiError::new(
            ErrorCode::AccessDenied,
            format!("{other} may not manage container images: only an administrator may"),
        )),
    }
}

pub(crate) fn image_json(i: &LoadedImage) -> Value {
    json!({
        "ImageId": format!("sha256:{}", i.id),
        "Names": i.names,
        "SizeBytes": i.size_bytes,
        "Layers": i.layers,
        "Config": i.config,
        "SkippedSpecialFiles": i.skipped_special_files,
    })
}

/// `PUT /lambdalet/v1/images?name=NAME`: the body is the archive. The answer is the loaded
/// image (201), or with `Accept: application/x-ndjson` a stream of lines while the archive is
/// checked and unpacked: `{"Progress":{"Layer":i,"Layers":n,"LayerBytes":b}}`,
/// `{"Progress":{"Done":d,"Total":t}}` (bytes of layers read), and last
/// `{"Image":{...}}` or `{"Error":{"Type":...,"Message":...}}`.
pub(crate) async fn upload(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let path = s.control.image_upload_path()?;
    let max_archive = s.control.max_image_bytes() + ARCHIVE_SLACK_BYTES;
    if let Err(e) = receive(body, &path, max_archive).await {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e.into());
    }
    let streamed = crate::progress::wanted(&headers);
    let name = q.get("name").cloned();
    if !streamed {
        let loaded = s
            .control
            .load_image(path.clone(), name, Box::new(|_| {}))
            .await;
        let _ = tokio::fs::remove_file(&path).await;
        let image = loaded?;
        tracing::info!(image = %image.id, names = ?image.names, size = image.size_bytes, "image.loaded");
        return Ok(json_response(StatusCode::CREATED, &image_json(&image)));
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let progress_tx = tx.clone();
    tokio::spawn(async move {
        let loaded = s
            .control
            .load_image(
                path.clone(),
                name,
                Box::new(move |p| {
                    if let Some(line) = progress_json(p) {
                        let _ = progress_tx.send(line);
                    }
                }),
            )
            .await;
        let _ = tokio::fs::remove_file(&path).await;
        let last = match loaded {
            Ok(image) => {
                tracing::info!(image = %image.id, names = ?image.names, size = image.size_bytes, "image.loaded");
                json!({ "Image": image_json(&image) })
            }
            Err(e) => crate::progress::error_line(e),
        };
        let _ = tx.send(last);
    });
    Ok(crate::progress::response(rx))
}

fn progress_json(p: Progress) -> Option<Value> {
    match p {
        Progress::Reading { done, total } => {
            Some(json!({ "Progress": { "Done": done, "Total": total } }))
        }
        Progress::Layer {
            index,
            count,
            bytes,
        } => Some(json!({ "Progress": { "Layer": index, "Layers": count, "LayerBytes": bytes } })),
        Progress::Done => None,
    }
}

/// Streams the body to `path`, refusing more than an image may be.
async fn receive(
    body: Body,
    path: &std::path::Path,
    max_archive: u64,
) -> Result<(), lambdalet_core::LambdaError> {
    let io = |e: std::io::Error| {
        lambdalet_core::LambdaError::new(
            ErrorCode::Service,
            format!("cannot store the upload: {e}"),
        )
    };
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut body = body;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            lambdalet_core::LambdaError::invalid(format!("the upload was cut off: {e}"))
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        total += chunk.len() as u64;
        if total > max_archive {
            return Err(lambdalet_core::LambdaError::new(
                ErrorCode::RequestTooLarge,
                format!(
                    "the image archive is over {max_archive} bytes; an image may unpack to at most {} (lambdalet serve --max-image-size)",
                    max_archive - ARCHIVE_SLACK_BYTES
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(())
}

/// `GET /lambdalet/v1/images`.
pub(crate) async fn list(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    let all: Vec<Value> = s.control.list_images()?.iter().map(image_json).collect();
    Ok(json_response(StatusCode::OK, &json!({ "Images": all })))
}

/// `DELETE /lambdalet/v1/images/{id}`.
pub(crate) async fn remove(
    State(s): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&who)?;
    if s.control.remove_image(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("no image {id}; `lambdalet image list` shows the loaded ones"),
        ))
    }
}
