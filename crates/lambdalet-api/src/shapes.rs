//! The JSON shapes of the Lambda API (2015-03-31), as AWS documents them, and their
//! conversion from and to lambdalet's types.

use std::collections::BTreeMap;

use base64::Engine as _;
use lambdalet_control::VersionView;
use lambdalet_core::{AccountInfo, FunctionConfigPatch, LifecyclePatch, timefmt};
use lambdalet_store::{AliasRecord, LATEST};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Environment {
    #[serde(default)]
    pub variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SizeParam {
    pub size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TracingParam {
    pub mode: Option<String>,
}

/// `LoggingConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct LoggingParam {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// `ImageConfig`: what overrides an image's ENTRYPOINT, CMD and WORKDIR.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ImageConfigParam {
    pub entry_point: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub working_directory: Option<String>,
}

/// The configuration fields shared by CreateFunction and UpdateFunctionConfiguration.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConfigFields {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub layers: Option<Vec<String>>,
    pub ephemeral_storage: Option<SizeParam>,
    pub tracing_config: Option<TracingParam>,
    pub image_config: Option<ImageConfigParam>,
    pub logging_config: Option<LoggingParam>,
    pub file_system_configs: Option<Vec<serde_json::Value>>,
    /// lambdalet's extension: the Greengrass lifecycle settings (`pinned`, `maxQueueSize`, ...).
    /// The AWS CLI cannot send it; `lambdalet deploy` and the `/lambdalet/v1` API do.
    pub lambdalet_config: Option<LifecyclePatch>,
}

impl ConfigFields {
    pub(crate) fn into_patch(self) -> Result<FunctionConfigPatch, ApiError> {
        if self
            .file_system_configs
            .as_ref()
            .is_some_and(|f| !f.is_empty())
        {
            return Err(ApiError::invalid(
                "FileSystemConfigs (EFS) is not supported by lambdalet",
            ));
        }
        Ok(FunctionConfigPatch {
            runtime: self.runtime,
            handler: self.handler,
            role: self.role,
            description: self.description,
            timeout_secs: self.timeout,
            memory_mb: self.memory_size,
            environment: self.environment.map(|e| e.variables.unwrap_or_default()),
            architectures: None,
            ephemeral_storage_mb: self.ephemeral_storage.and_then(|e| e.size),
            tracing_mode: self.tracing_config.and_then(|t| t.mode),
            layers: self.layers,
            lifecycle: self.lambdalet_config.unwrap_or_default(),
            package_type: None,
            image_config: self.image_config.map(|i| lambdalet_core::ImageOverrides {
                entry_point: i.entry_point,
                command: i.command,
                working_directory: i.working_directory,
            }),
            logging: self.logging_config.map(|l| lambdalet_core::LoggingPatch {
                log_format: l.log_format,
                application_log_level: l.application_log_level,
                system_log_level: l.system_log_level,
                log_group: l.log_group,
            }),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CodeParam {
    pub zip_file: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateFunctionRequest {
    pub function_name: Option<String>,
    #[serde(default)]
    pub code: Option<CodeParam>,
    #[serde(default)]
    pub publish: Option<bool>,
    #[serde(default)]
    pub package_type: Option<String>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub config: ConfigFields,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateCodeRequest {
    #[serde(flatten)]
    pub code: CodeParam,
    #[serde(default)]
    pub publish: Option<bool>,
    #[serde(default)]
    pub dry_run: Option<bool>,
    #[serde(default)]
    pub revision_id: Option<String>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateConfigurationRequest {
    #[serde(default)]
    pub revision_id: Option<String>,
    #[serde(flatten)]
    pub config: ConfigFields,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishVersionRequest {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RoutingConfig {
    #[serde(default)]
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasRequest {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: Option<String>,
}

/// The zip of `Code`: `ZipFile` decoded, or the object `S3Bucket`/`S3Key` names in lambdalet's
/// own S3 endpoint (then `true`: the direct-upload limit does not apply).
/// A request's code: a zip (given, or read from a bucket) or an image's URI.
#[derive(Debug, Default)]
pub(crate) struct CodeIn {
    pub zip: Vec<u8>,
    pub from_bucket: bool,
    pub image_uri: Option<String>,
}

pub(crate) async fn code_in(
    code: CodeParam,
    control: &lambdalet_control::Control,
) -> Result<CodeIn, ApiError> {
    if let Some(uri) = code.image_uri {
        if code.zip_file.is_some() || code.s3_bucket.is_some() || code.s3_key.is_some() {
            return Err(ApiError::invalid(
                "give either ImageUri (an image function) or ZipFile / S3Bucket+S3Key (a zip function), not both",
            ));
        }
        return Ok(CodeIn {
            image_uri: Some(uri),
            ..CodeIn::default()
        });
    }
    if let Some(zip) = bucket_zip(
        "Code",
        code.s3_bucket,
        code.s3_key,
        code.s3_object_version,
        control,
    )
    .await?
    {
        return Ok(CodeIn {
            zip,
            from_bucket: true,
            image_uri: None,
        });
    }
    let b64 = code.zip_file.ok_or_else(|| {
        ApiError::invalid("Code.ZipFile is required: upload the function zip (aws lambda ... --zip-file fileb://function.zip), or name an object of lambdalet's S3 endpoint with Code.S3Bucket and Code.S3Key, or (PackageType Image) a loaded image with Code.ImageUri")
    })?;
    Ok(CodeIn {
        zip: decode_zip(&b64, "Code.ZipFile")?,
        from_bucket: false,
        image_uri: None,
    })
}

/// A zip named by `S3Bucket`/`S3Key` (in `field`), read from lambdalet's S3 endpoint; `None`
/// when neither is given.
pub(crate) async fn bucket_zip(
    field: &str,
    bucket: Option<String>,
    key: Option<String>,
    version: Option<String>,
    control: &lambdalet_control::Control,
) -> Result<Option<Vec<u8>>, ApiError> {
    match (bucket, key) {
        (None, None) => Ok(None),
        (Some(b), Some(k)) => {
            if version.is_some() {
                return Err(ApiError::invalid(format!(
                    "{field}.S3ObjectVersion: lambdalet's S3 endpoint keeps no object versions; leave it out"
                )));
            }
            Ok(Some(control.object_bytes(&b, &k).await?))
        }
        _ => Err(ApiError::invalid(format!(
            "{field}.S3Bucket and {field}.S3Key go together: give both, or the zip itself as {field}.ZipFile"
        ))),
    }
}

/// Decodes a base64 zip (`field` names it in errors), refusing one over the upload limit before
/// decoding it.
pub(crate) fn decode_zip(b64: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    let max_b64 = (lambdalet_core::limits::MAX_ZIP_BYTES as usize).div_ceil(3) * 4;
    if b64.len() > max_b64 + 4 {
        let size = b64.len() / 4 * 3;
        return Err(ApiError::new(
            lambdalet_core::ErrorCode::RequestTooLarge,
            format!(
                "zip file is about {size} bytes; the limit for a direct upload is {} bytes (50 MB)",
                lambdalet_core::limits::MAX_ZIP_BYTES
            ),
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| {
            ApiError::invalid(format!(
                "{field} is not valid base64 ({e}): send the zip's bytes base64-encoded"
            ))
        })
}

/// Checks `Architectures` of a request against the host.
pub(crate) fn check_architectures(a: Option<&Vec<String>>) -> Result<(), ApiError> {
    let Some(a) = a else { return Ok(()) };
    let host = lambdalet_core::config::host_architecture();
    if a.len() != 1 || a[0] != host {
        return Err(ApiError::invalid(format!(
            "Architectures {a:?} cannot run on this {host} host: use [\"{host}\"]"
        )));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnvironmentOut {
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FunctionConfiguration {
    pub function_name: String,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentOut>,
    pub tracing_config: serde_json::Value,
    pub revision_id: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    pub last_update_status: String,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: serde_json::Value,
    pub snap_start: serde_json::Value,
    pub logging_config: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_config: Option<serde_json::Value>,
    /// An image function's `ImageConfig`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_config_response: Option<serde_json::Value>,
    /// The Greengrass lifecycle settings of this version, under their Greengrass names.
    pub lambdalet_config: serde_json::Value,
    /// The sandbox this version runs in on this host (`Mode`, `Warning` when it is not the
    /// one asked for).
    pub lambdalet_sandbox: serde_json::Value,
    /// The interpreter its runtime runs on here (`RunsOn`, `Interpreter`, `Version`, a
    /// `Notice` when it is a fallback), or the `Error` that keeps it from starting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambdalet_runtime: Option<serde_json::Value>,
    /// The layer versions it uses, in order (absent without any, as on AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<serde_json::Value>>,
}

/// The Greengrass settings of a version as JSON, with `timeoutInSeconds`.
pub(crate) fn lifecycle_json(v: &VersionView) -> serde_json::Value {
    let c = &v.record.config;
    let mut json = serde_json::to_value(&c.lifecycle).unwrap_or_default();
    json["timeoutInSeconds"] = serde_json::json!(c.timeout_secs);
    json
}

/// `FunctionArn` as AWS shows it: unqualified for `$LATEST` unless `qualify_latest`.
pub(crate) fn configuration(
    control: &lambdalet_control::Control,
    v: &VersionView,
    qualify_latest: bool,
) -> FunctionConfiguration {
    let account = control.account();
    let (state, state_reason) = control.state(&v.record.function, &v.record.version);
    let r = &v.record;
    let c = &r.config;
    let (runtime_version_config, lambdalet_runtime) = crate::runtimes::function_runtime(control, c);
    let arn = if r.version == LATEST && !qualify_latest {
        account.function_arn(&r.function)
    } else {
        account.qualified_arn(&r.function, &r.version)
    };
    FunctionConfiguration {
        function_name: r.function.clone(),
        function_arn: arn,
        runtime: c.runtime.as_ref().map(ToString::to_string),
        role: c.role.clone(),
        handler: c.runtime.as_ref().map(|_| c.handler.clone()),
        code_size: r.code_size,
        description: c.description.clone(),
        timeout: c.timeout_secs,
        memory_size: c.memory_mb,
        last_modified: timefmt::last_modified(
            std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_millis(r.last_modified_ms),
        ),
        code_sha256: v.code_sha256_base64(),
        version: r.version.clone(),
        environment: (!c.environment.is_empty()).then(|| EnvironmentOut {
            variables: c.environment.clone(),
        }),
        tracing_config: serde_json::json!({ "Mode": c.tracing_mode }),
        revision_id: r.revision_id.clone(),
        state: state.to_owned(),
        state_reason_code: state_reason.as_ref().map(|_| "FunctionError".to_owned()),
        state_reason,
        last_update_status: "Successful".to_owned(),
        package_type: c.package_type.as_str().to_owned(),
        architectures: c.architectures.clone(),
        ephemeral_storage: serde_json::json!({ "Size": c.ephemeral_storage_mb }),
        snap_start: serde_json::json!({ "ApplyOn": "None", "OptimizationStatus": "Off" }),
        logging_config: logging_json(&c.logging, &r.function),
        runtime_version_config,
        image_config_response: c.image_config.as_ref().map(|i| {
            serde_json::json!({
                "ImageConfig": {
                    "EntryPoint": i.entry_point,
                    "Command": i.command,
                    "WorkingDirectory": i.working_directory,
                }
            })
        }),
        lambdalet_config: lifecycle_json(v),
        lambdalet_sandbox: sandbox_json(control, c),
        lambdalet_runtime,
        layers: (!v.layers.is_empty()).then(|| {
            v.layers
                .iter()
                .map(|l| serde_json::json!({ "Arn": l.arn, "CodeSize": l.code_size }))
                .collect()
        }),
    }
}

/// `LoggingConfig` as GetFunctionConfiguration shows it.
fn logging_json(l: &lambdalet_core::LoggingConfig, function: &str) -> serde_json::Value {
    let mut v = serde_json::json!({ "LogFormat": l.log_format, "LogGroup": l.group(function) });
    if let Some(a) = &l.application_log_level {
        v["ApplicationLogLevel"] = serde_json::Value::String(a.clone());
    }
    if let Some(s) = &l.system_log_level {
        v["SystemLogLevel"] = serde_json::Value::String(s.clone());
    }
    v
}

fn sandbox_json(
    control: &lambdalet_control::Control,
    c: &lambdalet_core::FunctionConfig,
) -> serde_json::Value {
    let choice = control.sandbox_choice(c);
    let mut json = serde_json::json!({
        "Mode": choice.mode,
        "Backend": choice.mode.backend(),
    });
    if let Some(w) = choice.warning {
        json["Warning"] = serde_json::Value::String(w);
    }
    json
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasConfiguration {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: String,
}

pub(crate) fn alias_configuration(account: &AccountInfo, a: &AliasRecord) -> AliasConfiguration {
    AliasConfiguration {
        alias_arn: account.qualified_arn(&a.function, &a.name),
        name: a.name.clone(),
        function_version: a.function_version.clone(),
        description: a.description.clone(),
        routing_config: (!a.routing.is_empty()).then(|| RoutingConfig {
            additional_version_weights: Some(a.routing.clone()),
        }),
        revision_id: a.revision_id.clone(),
    }
}
