//! The JSON shapes of the Lambda layers API (2018-10-31): PublishLayerVersion's request, and a
//! layer version as GetLayerVersion, ListLayerVersions and ListLayers show it.

use http::HeaderMap;
use lambdalet_control::Control;
use lambdalet_core::layer::MAX_LAYER_LIST_ITEMS;
use lambdalet_core::timefmt;
use lambdalet_store::LayerVersionRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::own::code_location;
use crate::shapes::decode_zip;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LayerContent {
    pub zip_file: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub s3_object_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishLayerRequest {
    pub description: Option<String>,
    pub content: Option<LayerContent>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

/// The layer's zip: `Content.ZipFile` decoded, or the object `Content.S3Bucket`/`S3Key` names
/// in lambdalet's S3 endpoint (then `true`: the direct-upload limit does not apply).
pub(crate) async fn layer_zip(
    content: Option<LayerContent>,
    control: &lambdalet_control::Control,
) -> Result<(Vec<u8>, bool), ApiError> {
    let content = content.ok_or_else(|| {
        ApiError::invalid(
            "Content is required: upload the layer's zip as Content.ZipFile (aws lambda publish-layer-version --zip-file fileb://layer.zip)",
        )
    })?;
    if let Some(zip) = crate::shapes::bucket_zip(
        "Content",
        content.s3_bucket,
        content.s3_key,
        content.s3_object_version,
        control,
    )
    .await?
    {
        return Ok((zip, true));
    }
    let b64 = content.zip_file.ok_or_else(|| {
        ApiError::invalid(
            "Content.ZipFile is required: upload the layer's zip (aws lambda publish-layer-version --zip-file fileb://layer.zip), or name an object of lambdalet's S3 endpoint with Content.S3Bucket and Content.S3Key",
        )
    })?;
    Ok((decode_zip(&b64, "Content.ZipFile")?, false))
}

/// `MaxItems` of the layer listings: 1 to 50, 50 when absent.
pub(crate) fn layer_max_items(given: Option<&str>) -> Result<usize, ApiError> {
    match given {
        None | Some("") => Ok(MAX_LAYER_LIST_ITEMS),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LAYER_LIST_ITEMS).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "MaxItems must be a number from 1 to {MAX_LAYER_LIST_ITEMS} (got {s:?})"
            ))),
        },
    }
}

/// A `{VersionNumber}` path segment.
pub(crate) fn version_number(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| {
        ApiError::invalid(format!(
            "VersionNumber must be a layer version number (1, 2, ...), not {s:?}"
        ))
    })
}

fn created(r: &LayerVersionRecord) -> String {
    timefmt::last_modified(
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(r.created_ms),
    )
}

/// A version as the listings show it (`LayerVersionsListItem`).
pub(crate) fn list_item(control: &Control, r: &LayerVersionRecord) -> Value {
    let mut v = json!({
        "LayerVersionArn": control.account().layer_version_arn(&r.name, r.version),
        "Version": r.version,
        "Description": r.description,
        "CreatedDate": created(r),
    });
    if !r.compatible_runtimes.is_empty() {
        v["CompatibleRuntimes"] = json!(r.compatible_runtimes);
    }
    if let Some(l) = &r.license_info {
        v["LicenseInfo"] = json!(l);
    }
    if !r.compatible_architectures.is_empty() {
        v["CompatibleArchitectures"] = json!(r.compatible_architectures);
    }
    v
}

/// A version as PublishLayerVersion and GetLayerVersion answer it, with its presigned
/// `Content.Location`.
pub(crate) fn layer_version(
    control: &Control,
    headers: &HeaderMap,
    r: &LayerVersionRecord,
) -> Value {
    let mut v = list_item(control, r);
    let digest = hex::decode(&r.code_sha256).unwrap_or_default();
    v["Content"] = json!({
        "Location": code_location(control, headers, &r.code_sha256),
        "CodeSha256": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest),
        "CodeSize": r.code_size,
    });
    v["LayerArn"] = json!(control.account().layer_arn(&r.name));
    v
}

/// A layer as ListLayers shows it, with its newest matching version.
pub(crate) fn layers_list_item(control: &Control, latest: &LayerVersionRecord) -> Value {
    json!({
        "LayerName": latest.name,
        "LayerArn": control.account().layer_arn(&latest.name),
        "LatestMatchingVersion": list_item(control, latest),
    })
}
