//! `lambdalet up`'s background-removal service (the seed's): the function from
//! `examples/remove-background`, its OpenCV layer, the bucket `images` and a notification on
//! `uploads/` that invokes it. The layer is big (OpenCV, NumPy) and comes from PyPI, so it is
//! not in the binary: `make up` builds it once (`examples/remove-background/build-layer.sh`) and
//! `up` takes it from `--example-layer` or `LAMBDALET_EXAMPLE_LAYER`; without it the example
//! is skipped with a message saying how to get it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use lambdalet_control::{Control, CreateFunctionInput, PublishLayerInput};
use lambdalet_core::{FunctionConfigPatch, PermissionInput};
use lambdalet_store::Store;

pub const FUNCTION: &str = "remove-background";
pub const BUCKET: &str = "images";
const LAYER: &str = "opencv-python";
const SOURCE: &str = include_str!("../../../examples/remove-background/app.py");

/// Deploys the service; `s3_root` is the S3 endpoint's bucket directory (`None`: S3 is off).
pub async fn deploy(
    control: &Control,
    store: &Store,
    data_dir: &Path,
    s3_root: Option<&Path>,
    layer_zip: Option<&Path>,
) -> anyhow::Result<()> {
    let Some(s3_root) = s3_root else {
        anyhow::bail!("it needs the S3 endpoint ({})", crate::s3::OFF);
    };
    let Some(layer_zip) = layer_zip.filter(|p| p.is_file()) else {
        anyhow::bail!(
            "its OpenCV layer is missing: run examples/remove-background/build-layer.sh once (it needs PyPI), then start `lambdalet up --example-layer examples/remove-background/build/layer.zip` (make up does both)"
        );
    };
    let layer_arn = publish_layer(control, layer_zip).await?;
    let dir = data_dir.join("examples").join(FUNCTION);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("app.py"), SOURCE)?;
    let zip = lambdalet_package::zip_directory(&dir, &mut |_, _| {})?;
    let config = FunctionConfigPatch {
        runtime: Some("python3.11".to_owned()),
        handler: Some("app.lambda_handler".to_owned()),
        description: Some("lambdalet example (lambdalet up): removes the background of images uploaded to s3://images/uploads/".to_owned()),
        timeout_secs: Some(60),
        memory_mb: Some(1024),
        layers: Some(vec![layer_arn]),
        ..Default::default()
    };
    let create = CreateFunctionInput {
        name: FUNCTION.to_owned(),
        config,
        zip,
        ..Default::default()
    };
    crate::examples::create_or_update(control, create).await?;
    grant_bucket(control).await?;
    // The bucket and its notification, as `aws s3 mb` and
    // `put-bucket-notification-configuration` would make them.
    crate::s3::notify_on_upload(store, control, s3_root, BUCKET, FUNCTION, "uploads/")?;
    Ok(())
}

/// Lets the bucket invoke the function, as `aws lambda add-permission` (or a SAM template's S3
/// event) would, so the notification also works with `--s3-require-permission`.
async fn grant_bucket(control: &Control) -> anyhow::Result<()> {
    const SID: &str = "s3-images";
    if control
        .policy(FUNCTION, None)
        .is_ok_and(|p| p.statement(SID).is_some())
    {
        return Ok(());
    }
    let grant = PermissionInput {
        statement_id: SID.to_owned(),
        action: "lambda:InvokeFunction".to_owned(),
        principal: crate::s3::PRINCIPAL.to_owned(),
        source_arn: Some(format!("arn:aws:s3:::{BUCKET}")),
        source_account: Some(control.account().account_id.clone()),
        ..Default::default()
    };
    control.add_permission(FUNCTION, None, grant, None).await?;
    Ok(())
}

/// Publishes the layer unless its newest version has the same zip; returns the version's ARN.
async fn publish_layer(control: &Control, zip: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(zip).with_context(|| format!("cannot read {}", zip.display()))?;
    let (sha, _) = lambdalet_package::sha256(&bytes);
    let newest = control
        .list_layer_versions(LAYER, Default::default(), None, 1)
        .ok()
        .and_then(|p| p.items.into_iter().next());
    if let Some(v) = newest.filter(|v| v.code_sha256 == sha) {
        return Ok(control.account().layer_version_arn(LAYER, v.version));
    }
    let r = control
        .publish_layer_version(PublishLayerInput {
            layer: LAYER.to_owned(),
            description: Some(
                "OpenCV (headless) and NumPy, for the remove-background example".to_owned(),
            ),
            zip: bytes,
            zip_from_bucket: true,
            compatible_runtimes: Some(vec!["python3.11".to_owned()]),
            compatible_architectures: None,
            license_info: Some("Apache-2.0 (OpenCV), BSD-3-Clause (NumPy)".to_owned()),
        })
        .await?;
    Ok(control.account().layer_version_arn(LAYER, r.version))
}

/// `--example-layer`, `LAMBDALET_EXAMPLE_LAYER`, or the build script's output under the
/// current directory.
pub fn layer_path(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let p = PathBuf::from("examples/remove-background/build/layer.zip");
        p.is_file().then_some(p)
    })
}
