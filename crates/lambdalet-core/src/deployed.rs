//! A deployed function version: the checked, immutable form the invoker runs.
//!
//! Nothing runs from a raw request or recipe. `lambdalet-control` validates the configuration,
//! stores the code by its SHA-256 and produces a [`DeployedVersion`]; sandboxes only ever see
//! that.

use std::path::PathBuf;

use crate::config::FunctionConfig;
use crate::ids::FunctionName;
use crate::image::ImageRun;

/// One version of a function, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedVersion {
    pub name: FunctionName,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// Changes whenever the code or configuration of this version changes (`$LATEST` only).
    pub revision_id: String,
    pub config: FunctionConfig,
    /// SHA-256 of the code zip, hex.
    pub code_sha256: String,
    /// The unpacked code (`LAMBDA_TASK_ROOT`); an image function's root file system.
    pub code_dir: PathBuf,
    /// What an image function runs (`None` for a zip function).
    pub image: Option<DeployedImage>,
    /// The unpacked layers, in the function's order: what a container shows merged at
    /// `/opt` (a later layer's file wins), and what a process's search paths point into.
    pub layers: Vec<PathBuf>,
    /// The unqualified function ARN.
    pub function_arn: String,
    /// The function's sandbox identity, given at creation and never reused: its container
    /// sandboxes run as uid `--sandbox-uid-base` + this number.
    pub uid_index: u32,
    /// The function's own credentials, which its sandboxes get.
    pub credentials: Option<crate::principal::Credentials>,
}

/// An image function's image, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedImage {
    /// The image id (config digest, hex).
    pub id: String,
    /// The unpacked root file system on this host.
    pub rootfs: PathBuf,
    /// ENTRYPOINT + CMD and the working directory, `ImageConfig` applied.
    pub run: ImageRun,
    /// The image's `ENV`, in order.
    pub env: Vec<(String, String)>,
}
