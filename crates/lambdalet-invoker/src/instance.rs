//! One execution environment of a function version: a sandbox, its Runtime API listener and
//! its log collector, from launch through init to shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdalet_core::limits::INIT_TIMEOUT_SECS;
use lambdalet_core::{AccountInfo, ContainerMode, DeployedVersion, NetworkMode};
use lambdalet_sandbox::{ExitInfo, Sandbox, paths};

use crate::catalog::RuntimeCatalog;
use crate::error::InvokeError;
use crate::extension_files::{self, External};
use crate::launch::{InitType, sandbox_spec};
use crate::logs::LogCollector;
use crate::runtime_api::{
    ExtApis, ExtFailure, Extensions, FRAMES_FD_ENV, FramesServer, InitFailure, Meta,
    RuntimeApiServer, RuntimeChannel, RuntimeState,
};
use crate::sandboxes::Sandboxes;
use crate::telemetry::Telemetry;

/// What the invoker needs to start environments.
pub(crate) struct StartContext {
    pub catalog: RuntimeCatalog,
    pub sandboxes: Sandboxes,
    pub account: AccountInfo,
    pub greengrass: crate::invoker::GreengrassEnv,
}

/// A started environment whose runtime has called `next` at least once.
pub(crate) struct Instance {
    pub id: String,
    /// The version (and revision) this environment runs.
    pub spec: Arc<DeployedVersion>,
    pub revision: String,
    pub sandbox: Arc<dyn Sandbox>,
    pub channel: Arc<RuntimeChannel>,
    pub logs: Arc<LogCollector>,
    /// How long init took; reported on the first invocation only, then `None`.
    pub init_duration: Option<Duration>,
    pub last_used: Instant,
    /// Its extensions and telemetry subscribers.
    pub ext: Arc<ExtApis>,
    /// The external extensions' output, when it has any.
    pub ext_logs: Option<Arc<LogCollector>>,
    /// Why it is retired, told to extensions in SHUTDOWN (`spindown` unless set).
    pub shutdown_reason: &'static str,
    _server: RuntimeApiServer,
    _frames: Option<FramesServer>,
}

/// Why an environment failed to become ready.
pub(crate) enum InitProblem {
    /// The runtime posted `/runtime/init/error`.
    Reported(InitFailure),
    /// The runtime exited before its first `next` (and whether it ran out of memory).
    Exited(ExitInfo, bool),
    /// The runtime did not call `next` within the init limit.
    TimedOut,
    /// The runtime program could not be started at all.
    Launch(String),
    /// An extension failed init: it reported an error, exited, or could not be started.
    Extension(ExtFailure),
}

/// A failed init, with what the runtime printed.
pub(crate) struct StartFailure {
    pub problem: InitProblem,
    pub log: String,
    pub init_duration: Duration,
}

impl Instance {
    /// Launches an environment and waits for its runtime's first `next`. A failing function
    /// (init error, crash, init timeout, bad entry point) is a `StartFailure`; a failing host
    /// (no interpreter, no port) is an `InvokeError`.
    pub(crate) async fn start(
        ctx: &StartContext,
        version: &Arc<DeployedVersion>,
        init_type: InitType,
    ) -> Result<Result<Self, StartFailure>, InvokeError> {
        let id = format!("{}-{}", version.name, uuid::Uuid::new_v4().simple());
        tracing::debug!(sandbox = %id, "sandbox.launching");
        let (channel, ready) = RuntimeChannel::new();
        let channel = Arc::new(channel);
        let mode = ctx.sandboxes.choose(&version.config).mode;
        let container = mode == ContainerMode::GreengrassContainer || version.image.is_some();
        // A sandbox with a network of its own gets its Runtime API listener from inside it;
        // the others reach the daemon's loopback.
        let own_network = mode == ContainerMode::GreengrassContainer
            && version.config.lifecycle.network == NetworkMode::None;
        let externals = extension_files::external(version, container);
        let ext = Arc::new(ExtApis {
            extensions: Arc::new(Extensions::new(
                Meta {
                    function_name: version.name.to_string(),
                    function_version: version.version.clone(),
                    handler: version.config.handler.clone(),
                    account_id: ctx.account.account_id.clone(),
                },
                externals.iter().map(|e| e.name.clone()).collect(),
            )),
            telemetry: Arc::new(Telemetry::new(own_network.then(|| {
                "the Telemetry and Logs APIs cannot reach a sandbox with network none: give the function network host".to_owned()
            }))),
        });
        let mut server = if own_network {
            None
        } else {
            Some(
                RuntimeApiServer::start(channel.clone(), ext.clone())
                    .await
                    .map_err(InvokeError::RuntimeApi)?,
            )
        };
        let api = server
            .as_ref()
            .map_or(paths::RUNTIME_API.to_owned(), |s| s.addr().to_string());
        let mut spec = sandbox_spec(ctx, version, mode, &id, &api, init_type).await?;
        spec.extensions = externals.iter().map(|e| e.program.clone()).collect();
        spec.extension_env = extension_files::extension_env(&spec.env);
        let frames = framed_channel(version, &mut spec, &channel)?;
        spec.zygote = crate::zygote::key(&ctx.sandboxes, version, mode, &spec);
        crate::platform::init_start(&ext.telemetry, version, init_type, &id);
        let started = Instant::now();
        let launched = match ctx.sandboxes.backend(mode).launch(spec).await {
            Ok(l) => l,
            Err(lambdalet_sandbox::SandboxError::Spawn { program, source }) => {
                let problem = match externals
                    .iter()
                    .find(|e| e.program.display().to_string() == program)
                {
                    Some(e) => InitProblem::Extension(ExtFailure {
                        name: e.name.clone(),
                        error_type: "Extension.LaunchError".to_owned(),
                    }),
                    None => InitProblem::Launch(format!("fork/exec {program}: {source}")),
                };
                return Ok(Err(StartFailure {
                    problem,
                    log: String::new(),
                    init_duration: started.elapsed(),
                }));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(listener) = launched.runtime_api {
            server = Some(
                RuntimeApiServer::serve(listener, channel.clone(), ext.clone())
                    .map_err(InvokeError::RuntimeApi)?,
            );
        }
        let Some(server) = server else {
            launched.sandbox.kill();
            return Err(InvokeError::Internal(
                "the sandbox has a network of its own but gave no Runtime API listener".to_owned(),
            ));
        };
        server.admit(launched.sandbox.clone());
        ext.telemetry.set_sandbox(launched.sandbox.clone());
        let logs = LogCollector::start(launched.output);
        let ext_logs = launched.extension_output.map(LogCollector::start);
        let sandbox = launched.sandbox;
        watch_extension_exits(&sandbox, &ext.extensions, &externals);
        let limit = Duration::from_secs(INIT_TIMEOUT_SECS);
        let problem = crate::init_wait::await_init(
            &sandbox,
            &ext.extensions,
            !externals.is_empty(),
            ready,
            started + limit,
        )
        .await;
        let init_duration = started.elapsed();
        let ext_log = || ext_logs.as_ref().map(|l| l.take()).unwrap_or_default();
        if let Some(problem) = problem {
            // Give a runtime that reported its init error a moment to print and exit by itself.
            if matches!(problem, InitProblem::Reported(_)) {
                let mut exited = sandbox.exited();
                let _ = tokio::time::timeout(
                    Duration::from_millis(200),
                    exited.wait_for(Option::is_some),
                )
                .await;
            }
            sandbox.kill();
            logs.sync().await;
            if let Some(l) = &ext_logs {
                l.sync().await;
            }
            let mut log = ext_log();
            log.push_str(&logs.take());
            return Ok(Err(StartFailure {
                problem,
                log,
                init_duration,
            }));
        }
        ext.extensions.close_init();
        crate::platform::init_done(&ext, init_type, init_duration);
        ext.telemetry.close_init();
        tracing::debug!(sandbox = %id, init_ms = init_duration.as_millis() as u64, "sandbox.ready");
        Ok(Ok(Self {
            id,
            spec: version.clone(),
            revision: version.revision_id.clone(),
            sandbox,
            channel,
            logs,
            init_duration: Some(init_duration),
            last_used: Instant::now(),
            ext,
            ext_logs,
            shutdown_reason: "spindown",
            _server: server,
            _frames: frames,
        }))
    }

    /// Still usable for another invocation.
    pub(crate) fn is_healthy(&self) -> bool {
        self.sandbox.exited().borrow().is_none()
            && self.channel.state() != RuntimeState::InitError
            && self.ext.extensions.failure().is_none()
    }

    /// Peak memory in MB (rounded up), as REPORT shows it.
    pub(crate) fn max_memory_used_mb(&self) -> u64 {
        self.sandbox
            .max_memory_used_bytes()
            .map(|b| b.div_ceil(1024 * 1024))
            .unwrap_or(0)
    }

    /// Retires the environment. Without extensions: SIGTERM, up to `grace`, then SIGKILL to the
    /// whole sandbox. With extensions, Lambda's shutdown: the runtime gets SIGTERM and a share
    /// of the limit (300 ms, 500 ms with internal extensions only), then SIGKILL; external
    /// extensions registered for it get SHUTDOWN and the rest of the limit (2 s with any
    /// external extension, else 500 ms) to call `next` again; then everything is killed.
    pub(crate) async fn stop(self, grace: Duration) {
        let (internal, external) = self.ext.extensions.counts();
        if internal + external == 0 {
            if self.sandbox.exited().borrow().is_none() {
                self.sandbox.terminate();
                let mut exited = self.sandbox.exited();
                let _ = tokio::time::timeout(grace, exited.wait_for(Option::is_some)).await;
            }
            self.sandbox.kill();
            tracing::debug!(sandbox = %self.id, "sandbox.stop");
            return;
        }
        let (limit, runtime_share) = if external > 0 {
            (Duration::from_millis(2_000), Duration::from_millis(300))
        } else {
            (Duration::from_millis(500), Duration::from_millis(500))
        };
        let deadline = tokio::time::Instant::now() + limit;
        if self.sandbox.exited().borrow().is_none() {
            self.sandbox.terminate();
            let mut exited = self.sandbox.exited();
            let _ = tokio::time::timeout(runtime_share, exited.wait_for(Option::is_some)).await;
            self.sandbox.kill_runtime();
        }
        let _ = tokio::time::timeout_at(deadline, self.ext.telemetry.flush()).await;
        let event = serde_json::json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": self.shutdown_reason,
            "deadlineMs": lambdalet_core::timefmt::epoch_millis(
                std::time::SystemTime::now() + deadline.saturating_duration_since(tokio::time::Instant::now())
            ),
        });
        if self
            .ext
            .extensions
            .shutdown(&bytes::Bytes::from(event.to_string()))
            > 0
        {
            let _ = tokio::time::timeout_at(deadline, self.ext.extensions.wait_settled()).await;
        }
        self.sandbox.kill();
        tracing::debug!(sandbox = %self.id, reason = self.shutdown_reason, "sandbox.stop");
    }
}

/// Tells the extensions' state when an external extension's process exits.
fn watch_extension_exits(
    sandbox: &Arc<dyn Sandbox>,
    extensions: &Arc<Extensions>,
    externals: &[External],
) {
    if externals.is_empty() {
        return;
    }
    let mut rx = sandbox.extension_exits();
    let names: Vec<String> = externals.iter().map(|e| e.name.clone()).collect();
    let extensions = Arc::downgrade(extensions);
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let exits: Vec<_> = rx.borrow_and_update().clone();
            let Some(ext) = extensions.upgrade() else {
                return;
            };
            for (index, info) in exits.iter().skip(seen) {
                if let Some(name) = names.get(*index) {
                    tracing::debug!(extension = %name, exit = %info, "extension.exited");
                    ext.crashed(name);
                }
            }
            seen = exits.len();
            drop(ext);
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Gives lambdalet's own Python and Node bootstraps the framed Runtime API (descriptor 3,
/// `LAMBDALET_RUNTIME_FD`) besides HTTP, unless the function asks for HTTP only
/// (`LAMBDALET_RUNTIME_TRANSPORT=http`). Images and `provided` runtimes speak HTTP.
fn framed_channel(
    version: &DeployedVersion,
    spec: &mut lambdalet_sandbox::SandboxSpec,
    channel: &Arc<RuntimeChannel>,
) -> Result<Option<FramesServer>, InvokeError> {
    let ours = version.image.is_none()
        && version.config.runtime.as_ref().is_some_and(|r| {
            matches!(
                r.family(),
                lambdalet_core::RuntimeFamily::Python | lambdalet_core::RuntimeFamily::Node
            )
        });
    let http_only = version
        .config
        .environment
        .get(TRANSPORT_ENV)
        .is_some_and(|t| t.eq_ignore_ascii_case("http"));
    if !ours || http_only {
        return Ok(None);
    }
    let (daemon_end, runtime_end) =
        std::os::unix::net::UnixStream::pair().map_err(InvokeError::RuntimeApi)?;
    let server =
        FramesServer::start(daemon_end, channel.clone()).map_err(InvokeError::RuntimeApi)?;
    spec.runtime_channel = Some(Arc::new(runtime_end.into()));
    spec.env.push((
        FRAMES_FD_ENV.to_owned(),
        lambdalet_sandbox::RUNTIME_CHANNEL_FD.to_string(),
    ));
    Ok(Some(server))
}

/// A function variable that keeps lambdalet's bootstraps on the HTTP Runtime API.
pub(crate) const TRANSPORT_ENV: &str = "LAMBDALET_RUNTIME_TRANSPORT";
