//! Which sandboxes start from a zygote (a runtime that ran Init once and forks; see the
//! sandbox crate's process backend): Python functions of lambdalet's bootstrap on the framed
//! Runtime API, in a process sandbox, without extensions or an exec wrapper, when the
//! function's `LAMBDALET_ZYGOTE` or else the daemon's `--zygote` says so.

use lambdalet_core::{ContainerMode, DeployedVersion, RuntimeFamily};
use lambdalet_sandbox::{SandboxSpec, ZygoteKey};

use crate::sandboxes::Sandboxes;

/// A function variable that turns zygotes on or off for the function (`on`/`off`).
pub(crate) const ZYGOTE_ENV: &str = "LAMBDALET_ZYGOTE";

/// Variables whose values are each sandbox's own; the rest of the environment is the
/// version's, and Init (in the zygote) sees the first sandbox's.
const PER_SANDBOX: [&str; 3] = [
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
];

/// The zygote a sandbox of `version` with `spec` is forked from, if it may be.
pub(crate) fn key(
    sandboxes: &Sandboxes,
    version: &DeployedVersion,
    mode: ContainerMode,
    spec: &SandboxSpec,
) -> Option<ZygoteKey> {
    let env = &version.config.environment;
    let wanted = match env.get(ZYGOTE_ENV).map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) => matches!(v.as_str(), "on" | "1" | "true" | "yes"),
        None => sandboxes.zygote,
    };
    let python = version
        .config
        .runtime
        .as_ref()
        .is_some_and(|r| r.family() == RuntimeFamily::Python);
    let eligible = python
        && version.image.is_none()
        && mode == ContainerMode::NoContainer
        && spec.runtime_channel.is_some()
        && spec.extensions.is_empty()
        && env
            .get("AWS_LAMBDA_EXEC_WRAPPER")
            .is_none_or(|w| w.is_empty());
    (wanted && eligible).then(|| ZygoteKey {
        family: family(version.name.as_str(), &version.version),
        per_sandbox: PER_SANDBOX.iter().map(|v| (*v).to_owned()).collect(),
    })
}

/// A version's zygote family.
pub(crate) fn family(function: &str, version: &str) -> String {
    format!("{function}:{version}")
}
