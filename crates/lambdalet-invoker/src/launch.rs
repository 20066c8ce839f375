//! What a runtime process is given: its command line and the Lambda environment variables
//! (spec digest §1.7).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lambdalet_core::{AccountInfo, ContainerMode, DeployedVersion, RuntimeFamily};
use lambdalet_sandbox::{ContainerSpec, Limits, SandboxSpec, paths};
use time::OffsetDateTime;

use crate::catalog::{LAMBDA_PATH, RuntimeCatalog};
use crate::error::InvokeError;
use crate::instance::StartContext;
use crate::layer_paths::{LAYERS_ENV, LayerRoots, SDK_ENV};

/// How the sandbox came to be, as `AWS_LAMBDA_INITIALIZATION_TYPE` tells the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitType {
    OnDemand,
    Provisioned,
}

impl InitType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on-demand",
            Self::Provisioned => "provisioned-concurrency",
        }
    }
}

/// Where a sandbox finds things: the host's paths for a process, fixed ones in a container.
struct Layout {
    task_root: PathBuf,
    runtime_dir: PathBuf,
    ipc_socket: Option<PathBuf>,
}

/// Builds the sandbox spec for one new environment of `version`, in a sandbox of `mode`.
pub(crate) async fn sandbox_spec(
    ctx: &StartContext,
    version: &DeployedVersion,
    mode: ContainerMode,
    sandbox_id: &str,
    runtime_api: &str,
    init_type: InitType,
) -> Result<SandboxSpec, InvokeError> {
    let start = Start {
        ctx,
        version,
        sandbox_id,
        runtime_api,
        init_type,
    };
    if let Some(image) = &version.image {
        return crate::launch_image::image_spec(&start, image, mode);
    }
    let (catalog, greengrass) = (&ctx.catalog, &ctx.greengrass);
    let config = &version.config;
    let runtime = config.runtime.as_ref().ok_or_else(|| {
        InvokeError::Sandbox(lambdalet_sandbox::SandboxError::Setup(
            "a zip function without a runtime cannot start".to_owned(),
        ))
    })?;
    let family = runtime.family();
    let host_runtime_dir = catalog.runtime_dir(family);
    let container = mode == ContainerMode::GreengrassContainer;
    let layout = if container {
        Layout {
            task_root: paths::TASK_ROOT.into(),
            runtime_dir: paths::RUNTIME_DIR.into(),
            ipc_socket: greengrass
                .ipc_socket
                .as_ref()
                .map(|_| paths::IPC_SOCKET.into()),
        }
    } else {
        Layout {
            task_root: version.code_dir.clone(),
            runtime_dir: host_runtime_dir.clone(),
            ipc_socket: greengrass.ipc_socket.clone(),
        }
    };
    let resolved = catalog.interpreter(runtime).await?;
    let interpreter = resolved.as_ref().map(|r| &r.interpreter);
    let (program, args) = RuntimeCatalog::command(
        runtime,
        interpreter,
        &layout.task_root,
        &layout.runtime_dir,
        config.memory_mb,
    )?;
    let (program, args) =
        crate::extension_files::exec_wrapper(version, family, container, program, args);
    // The installed AWS SDK, searched after the function's code and layers.
    let sdk_host = interpreter.and_then(|i| catalog.sdk().dir_for(runtime, i));
    let sdk = sdk_host.as_ref().map(|d| match container {
        true => paths::SDK_DIR.to_owned(),
        false => d.display().to_string(),
    });
    let task_root = layout.task_root.display().to_string();
    let runtime_dir = layout.runtime_dir.display().to_string();

    let layers = LayerRoots::new(container, &version.layers);
    let mut env: Vec<(String, String)> = Vec::with_capacity(32);
    let mut put = |k: &str, v: String| env.push((k.to_owned(), v));
    let lambda_path = layers.expand(LAMBDA_PATH, "bin");
    put("PATH", sandbox_path(&lambda_path, &program, !container));
    put("LANG", "en_US.UTF-8".to_owned());
    put("TZ", ":UTC".to_owned());
    put(
        "LD_LIBRARY_PATH",
        layers.expand(
            &format!(
                "/lib64:/usr/lib64:{runtime_dir}:{runtime_dir}/lib:{task_root}:{task_root}/lib:/opt/lib"
            ),
            "lib",
        ),
    );
    put("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned());
    // The function's own variables come before the reserved ones, which must win (they are
    // validated at deploy, this is defence in depth).
    for (k, v) in &config.environment {
        put(k, v.clone());
    }
    put("_HANDLER", config.handler.clone());
    if let Some(exec_env) = runtime.execution_env() {
        put("AWS_EXECUTION_ENV", exec_env);
    }
    start.platform_env(&mut put, layout.ipc_socket.as_deref());
    if family == RuntimeFamily::Node && !config.environment.contains_key("NODE_PATH") {
        put(
            "NODE_PATH",
            layers.node_path(runtime, &runtime_dir, &task_root, sdk.as_deref()),
        );
    }
    put("LAMBDA_TASK_ROOT", task_root);
    put("LAMBDA_RUNTIME_DIR", runtime_dir);
    if family == RuntimeFamily::Python {
        put("PYTHONUNBUFFERED", "1".to_owned());
        // The Greengrass V1 SDK's runtime modules, after the function's own PYTHONPATH.
        let shims = layout.runtime_dir.join("greengrass").display().to_string();
        let path = match config.environment.get("PYTHONPATH") {
            Some(user) if !user.is_empty() => format!("{user}:{shims}"),
            _ => shims,
        };
        put("PYTHONPATH", path);
        if let Some(dirs) = layers.python_env(&version.layers) {
            put(LAYERS_ENV, dirs);
        }
        if let Some(sdk) = &sdk {
            put(SDK_ENV, sdk.clone());
        }
    }

    let mut limits = start.limits();
    let container = if container {
        let homes = interpreter.map(|i| i.homes.clone()).unwrap_or_default();
        let mut spec = start.container_spec(&mut limits);
        spec.layers = version.layers.clone();
        spec.runtime_dir = host_runtime_dir;
        spec.sdk_dir = sdk_host;
        spec.host_dirs = visible_homes(homes, catalog.data_dir())?;
        Some(spec)
    } else {
        None
    };
    Ok(SandboxSpec {
        id: sandbox_id.to_owned(),
        program,
        args,
        env,
        cwd: layout.task_root,
        limits,
        container,
        extensions: Vec::new(),
        extension_env: Vec::new(),
        runtime_channel: None,
        zygote: None,
    })
}

/// What every new environment of a version is started with, zip or image.
pub(crate) struct Start<'a> {
    pub ctx: &'a StartContext,
    pub version: &'a DeployedVersion,
    pub sandbox_id: &'a str,
    pub runtime_api: &'a str,
    pub init_type: InitType,
}

impl Start<'_> {
    /// The variables Lambda sets for every function (spec digest §1.7), lambdalet's
    /// credentials and endpoints, Greengrass's, and how events are encoded. `ipc_socket` is
    /// the IPC socket's path as the sandbox sees it.
    pub(crate) fn platform_env(
        &self,
        put: &mut impl FnMut(&str, String),
        ipc_socket: Option<&Path>,
    ) {
        let (account, greengrass) = (&self.ctx.account, &self.ctx.greengrass);
        let (version, config) = (self.version, &self.version.config);
        put("AWS_REGION", account.region.clone());
        put("AWS_DEFAULT_REGION", account.region.clone());
        put("AWS_LAMBDA_FUNCTION_NAME", version.name.to_string());
        put(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        );
        put("AWS_LAMBDA_FUNCTION_VERSION", version.version.clone());
        put(
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            self.init_type.as_str().to_owned(),
        );
        put(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            config.logging.group(version.name.as_str()),
        );
        if config.logging.json() {
            put("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned());
            if let Some(level) = &config.logging.application_log_level {
                put("AWS_LAMBDA_LOG_LEVEL", level.clone());
            }
        }
        put(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            log_stream_name(&version.version, self.sandbox_id),
        );
        put("AWS_LAMBDA_RUNTIME_API", self.runtime_api.to_owned());
        // Lambda hands functions the credentials of their role; lambdalet gives each function
        // its own key, which may invoke functions (as its accessControl allows) and nothing
        // more, and points the AWS SDKs' Lambda client at lambdalet. Never the daemon's own
        // credentials.
        if let Some(own) = &version.credentials {
            put("AWS_ACCESS_KEY_ID", own.access_key_id.clone());
            put("AWS_SECRET_ACCESS_KEY", own.secret_access_key.clone());
            put("AWS_SESSION_TOKEN", own.session_token.clone());
        }
        if let Some(api) = &greengrass.api_endpoint
            && !config.environment.contains_key("AWS_ENDPOINT_URL_LAMBDA")
        {
            put("AWS_ENDPOINT_URL_LAMBDA", format!("http://{api}"));
        }
        // EventBridge Scheduler's API is served on the same listener.
        if let Some(api) = &greengrass.api_endpoint
            && !config
                .environment
                .contains_key("AWS_ENDPOINT_URL_SCHEDULER")
        {
            put("AWS_ENDPOINT_URL_SCHEDULER", format!("http://{api}"));
        }
        // `boto3.client("s3")` with no arguments reaches lambdalet's S3 endpoint.
        if let Some(s3) = &greengrass.s3_endpoint
            && !config.environment.contains_key("AWS_ENDPOINT_URL_S3")
        {
            put("AWS_ENDPOINT_URL_S3", format!("http://{s3}"));
        }
        greengrass_env(put, greengrass, ipc_socket, account, version);
        // How events arrive: our bootstraps read LAMBDALET_PAYLOAD_ENCODING; Greengrass's
        // runtimes (and code written for them) read the other two.
        let encoding = config.lifecycle.input_payload_encoding_type.as_str();
        put("LAMBDALET_PAYLOAD_ENCODING", encoding.to_owned());
        put("AWS_GREENGRASS_LAMBDA_ENCODING_TYPE", encoding.to_owned());
        put("ENCODING_TYPE", encoding.to_owned());
    }

    /// Lambda's limits for the version's memory.
    pub(crate) fn limits(&self) -> Limits {
        Limits::lambda(self.version.config.memory_limit_bytes())
    }

    /// A container of this version with nothing of a runtime in it yet (no code, layers or
    /// interpreter: the caller adds those, or an image); sets `limits`' process limit for its
    /// user.
    pub(crate) fn container_spec(&self, limits: &mut Limits) -> ContainerSpec {
        let (ctx, version, config) = (self.ctx, self.version, &self.version.config);
        let (uid, gid, nproc) = ctx.sandboxes.identity(version);
        limits.user_processes = nproc;
        ContainerSpec {
            code_dir: version.code_dir.clone(),
            layers: Vec::new(),
            runtime_dir: version.code_dir.clone(),
            host_dirs: Vec::new(),
            sdk_dir: None,
            image_root: None,
            ipc_socket: ctx.greengrass.ipc_socket.clone(),
            tmp_bytes: u64::from(config.ephemeral_storage_mb) * 1024 * 1024,
            network: config.lifecycle.network,
            mount_ro_sysfs: config.lifecycle.container_params.mount_ro_sysfs,
            volumes: config.lifecycle.container_params.volumes.clone(),
            devices: config.lifecycle.container_params.devices.clone(),
            uid,
            gid,
            groups: vec![ctx.sandboxes.user.shared_group()],
            hostname: self.sandbox_id.chars().take(63).collect(),
        }
    }
}

/// The interpreter installations a container must show, leaving out those the system
/// directories already hold; one that holds the data directory would expose it, so it is
/// refused with what to do.
fn visible_homes(homes: Vec<PathBuf>, data_dir: &Path) -> Result<Vec<PathBuf>, InvokeError> {
    let system = [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ];
    let mut out = Vec::new();
    for home in homes {
        if system.iter().any(|s| home.starts_with(s)) {
            continue;
        }
        if data_dir.starts_with(&home) {
            return Err(InvokeError::Sandbox(
                lambdalet_sandbox::SandboxError::Setup(format!(
                    "the interpreter's installation {} contains lambdalet's data directory {}, which a sandbox must not see: move one of them, or install the interpreter under /usr",
                    home.display(),
                    data_dir.display()
                )),
            ));
        }
        out.push(home);
    }
    Ok(out)
}

/// What Greengrass gives a Lambda component: IPC (`SVCUID`, the socket), the function's ARN and
/// the router functions the V1 SDK calls (spec digest §4.5, §5.1).
fn greengrass_env(
    put: &mut impl FnMut(&str, String),
    gg: &crate::invoker::GreengrassEnv,
    ipc_socket: Option<&Path>,
    account: &AccountInfo,
    version: &DeployedVersion,
) {
    let token = gg
        .tokens
        .token_for(&format!("{}:{}", version.name, version.version));
    put("SVCUID", token.clone());
    put("AWS_CONTAINER_AUTHORIZATION_TOKEN", token);
    if let Some(socket) = ipc_socket {
        let socket = socket.display().to_string();
        put("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH", socket.clone());
        put(
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT",
            socket,
        );
    }
    if let Some(api) = &gg.api_endpoint {
        put("LAMBDALET_GREENGRASS_ENDPOINT", api.clone());
    }
    put(
        "MY_FUNCTION_ARN",
        account.qualified_arn(version.name.as_str(), &version.version),
    );
    put(
        "ROUTER_FUNCTION_ARN",
        "arn:aws:lambda:::function:GGRouter".to_owned(),
    );
    put(
        "SHADOW_FUNCTION_ARN",
        "arn:aws:lambda:::function:GGShadowService".to_owned(),
    );
    put(
        "AWS_GREENGRASS_LAMBDA_ARN",
        account.qualified_arn(version.name.as_str(), &version.version),
    );
}

/// Lambda's PATH (`lambda_path`, with the layers' `bin` directories), then the directory of
/// the interpreter, then (for a process sandbox, which sees the host's files) the host's PATH,
/// so a `provided` bootstrap can find `python3` or `node` where the host has them.
fn sandbox_path(lambda_path: &str, program: &Path, with_host: bool) -> String {
    let mut parts: Vec<String> = lambda_path.split(':').map(str::to_owned).collect();
    if let Some(dir) = program.parent().filter(|_| program.is_absolute()) {
        parts.push(dir.display().to_string());
    }
    if let Some(host) = std::env::var_os("PATH").filter(|_| with_host) {
        for p in std::env::split_paths(&host) {
            parts.push(p.display().to_string());
        }
    }
    let mut seen = std::collections::HashSet::new();
    parts.retain(|p| !p.is_empty() && seen.insert(p.trim_end_matches('/').to_owned()));
    parts.join(":")
}

/// `2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef`, as the service names log streams.
fn log_stream_name(version: &str, sandbox_id: &str) -> String {
    let now = OffsetDateTime::from(SystemTime::now());
    format!(
        "{:04}/{:02}/{:02}/[{}]{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        version,
        sandbox_id.rsplit('-').next().unwrap_or(sandbox_id)
    )
}
