//! One execution environment of a function version: a sandbox, its Runtime API listener and
//! its log collector, from launch through init to shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdalet_core::limits::INIT_TIMEOUT_SECS;
use lambdalet_core::{AccountInfo, ContainerMode, DeployedVersion, NetworkMode};
use lambdalet_sandbox::{ExitInfo, Sandbox, paths};

use crate::catalog::RuntimeCatalog;
use crate::error::InvokeError;
use crate::launch::{InitType, sandbox_spec};
use crate::logs::LogCollector;
use crate::runtime_api::{InitFailure, RuntimeApiServer, RuntimeChannel, RuntimeState};
use crate::sandboxes::Sandboxes;

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
    _server: RuntimeApiServer,
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
        // A sandbox with a network of its own gets its Runtime API listener from inside it;
        // the others reach the daemon's loopback.
        let own_network = mode == ContainerMode::GreengrassContainer
            && version.config.lifecycle.network == NetworkMode::None;
        let mut server = if own_network {
            None
        } else {
            Some(
                RuntimeApiServer::start(channel.clone())
                    .await
                    .map_err(InvokeError::RuntimeApi)?,
            )
        };
        let api = server
            .as_ref()
            .map_or(paths::RUNTIME_API.to_owned(), |s| s.addr().to_string());
        let spec = sandbox_spec(ctx, version, mode, &id, &api, init_type).await?;
        let started = Instant::now();
        let launched = match ctx.sandboxes.backend(mode).launch(spec).await {
            Ok(l) => l,
            Err(lambdalet_sandbox::SandboxError::Spawn { program, source }) => {
                return Ok(Err(StartFailure {
                    problem: InitProblem::Launch(format!("fork/exec {program}: {source}")),
                    log: String::new(),
                    init_duration: started.elapsed(),
                }));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(listener) = launched.runtime_api {
            server = Some(
                RuntimeApiServer::serve(listener, channel.clone())
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
        let logs = LogCollector::start(launched.output);
        let sandbox = launched.sandbox;
        let mut exited = sandbox.exited();
        let limit = Duration::from_secs(INIT_TIMEOUT_SECS);
        let problem = tokio::select! {
            r = ready => match r {
                Ok(Ok(())) => None,
                Ok(Err(failure)) => Some(InitProblem::Reported(failure)),
                Err(_) => Some(InitProblem::TimedOut),
            },
            info = exited.wait_for(Option::is_some) => {
                let info = info.ok().and_then(|i| *i).unwrap_or(ExitInfo { code: None, signal: None });
                Some(InitProblem::Exited(info, sandbox.out_of_memory()))
            }
            _ = tokio::time::sleep(limit) => Some(InitProblem::TimedOut),
        };
        let init_duration = started.elapsed();
        if let Some(problem) = problem {
            // Give a runtime that reported its init error a moment to print and exit by itself.
            if matches!(problem, InitProblem::Reported(_)) {
                let _ = tokio::time::timeout(
                    Duration::from_millis(200),
                    exited.wait_for(Option::is_some),
                )
                .await;
            }
            sandbox.kill();
            logs.sync().await;
            return Ok(Err(StartFailure {
                problem,
                log: logs.take(),
                init_duration,
            }));
        }
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
            _server: server,
        }))
    }

    /// Still usable for another invocation.
    pub(crate) fn is_healthy(&self) -> bool {
        self.sandbox.exited().borrow().is_none() && self.channel.state() != RuntimeState::InitError
    }

    /// Peak memory in MB (rounded up), as REPORT shows it.
    pub(crate) fn max_memory_used_mb(&self) -> u64 {
        self.sandbox
            .max_memory_used_bytes()
            .map(|b| b.div_ceil(1024 * 1024))
            .unwrap_or(0)
    }

    /// Asks the runtime to exit, waits up to `grace`, then kills whatever is left.
    pub(crate) async fn stop(self, grace: Duration) {
        if self.sandbox.exited().borrow().is_none() {
            self.sandbox.terminate();
            let mut exited = self.sandbox.exited();
            let _ = tokio::time::timeout(grace, exited.wait_for(Option::is_some)).await;
        }
        self.sandbox.kill();
        tracing::debug!(sandbox = %self.id, "sandbox.stop");
    }
}
