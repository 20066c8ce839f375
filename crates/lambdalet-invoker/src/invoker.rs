//! The invoker: finds or starts an environment for an invocation, hands the event to its
//! runtime, enforces the timeout, and writes the invocation's log.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use lambdalet_core::limits::LOG_TAIL_BYTES;
use lambdalet_core::{AccountInfo, DeployedVersion, Runtime, RuntimeFamily, timefmt};
use lambdalet_sandbox::SandboxBackend;
use lambdalet_store::{InvocationRecord, Outcome, RecordWriter};
use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::catalog::RuntimeCatalog;
use crate::error::InvokeError;
use crate::instance::{InitProblem, Instance, StartContext, StartFailure};
use crate::launch::InitType;
use crate::logs::{Report, end_line, report_line, start_line, tail};
use crate::outcome::{Ending, conclude, error_json};
use crate::pool::Pool;
use crate::request::{Invocation, InvocationResult};
use crate::runtime_api::Event;

/// Pools are per function, version and revision: an updated `$LATEST` gets fresh environments.
type PoolKey = (String, String, String);

pub struct Invoker {
    ctx: StartContext,
    pools: RwLock<HashMap<PoolKey, Arc<Pool>>>,
    records: RecordWriter,
    in_flight: AtomicUsize,
    drained: Notify,
    closing: AtomicBool,
}

impl Invoker {
    /// An invoker whose runtimes live under `data_dir/runtimes`.
    pub fn new(
        data_dir: &Path,
        account: AccountInfo,
        backend: Arc<dyn SandboxBackend>,
        records: RecordWriter,
    ) -> std::io::Result<Arc<Self>> {
        let catalog = RuntimeCatalog::install(data_dir)?;
        Ok(Arc::new(Self {
            ctx: StartContext {
                catalog,
                backend,
                account,
            },
            pools: RwLock::new(HashMap::new()),
            records,
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
            closing: AtomicBool::new(false),
        }))
    }

    /// Checks at deploy time that this host can start `runtime`.
    pub async fn check_runtime(&self, runtime: &Runtime) -> Result<(), InvokeError> {
        if runtime.family() != RuntimeFamily::Provided {
            self.ctx.catalog.interpreter(runtime).await?;
        }
        Ok(())
    }

    fn pool(&self, version: &Arc<DeployedVersion>) -> Arc<Pool> {
        let key = (
            version.name.to_string(),
            version.version.clone(),
            version.revision_id.clone(),
        );
        if let Some(p) = self.pools.read().get(&key) {
            return p.clone();
        }
        self.pools
            .write()
            .entry(key)
            .or_insert_with(|| Arc::new(Pool::new()))
            .clone()
    }

    /// Stops the warm environments of a function (`version` None: all versions) because its
    /// code or configuration changed or it was deleted.
    pub fn retire(&self, function: &str, version: Option<&str>) {
        let mut pools = self.pools.write();
        pools.retain(|(f, v, _), pool| {
            let hit = f == function && version.is_none_or(|want| want == v);
            if hit {
                pool.retire();
            }
            !hit
        });
    }

    /// Runs one synchronous invocation.
    pub async fn invoke(&self, inv: Invocation) -> Result<InvocationResult, InvokeError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(InvokeError::ShuttingDown);
        }
        let _guard = InFlight::enter(self);
        let request_id = lambdalet_core::ids::new_request_id();
        let started_at = SystemTime::now();
        let pool = self.pool(&inv.target);
        let version = &inv.target;

        let mut instance = match pool.take_idle() {
            Some(i) => i,
            None => match Instance::start(&self.ctx, version, InitType::OnDemand).await? {
                Ok(i) => {
                    pool.register(&i);
                    i
                }
                Err(failure) => {
                    return Ok(self.init_failed(&inv, &request_id, started_at, failure));
                }
            },
        };
        let init_duration = instance.init_duration.take();

        let mut log = instance.logs.take();
        log.push_str(&start_line(&request_id, &version.version));
        let timeout = Duration::from_secs(version.config.timeout_secs.into());
        let event = Event {
            request_id: request_id.clone(),
            deadline_ms: timefmt::epoch_millis(SystemTime::now() + timeout),
            invoked_arn: inv.invoked_arn.clone(),
            trace_id: inv.trace_id.clone().unwrap_or_else(new_trace_id),
            client_context: inv.client_context.clone(),
            cognito_identity: None,
            content_type: "application/json".to_owned(),
            payload: inv.payload.clone(),
        };
        let t0 = Instant::now();
        let reply = instance.channel.dispatch(event);
        let mut exited = instance.sandbox.exited();
        let ending = tokio::select! {
            r = reply => match r {
                Ok(outcome) => Ending::Runtime(outcome),
                Err(_) => Ending::Crashed("the runtime API channel closed".to_owned()),
            },
            info = exited.wait_for(Option::is_some) => {
                let why = match info.ok().and_then(|i| *i) {
                    Some(i) if i.code == Some(0) => "Runtime exited without providing a reason".to_owned(),
                    Some(i) => format!("Runtime exited with error: {i}"),
                    None => "Runtime exited".to_owned(),
                };
                Ending::Crashed(why)
            }
            _ = tokio::time::sleep(timeout) => Ending::TimedOut,
        };
        let elapsed = t0.elapsed().min(timeout);
        let max_memory_used_mb = instance.max_memory_used_mb();
        let healthy = matches!(ending, Ending::Runtime(_));
        if !healthy {
            instance.sandbox.kill();
        }
        instance.logs.sync().await;
        log.push_str(&instance.logs.take());
        if !log.ends_with('\n') {
            log.push('\n');
        }

        let c = conclude(ending, &request_id, timeout, &mut log);
        log.push_str(&end_line(&request_id));
        log.push_str(&report_line(&Report {
            request_id: &request_id,
            duration: elapsed,
            memory_mb: version.config.memory_mb,
            max_memory_used_mb,
            init_duration,
            status: c.status,
        }));
        if healthy {
            pool.release(instance);
        } else {
            pool.discard(instance);
        }
        Ok(self.finish(
            &inv,
            request_id,
            started_at,
            elapsed,
            c.outcome,
            log,
            c.payload,
            c.content_type,
        ))
    }

    /// The invocation's environment could not start: the caller gets the init error as a
    /// function error, as the service reports it.
    fn init_failed(
        &self,
        inv: &Invocation,
        request_id: &str,
        started_at: SystemTime,
        failure: StartFailure,
    ) -> InvocationResult {
        let version = &inv.target;
        let (body, error_type) = match failure.problem {
            InitProblem::Reported(f) => {
                let t = f
                    .error_type
                    .clone()
                    .or_else(|| error_type_of(&f.body))
                    .unwrap_or_else(|| "Runtime.Unknown".to_owned());
                let body = if f.body.is_empty() {
                    error_json(&t, "init failed")
                } else {
                    f.body
                };
                (body, t)
            }
            InitProblem::Exited(info) => {
                let why = if info.code == Some(0) {
                    "Runtime exited without providing a reason".to_owned()
                } else {
                    format!("Runtime exited with error: {info}")
                };
                let msg = format!("RequestId: {request_id} Error: {why}");
                (
                    error_json("Runtime.ExitError", &msg),
                    "Runtime.ExitError".to_owned(),
                )
            }
            InitProblem::TimedOut => {
                let msg = format!(
                    "RequestId: {request_id} Error: the runtime did not call /runtime/invocation/next within {}.00 seconds of starting (init timeout)",
                    lambdalet_core::limits::INIT_TIMEOUT_SECS
                );
                (
                    error_json("Sandbox.Timedout", &msg),
                    "Sandbox.Timedout".to_owned(),
                )
            }
            InitProblem::Launch(why) => {
                let msg = format!("RequestId: {request_id} Error: {why}");
                (
                    error_json("Runtime.InvalidEntrypoint", &msg),
                    "Runtime.InvalidEntrypoint".to_owned(),
                )
            }
        };
        let mut log = failure.log;
        if !log.is_empty() && !log.ends_with('\n') {
            log.push('\n');
        }
        log.push_str(&format!(
            "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {error_type}\n",
            failure.init_duration.as_secs_f64() * 1000.0
        ));
        log.push_str(&start_line(request_id, &version.version));
        log.push_str(&end_line(request_id));
        log.push_str(&report_line(&Report {
            request_id,
            duration: Duration::ZERO,
            memory_mb: version.config.memory_mb,
            max_memory_used_mb: 0,
            init_duration: Some(failure.init_duration),
            status: Some(("error", Some(&error_type))),
        }));
        self.finish(
            inv,
            request_id.to_owned(),
            started_at,
            Duration::ZERO,
            Outcome::InitError,
            log,
            body,
            "application/json".to_owned(),
        )
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a private constructor of the result and its record"
    )]
    fn finish(
        &self,
        inv: &Invocation,
        request_id: String,
        started_at: SystemTime,
        elapsed: Duration,
        outcome: Outcome,
        log: String,
        payload: Bytes,
        content_type: String,
    ) -> InvocationResult {
        let log_tail = inv
            .want_log_tail
            .then(|| tail(&log, LOG_TAIL_BYTES).to_owned());
        tracing::info!(
            function = %inv.target.name,
            version = %inv.target.version,
            request_id = %request_id,
            outcome = outcome.as_str(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "invoke.done"
        );
        self.records.write(InvocationRecord {
            id: 0,
            request_id: request_id.clone(),
            function: inv.target.name.to_string(),
            version: inv.target.version.clone(),
            started_ms: timefmt::epoch_millis(started_at),
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            outcome,
            log,
        });
        InvocationResult {
            request_id,
            executed_version: inv.target.version.clone(),
            payload,
            content_type,
            function_error: outcome != Outcome::Success,
            log_tail,
        }
    }

    /// Stops taking invocations, lets those in flight finish for up to `grace`, then stops
    /// every environment (SIGTERM, then SIGKILL).
    pub async fn shutdown(&self, grace: Duration) {
        self.closing.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + grace;
        while self.in_flight.load(Ordering::Acquire) > 0 {
            let notified = self.drained.notified();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(
                    in_flight = self.in_flight.load(Ordering::Acquire),
                    "shutdown grace period over; stopping busy sandboxes"
                );
                break;
            }
        }
        let pools: Vec<_> = self.pools.write().drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.shutdown(Duration::from_millis(300)).await;
        }
    }

    /// Number of invocations running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// How many pools exist (for tests and metrics).
    pub fn pool_count(&self) -> usize {
        self.pools
            .read()
            .values()
            .filter(|p| !p.is_retired())
            .count()
    }
}

struct InFlight<'a>(&'a Invoker);

impl<'a> InFlight<'a> {
    fn enter(invoker: &'a Invoker) -> Self {
        invoker.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(invoker)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

fn error_type_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errorType")?.as_str().map(str::to_owned)
}

/// An X-Ray trace header for an invocation that came without one.
fn new_trace_id() -> String {
    let secs = timefmt::epoch_millis(SystemTime::now()) / 1000;
    format!(
        "Root=1-{secs:08x}-{:024x};Parent={:016x};Sampled=0",
        fastrand::u128(..) & ((1u128 << 96) - 1),
        fastrand::u64(..)
    )
}
