//! What an image function's sandbox is given: the image's root file system, its ENTRYPOINT and
//! CMD (with `ImageConfig` applied) in its working directory, and its `ENV` under the
//! function's variables and Lambda's own, as Lambda runs an image (spec digest 2 §3).
//!
//! Images run only in the container backend: the process backend would run the image's
//! programs against the host's files.

use lambdalet_core::{ContainerMode, DeployedImage};
use lambdalet_sandbox::{SandboxError, SandboxSpec, paths};

use crate::error::InvokeError;
use crate::launch::Start;

/// Docker's `PATH` for an image that sets none.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn setup(msg: String) -> InvokeError {
    InvokeError::Sandbox(SandboxError::Setup(msg))
}

/// The environment of an image function, in order of precedence: Lambda's variables over the
/// function's over the image's; one entry per name.
struct Env(Vec<(String, String)>);

impl Env {
    fn set(&mut self, k: &str, v: String) {
        match self.0.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k.to_owned(), v)),
        }
    }
}

pub(crate) fn image_spec(
    start: &Start<'_>,
    image: &DeployedImage,
    mode: ContainerMode,
) -> Result<SandboxSpec, InvokeError> {
    let version = start.version;
    if mode != ContainerMode::GreengrassContainer {
        return Err(setup(format!(
            "{} is a container image function, which runs only in a container sandbox; this one would get the process sandbox ({})",
            version.name,
            start
                .ctx
                .sandboxes
                .container_unavailable
                .as_deref()
                .unwrap_or("containerMode NoContainer")
        )));
    }
    let Some((program, args)) = image.run.argv.split_first() else {
        return Err(setup(format!(
            "image sha256:{} has no ENTRYPOINT or CMD and the function's ImageConfig sets neither: there is nothing to run (set ImageConfig.EntryPoint or Command)",
            &image.id[..12]
        )));
    };
    let mut env = Env(Vec::with_capacity(image.env.len() + 32));
    for (k, v) in &image.env {
        env.set(k, v.clone());
    }
    if !env.0.iter().any(|(k, _)| k == "PATH") {
        env.set("PATH", DEFAULT_PATH.to_owned());
    }
    for (k, v) in &version.config.environment {
        env.set(k, v.clone());
    }
    if let Some(handler) = &image.run.handler {
        env.set("_HANDLER", handler.clone());
    }
    let ipc = start
        .ctx
        .greengrass
        .ipc_socket
        .as_ref()
        .map(|_| std::path::PathBuf::from(paths::IPC_SOCKET));
    start.platform_env(&mut |k, v| env.set(k, v), ipc.as_deref());
    env.set("LAMBDA_TASK_ROOT", paths::TASK_ROOT.to_owned());
    env.set("LAMBDA_RUNTIME_DIR", paths::RUNTIME_DIR.to_owned());
    let mut limits = start.limits();
    let mut container = start.container_spec(&mut limits);
    container.image_root = Some(image.rootfs.clone());
    Ok(SandboxSpec {
        id: start.sandbox_id.to_owned(),
        program: program.into(),
        args: args.to_vec(),
        env: env.0,
        cwd: image.run.working_dir.clone().into(),
        limits,
        container: Some(container),
        extensions: Vec::new(),
        extension_env: Vec::new(),
        runtime_channel: None,
        zygote: None,
    })
}
