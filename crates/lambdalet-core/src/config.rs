//! The configuration of one function version: what the Lambda APIs call `FunctionConfiguration`
//! minus the code, validated against the service's limits.
//!
//! A [`FunctionConfig`] is immutable once it belongs to a version; changes arrive as a
//! [`FunctionConfigPatch`] (from CreateFunction, UpdateFunctionConfiguration or `lambdalet
//! deploy`) and produce a new, re-validated config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;
use crate::image::{ImageCode, ImageOverrides, PackageType};
use crate::lifecycle::{LifecycleConfig, LifecyclePatch};
use crate::limits::*;
use crate::runtime::Runtime;

/// Environment variable names the platform sets itself; a function may not override them
/// (spec digest §1.7).
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// The role a function gets when the caller does not name one (lambdalet does not use IAM).
pub const DEFAULT_ROLE: &str = "arn:aws:iam::000000000000:role/lambdalet";

/// Validated configuration of a function version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    /// How the code is packaged; an image function has no runtime, handler or layers.
    #[serde(default)]
    pub package_type: PackageType,
    /// A zip function's runtime (`None` for an image function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    /// A zip function's handler (empty for an image function).
    #[serde(default)]
    pub handler: String,
    pub role: String,
    #[serde(default)]
    pub description: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default = "default_architectures")]
    pub architectures: Vec<String>,
    #[serde(default = "default_ephemeral")]
    pub ephemeral_storage_mb: u32,
    #[serde(default = "default_tracing")]
    pub tracing_mode: String,
    /// Greengrass scheduling settings.
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    /// The layer versions the function uses (full version ARNs), in order: a later layer's
    /// files win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// An image function's image, set with its code (`Code.ImageUri`), never by a patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageCode>,
    /// An image function's `ImageConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_config: Option<ImageOverrides>,
    /// `LoggingConfig`: log format, levels, group.
    #[serde(default)]
    pub logging: crate::LoggingConfig,
}

fn default_architectures() -> Vec<String> {
    vec![host_architecture().to_owned()]
}

fn default_ephemeral() -> u32 {
    MIN_EPHEMERAL_MB
}

fn default_tracing() -> String {
    "PassThrough".to_owned()
}

/// The Lambda architecture name of the machine lambdalet runs on.
pub fn host_architecture() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "x86_64"
    }
}

/// A partial configuration: every field the caller may set, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfigPatch {
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub description: Option<String>,
    pub timeout_secs: Option<i64>,
    pub memory_mb: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage_mb: Option<i64>,
    pub tracing_mode: Option<String>,
    pub layers: Option<Vec<String>>,
    pub lifecycle: LifecyclePatch,
    /// `PackageType` (CreateFunction only).
    pub package_type: Option<String>,
    /// `ImageConfig` (image functions only).
    pub image_config: Option<ImageOverrides>,
    /// `LoggingConfig`.
    pub logging: Option<crate::LoggingPatch>,
}

impl FunctionConfig {
    /// Builds the configuration of a new function. A zip function needs `runtime` and
    /// `handler`; an image function (`package_type` Image) may have neither, and gets its
    /// image from [`FunctionConfig::with_image`].
    pub fn create(mut patch: FunctionConfigPatch) -> Result<Self, LambdaError> {
        let package_type = match patch.package_type.take() {
            Some(p) => PackageType::parse(&p)?,
            None => PackageType::Zip,
        };
        let (runtime, handler) = match package_type {
            PackageType::Image => (None, String::new()),
            PackageType::Zip => {
                let runtime = patch.runtime.take().ok_or_else(|| {
                    LambdaError::invalid(
                        "Runtime is required for a zip function: give one of python3.11, nodejs20.x, provided.al2023, ... (or PackageType Image with Code.ImageUri)",
                    )
                })?;
                let handler = patch.handler.take().ok_or_else(|| {
                    LambdaError::invalid(
                        "Handler is required: for Python give module.function (app.handler), for Node.js file.export (index.handler), for provided runtimes any name your bootstrap understands",
                    )
                })?;
                (Some(Runtime::parse(&runtime)?), handler)
            }
        };
        let base = Self {
            package_type,
            runtime,
            handler,
            role: DEFAULT_ROLE.to_owned(),
            description: String::new(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            memory_mb: DEFAULT_MEMORY_MB,
            environment: BTreeMap::new(),
            architectures: default_architectures(),
            ephemeral_storage_mb: default_ephemeral(),
            tracing_mode: default_tracing(),
            lifecycle: LifecycleConfig::default(),
            layers: Vec::new(),
            image: None,
            image_config: None,
            logging: crate::LoggingConfig::default(),
        };
        base.apply(patch)
    }

    /// This image function's configuration running `image`.
    pub fn with_image(&self, image: ImageCode) -> Self {
        Self {
            image: Some(image),
            ..self.clone()
        }
    }

    /// Returns this configuration with `patch` applied and everything re-validated.
    pub fn apply(&self, patch: FunctionConfigPatch) -> Result<Self, LambdaError> {
        let mut c = self.clone();
        if let Some(p) = &patch.package_type
            && PackageType::parse(p)? != c.package_type
        {
            return Err(LambdaError::invalid(format!(
                "PackageType cannot be changed (this function is {}): create a new function",
                c.package_type.as_str()
            )));
        }
        crate::image::check_patch(c.package_type, &patch)?;
        if let Some(r) = patch.runtime {
            c.runtime = Some(Runtime::parse(&r)?);
        }
        if let Some(h) = patch.handler {
            c.handler = h;
        }
        if let Some(o) = patch.image_config {
            o.validate()?;
            c.image_config = (!o.is_empty()).then_some(o);
        }
        if let Some(r) = patch.role {
            c.role = if r.is_empty() {
                DEFAULT_ROLE.to_owned()
            } else {
                r
            };
        }
        if let Some(d) = patch.description {
            c.description = d;
        }
        if let (Some(a), Some(b)) = (patch.timeout_secs, patch.lifecycle.timeout_in_seconds)
            && a != b
        {
            return Err(LambdaError::invalid(format!(
                "Timeout ({a}) and timeoutInSeconds ({b}) are the same setting: give one"
            )));
        }
        if let Some(t) = patch.timeout_secs.or(patch.lifecycle.timeout_in_seconds) {
            c.timeout_secs =
                check_range("Timeout", t, MIN_TIMEOUT_SECS, MAX_TIMEOUT_SECS, "seconds")?;
        }
        if let Some(m) = patch.memory_mb {
            c.memory_mb = check_range("MemorySize", m, MIN_MEMORY_MB, MAX_MEMORY_MB, "MB")?;
        }
        if let Some(e) = patch.environment {
            c.environment = e;
        }
        if let Some(a) = patch.architectures {
            c.architectures = a;
        }
        if let Some(s) = patch.ephemeral_storage_mb {
            c.ephemeral_storage_mb = check_range(
                "EphemeralStorage.Size",
                s,
                MIN_EPHEMERAL_MB,
                MAX_EPHEMERAL_MB,
                "MB",
            )?;
        }
        c.lifecycle = c.lifecycle.apply(&patch.lifecycle)?;
        if let Some(t) = patch.tracing_mode {
            c.tracing_mode = t;
        }
        if let Some(l) = &patch.logging {
            c.logging = c.logging.apply(l)?;
        }
        if let Some(layers) = patch.layers {
            crate::layer::check_function_layers(&layers)?;
            c.layers = layers;
        }
        c.validate()?;
        Ok(c)
    }

    /// The memory one sandbox of this version may use, in bytes: Greengrass's
    /// `containerParams.memorySize` (KB) when set, else `MemorySize` (MB).
    pub fn memory_limit_bytes(&self) -> u64 {
        match self.lifecycle.container_params.memory_size {
            Some(kb) => kb * 1024,
            None => u64::from(self.memory_mb) * 1024 * 1024,
        }
    }

    /// Checks every field against the Lambda limits; the message names the limit and the value.
    pub fn validate(&self) -> Result<(), LambdaError> {
        if self.package_type == PackageType::Zip
            && (self.handler.is_empty() || self.handler.len() > MAX_HANDLER_LEN)
        {
            return Err(LambdaError::invalid(format!(
                "Handler must be 1 to {MAX_HANDLER_LEN} characters long (it has {})",
                self.handler.len()
            )));
        }
        if self.handler.chars().any(char::is_whitespace) {
            return Err(LambdaError::invalid(format!(
                "Handler {:?} must not contain whitespace",
                self.handler
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(LambdaError::invalid(format!(
                "Description must be at most {MAX_DESCRIPTION_LEN} characters long (it has {})",
                self.description.len()
            )));
        }
        check_range(
            "Timeout",
            self.timeout_secs.into(),
            MIN_TIMEOUT_SECS,
            MAX_TIMEOUT_SECS,
            "seconds",
        )?;
        check_range(
            "MemorySize",
            self.memory_mb.into(),
            MIN_MEMORY_MB,
            MAX_MEMORY_MB,
            "MB",
        )?;
        validate_environment(&self.environment)?;
        if self.architectures.len() != 1 {
            return Err(LambdaError::invalid(format!(
                "Architectures must name exactly one architecture (got {})",
                self.architectures.len()
            )));
        }
        let arch = self.architectures[0].as_str();
        if arch != "x86_64" && arch != "arm64" {
            return Err(LambdaError::invalid(format!(
                "architecture {arch:?} is not valid: use x86_64 or arm64"
            )));
        }
        if arch != host_architecture() {
            return Err(LambdaError::invalid(format!(
                "architecture {arch} cannot run on this {} host: deploy a {} build of the function",
                host_architecture(),
                host_architecture()
            )));
        }
        if self.tracing_mode != "PassThrough" && self.tracing_mode != "Active" {
            return Err(LambdaError::invalid(format!(
                "TracingConfig.Mode {:?} is not valid: use PassThrough or Active",
                self.tracing_mode
            )));
        }
        Ok(())
    }
}

fn check_range(
    field: &str,
    value: i64,
    min: u32,
    max: u32,
    unit: &str,
) -> Result<u32, LambdaError> {
    if value < i64::from(min) || value > i64::from(max) {
        return Err(LambdaError::invalid(format!(
            "{field} must be between {min} and {max} {unit} (got {value})"
        )));
    }
    Ok(value as u32)
}

/// Function variables that are lambdalet's switches (`on` or `off`), read by the invoker.
pub const SWITCH_ENV_KEYS: &[&str] = &["LAMBDALET_ZYGOTE", "LAMBDALET_PRESTART"];

/// A switch's value: `on`, `1`, `true`, `yes` or `off`, `0`, `false`, `no` (any case, spaces
/// around ignored); `None` for anything else.
pub fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Some(true),
        "off" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Environment variables: valid names, no reserved keys, lambdalet's switches `on` or `off`,
/// at most 4 KB in total.
pub fn validate_environment(env: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    let reserved: Vec<&str> = env
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(LambdaError::invalid(format!(
            "environment variables {} are reserved by the Lambda runtime and cannot be set; rename them",
            reserved.join(", ")
        )));
    }
    for key in env.keys() {
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(LambdaError::invalid(format!(
                "environment variable name {key:?} is not valid: start with a letter and use only letters, digits and '_'"
            )));
        }
    }
    for key in SWITCH_ENV_KEYS {
        if let Some(v) = env.get(*key)
            && parse_switch(v).is_none()
        {
            return Err(LambdaError::invalid(format!(
                "environment variable {key} is {v:?}: set it to on or off (or remove it to follow the daemon's default)"
            )));
        }
    }
    if let Some((k, _)) = env.iter().find(|(_, v)| v.contains('\0')) {
        return Err(LambdaError::invalid(format!(
            "environment variable {k} contains a NUL byte, which no process can receive"
        )));
    }
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ENV_BYTES {
        return Err(LambdaError::invalid(format!(
            "environment variables total {size} bytes; the limit is {MAX_ENV_BYTES} bytes (4 KB) for all keys and values together"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch() -> FunctionConfigPatch {
        FunctionConfigPatch {
            runtime: Some("python3.11".into()),
            handler: Some("app.handler".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_lambdas() {
        let c = FunctionConfig::create(patch()).expect("valid");
        assert_eq!(c.timeout_secs, 3);
        assert_eq!(c.memory_mb, 128);
        assert_eq!(c.ephemeral_storage_mb, 512);
    }

    #[test]
    fn limits_name_the_field_and_value() {
        let err = FunctionConfig::create(FunctionConfigPatch {
            timeout_secs: Some(901),
            ..patch()
        })
        .expect_err("too long");
        assert!(
            err.message.contains("Timeout") && err.message.contains("901"),
            "{}",
            err.message
        );
        let err = FunctionConfig::create(FunctionConfigPatch {
            memory_mb: Some(64),
            ..patch()
        })
        .expect_err("too small");
        assert!(
            err.message.contains("MemorySize") && err.message.contains("64"),
            "{}",
            err.message
        );
        let err = FunctionConfig::create(FunctionConfigPatch {
            timeout_secs: Some(0),
            ..patch()
        })
        .expect_err("zero");
        assert!(err.message.contains("between 1 and 900"), "{}", err.message);
    }

    #[test]
    fn lambdalets_switches_are_on_or_off() {
        for (v, want) in [
            ("on", true),
            (" Yes ", true),
            ("1", true),
            ("OFF", false),
            ("no", false),
        ] {
            assert_eq!(parse_switch(v), Some(want), "{v:?}");
            let env = BTreeMap::from([("LAMBDALET_ZYGOTE".to_owned(), v.to_owned())]);
            assert!(validate_environment(&env).is_ok(), "{v:?}");
        }
        for v in ["", "enabled", "onn"] {
            assert_eq!(parse_switch(v), None, "{v:?}");
            let env = BTreeMap::from([("LAMBDALET_PRESTART".to_owned(), v.to_owned())]);
            let err = validate_environment(&env).expect_err("not a switch");
            assert!(
                err.message.contains("LAMBDALET_PRESTART") && err.message.contains("on or off"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn environment_rules() {
        let mut env = BTreeMap::new();
        env.insert("AWS_REGION".to_owned(), "x".to_owned());
        let err = validate_environment(&env).expect_err("reserved");
        assert!(err.message.contains("AWS_REGION"));
        let mut env = BTreeMap::new();
        env.insert("BIG".to_owned(), "x".repeat(4100));
        let err = validate_environment(&env).expect_err("too big");
        assert!(err.message.contains("4103"), "{}", err.message);
        let mut env = BTreeMap::new();
        env.insert("1BAD".to_owned(), "x".to_owned());
        assert!(validate_environment(&env).is_err());
    }

    #[test]
    fn stored_form_round_trips() {
        let c = FunctionConfig::create(patch()).expect("valid");
        let json = serde_json::to_string(&c).expect("serializes");
        let back: FunctionConfig = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, c);
    }
}
