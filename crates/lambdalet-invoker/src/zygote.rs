//! Cold starts that skip Init. Which sandboxes start from a zygote (a runtime that ran Init
//! once and forks; see the sandbox crate's `zygote` module): Python zip functions of
//! lambdalet's bootstrap on the framed Runtime API, in a process sandbox or a container on the
//! host's network, without extensions or an exec wrapper, when the function's
//! `LAMBDALET_ZYGOTE` or else the daemon's `--zygote` says so.
//! Which versions keep a pre-started sandbox (any runtime, any sandbox; the scheduler keeps
//! one ready beyond the busy ones): `LAMBDALET_PRESTART`, else `--prestart`.

use lambdalet_core::{ContainerMode, DeployedVersion, NetworkMode, RuntimeFamily};
use lambdalet_sandbox::{SandboxSpec, ZygoteKey};

use crate::sandboxes::Sandboxes;

/// A function variable that turns zygotes on or off for the function (`on`/`off`).
pub(crate) const ZYGOTE_ENV: &str = "LAMBDALET_ZYGOTE";
/// A function variable that turns pre-started sandboxes on or off for the function.
pub(crate) const PRESTART_ENV: &str = "LAMBDALET_PRESTART";

/// The function's `name`d switch, else `default` (a deploy refuses values that are not a
/// switch's; one stored before that check counts as off).
fn switch(version: &DeployedVersion, name: &str, default: bool) -> bool {
    match version.config.environment.get(name) {
        Some(v) => lambdalet_core::parse_switch(v).unwrap_or(false),
        None => default,
    }
}

/// Whether `version` keeps a pre-started sandbox ready.
pub(crate) fn prestart(version: &DeployedVersion, default: bool) -> bool {
    switch(version, PRESTART_ENV, default)
}

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
    let wanted = switch(version, ZYGOTE_ENV, sandboxes.zygote);
    let python = version
        .config
        .runtime
        .as_ref()
        .is_some_and(|r| r.family() == RuntimeFamily::Python);
    // A container with a network of its own gets its Runtime API listener from inside it,
    // which a fork could not have.
    let sandbox = match mode {
        ContainerMode::NoContainer => true,
        ContainerMode::GreengrassContainer => version.config.lifecycle.network == NetworkMode::Host,
    };
    let eligible = python
        && version.image.is_none()
        && sandbox
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
