//! Layers: how a caller names a layer or one of its versions, and the limits of the Lambda
//! layers API (2018-10-31).
//!
//! A layer is named by a bare name (`[a-zA-Z0-9-_]{1,140}`) or its ARN
//! (`arn:aws:lambda:us-east-1:123456789012:layer:deps`); a layer version by its full ARN
//! (`...:layer:deps:3`), which is how a function's `Layers` lists them. Parsing keeps the ARN's
//! region and account: whether they are this daemon's is the caller's question.

use std::fmt;

use crate::error::LambdaError;
use crate::ids::AccountInfo;

/// Most layers a function may use.
pub const MAX_LAYERS: usize = 5;
/// Longest layer name, and longest layer (version) ARN.
pub const MAX_LAYER_NAME_LEN: usize = 140;
/// Longest `LicenseInfo`.
pub const MAX_LICENSE_LEN: usize = 512;
/// Most `CompatibleRuntimes` of a layer version.
pub const MAX_COMPATIBLE_RUNTIMES: usize = 15;
/// Most `CompatibleArchitectures` of a layer version.
pub const MAX_COMPATIBLE_ARCHITECTURES: usize = 2;
/// `MaxItems` of ListLayers and ListLayerVersions: at most, and when not given.
pub const MAX_LAYER_LIST_ITEMS: usize = 50;

/// Every runtime identifier the Lambda API accepts in `CompatibleRuntimes` (its `Runtime`
/// enumeration). A layer is only files: it may declare runtimes lambdalet cannot run.
pub const LAYER_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "nodejs4.3-edge",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "ruby4.0",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// The architectures a layer version may declare.
pub const LAYER_ARCHITECTURES: &[&str] = &["x86_64", "arm64"];

/// A validated bare layer name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LayerName(String);

impl LayerName {
    pub fn new(name: &str) -> Result<Self, LambdaError> {
        if name.is_empty() || name.len() > MAX_LAYER_NAME_LEN {
            return Err(LambdaError::invalid(format!(
                "layer name {name:?} must be 1 to {MAX_LAYER_NAME_LEN} characters long (it has {})",
                name.len()
            )));
        }
        if let Some(bad) = name.chars().find(|c| !is_layer_char(*c)) {
            return Err(LambdaError::invalid(format!(
                "layer name {name:?} contains {bad:?}: use only letters, digits, '-' and '_'"
            )));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LayerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_layer_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A layer or layer version as a caller wrote it, parsed but not looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    pub name: LayerName,
    /// The ARN's region and account; `None` for a bare name.
    pub owner: Option<(String, String)>,
    /// The version number, for a layer version ARN.
    pub version: Option<u64>,
}

impl LayerRef {
    /// Parses a bare layer name or a layer ARN (`arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME`),
    /// as the `{LayerName}` of the layers API takes them; a version on the ARN is refused.
    pub fn layer(input: &str) -> Result<Self, LambdaError> {
        if !input.starts_with("arn:") {
            return Ok(Self {
                name: LayerName::new(input)?,
                owner: None,
                version: None,
            });
        }
        let r = parse_arn(input)?;
        if r.version.is_some() {
            return Err(LambdaError::invalid(format!(
                "{input:?} is a layer version ARN; here the layer is named without its version: arn:aws:lambda:REGION:ACCOUNT:layer:NAME, or NAME"
            )));
        }
        Ok(r)
    }

    /// Parses a layer version ARN (`arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION`), as
    /// a function's `Layers` and GetLayerVersionByArn take them.
    pub fn version_arn(input: &str) -> Result<Self, LambdaError> {
        let r = parse_arn(input)?;
        if r.version.is_none() {
            return Err(bad_version_arn(input));
        }
        Ok(r)
    }

    /// Whether the ARN (if any) names `account`'s region and account id.
    pub fn is_in(&self, account: &AccountInfo) -> bool {
        self.owner
            .as_ref()
            .is_none_or(|(region, id)| *region == account.region && *id == account.account_id)
    }
}

fn parse_arn(input: &str) -> Result<LayerRef, LambdaError> {
    if input.len() > MAX_LAYER_NAME_LEN {
        return Err(LambdaError::invalid(format!(
            "layer ARN {input:?} must be at most {MAX_LAYER_NAME_LEN} characters long (it has {})",
            input.len()
        )));
    }
    let parts: Vec<&str> = input.split(':').collect();
    let (region, account, name, version) = match parts.as_slice() {
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "layer",
            name,
            rest @ ..,
        ] if rest.len() <= 1
            && !partition.is_empty()
            && region_like(region)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (*region, *account, *name, rest.first().copied())
        }
        _ => return Err(bad_arn(input)),
    };
    let version = match version {
        None => None,
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse::<u64>().map_err(|_| bad_arn(input))?)
        }
        Some(_) => return Err(bad_arn(input)),
    };
    Ok(LayerRef {
        name: LayerName::new(name)?,
        owner: Some((region.to_owned(), account.to_owned())),
        version,
    })
}

fn region_like(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn bad_arn(input: &str) -> LambdaError {
    LambdaError::invalid(format!(
        "{input:?} is not a layer ARN: use arn:aws:lambda:REGION:ACCOUNT:layer:NAME, or arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION for one version of it"
    ))
}

fn bad_version_arn(input: &str) -> LambdaError {
    LambdaError::invalid(format!(
        "{input:?} is not a layer version ARN: use arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION, the LayerVersionArn PublishLayerVersion returns"
    ))
}

impl AccountInfo {
    /// `arn:aws:lambda:<region>:<account>:layer:<name>`.
    pub fn layer_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:layer:{}",
            self.partition, self.region, self.account_id, name
        )
    }

    /// The layer ARN with `:<version>` appended.
    pub fn layer_version_arn(&self, name: &str, version: u64) -> String {
        format!("{}:{version}", self.layer_arn(name))
    }
}

/// Checks the syntax of a function's `Layers`: at most [`MAX_LAYERS`] version ARNs, no layer
/// twice. Whether they exist is for the control plane.
pub fn check_function_layers(layers: &[String]) -> Result<(), LambdaError> {
    if layers.len() > MAX_LAYERS {
        return Err(LambdaError::invalid(format!(
            "Cannot reference more than {MAX_LAYERS} layers. (Layers lists {}: merge some of them into one layer, or into the function's own zip)",
            layers.len()
        )));
    }
    let mut seen: Vec<LayerName> = Vec::new();
    for arn in layers {
        let r = LayerRef::version_arn(arn)?;
        if seen.contains(&r.name) {
            return Err(LambdaError::invalid(format!(
                "Two different versions of the same layer {} cannot be specified. (list each layer once in Layers)",
                arn.rsplit_once(':')
                    .map_or(arn.as_str(), |(layer, _)| layer)
            )));
        }
        seen.push(r.name);
    }
    Ok(())
}

/// Checks the fields of a PublishLayerVersion request that need no lookup.
pub fn check_layer_fields(
    description: &str,
    runtimes: &[String],
    architectures: &[String],
    license: Option<&str>,
) -> Result<(), LambdaError> {
    use crate::limits::MAX_DESCRIPTION_LEN;
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(LambdaError::invalid(format!(
            "Description must be at most {MAX_DESCRIPTION_LEN} characters long (it has {})",
            description.len()
        )));
    }
    if runtimes.len() > MAX_COMPATIBLE_RUNTIMES {
        return Err(LambdaError::invalid(format!(
            "CompatibleRuntimes may list at most {MAX_COMPATIBLE_RUNTIMES} runtimes (it lists {})",
            runtimes.len()
        )));
    }
    for r in runtimes {
        check_layer_runtime(r)?;
    }
    if architectures.len() > MAX_COMPATIBLE_ARCHITECTURES {
        return Err(LambdaError::invalid(format!(
            "CompatibleArchitectures may list at most {MAX_COMPATIBLE_ARCHITECTURES} architectures (it lists {})",
            architectures.len()
        )));
    }
    for a in architectures {
        check_layer_architecture(a)?;
    }
    if let Some(l) = license
        && l.len() > MAX_LICENSE_LEN
    {
        return Err(LambdaError::invalid(format!(
            "LicenseInfo must be at most {MAX_LICENSE_LEN} characters long (it has {})",
            l.len()
        )));
    }
    Ok(())
}

/// A runtime identifier as `CompatibleRuntimes` and the `CompatibleRuntime` filter take it.
pub fn check_layer_runtime(runtime: &str) -> Result<(), LambdaError> {
    if LAYER_RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(LambdaError::invalid(format!(
        "runtime {runtime:?} is not a Lambda runtime identifier: use one like python3.12, nodejs20.x, java21 or provided.al2023"
    )))
}

/// An architecture as `CompatibleArchitectures` and the `CompatibleArchitecture` filter take it.
pub fn check_layer_architecture(arch: &str) -> Result<(), LambdaError> {
    if LAYER_ARCHITECTURES.contains(&arch) {
        return Ok(());
    }
    Err(LambdaError::invalid(format!(
        "architecture {arch:?} is not valid: use x86_64 or arm64"
    )))
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
