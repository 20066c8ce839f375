//! The end of an invocation's invoke phase: once the runtime has answered, the extensions that
//! got the INVOKE event must call `next` again (within what is left of the timeout) before the
//! environment takes another invocation; then the log gets END and REPORT (whose duration
//! includes the extensions' part, as Lambda reports it), the telemetry subscribers get
//! `platform.runtimeDone` and `platform.report`, and the environment goes back to its pool.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambdalet_core::DeployedVersion;
use lambdalet_store::Outcome;

use crate::instance::Instance;
use crate::invoker::Inner;
use crate::logs::{PlatformLines, Report};
use crate::platform::{self, Done};
use crate::recorded::write_record;
use crate::scheduler::PoolKey;
use crate::supervisor;

/// An invocation whose runtime has answered (or failed).
pub(crate) struct InvokePhase {
    pub key: PoolKey,
    pub instance: Instance,
    pub version: Arc<DeployedVersion>,
    pub request_id: String,
    /// The log so far (up to START).
    pub log: String,
    /// The lines the platform adds for how the invocation ended.
    pub lines: String,
    pub t0: Instant,
    pub timeout: Duration,
    pub runtime_elapsed: Duration,
    pub healthy: bool,
    pub wait_for_extensions: bool,
    pub init_duration: Option<Duration>,
    pub status: Option<(&'static str, Option<&'static str>)>,
    pub outcome: Outcome,
    pub produced_bytes: usize,
    pub started_at: SystemTime,
    pub function: String,
    /// Counts the invocation as running (`ConcurrentExecutions`) until the phase ends.
    pub running: crate::metrics::Running,
}

impl InvokePhase {
    /// Waits for the extensions, writes the log and the record, gives the environment back.
    /// Returns the log.
    pub(crate) async fn complete(self, inner: &Arc<Inner>) -> String {
        let Self {
            key,
            mut instance,
            version,
            request_id,
            mut log,
            lines,
            t0,
            timeout,
            runtime_elapsed,
            mut healthy,
            wait_for_extensions,
            init_duration,
            mut status,
            outcome,
            produced_bytes,
            started_at,
            function,
            running,
        } = self;
        let extensions = instance.ext.extensions.clone();
        if wait_for_extensions {
            let left = timeout.saturating_sub(t0.elapsed());
            let settled = tokio::time::timeout(left, extensions.wait_settled())
                .await
                .is_ok();
            if !settled {
                healthy = false;
                instance.shutdown_reason = "timeout";
                status = Some(("timeout", None));
            } else if extensions.failure().is_some() {
                healthy = false;
                instance.shutdown_reason = "failure";
                status = Some(("error", Some("Extension.Crash")));
            }
        } else if healthy && extensions.failure().is_some() {
            healthy = false;
            instance.shutdown_reason = "failure";
        }
        let total = t0.elapsed().min(timeout);
        let max_memory_used_mb = instance.max_memory_used_mb();
        instance.logs.sync().await;
        let function_log = instance.logs.take();
        let telemetry = instance.ext.telemetry.clone();
        telemetry.emit_lines("function", &function_log);
        log.push_str(&function_log);
        if let Some(ext) = &instance.ext_logs {
            ext.sync().await;
            let ext_log = ext.take();
            telemetry.emit_lines("extension", &ext_log);
            log.push_str(&ext_log);
        }
        if !log.ends_with('\n') {
            log.push('\n');
        }
        log.push_str(&lines);
        let (tstatus, error_type) = match (status, outcome) {
            (Some((s, t)), _) => (s, t),
            (None, Outcome::Success) => ("success", None),
            (None, _) => ("error", None),
        };
        let platform_lines = PlatformLines(&version.config.logging);
        log.push_str(&platform_lines.end(&request_id, tstatus));
        log.push_str(&platform_lines.report(&Report {
            request_id: &request_id,
            duration: total,
            memory_mb: version.config.memory_mb,
            max_memory_used_mb,
            init_duration,
            status,
        }));
        let done = Done {
            request_id: &request_id,
            status: tstatus,
            error_type,
            runtime: runtime_elapsed,
            total,
            produced_bytes,
            memory_mb: version.config.memory_mb,
            max_memory_used_mb,
            init: init_duration,
        };
        platform::runtime_done(&telemetry, &done);
        platform::end_and_report(&telemetry, &done);
        if healthy && version.config.lifecycle.pinned {
            supervisor::watch_status(&instance, &version);
        }
        inner.sched.release(&key, instance, healthy);
        write_record(
            inner,
            &function,
            &version.version,
            &request_id,
            started_at,
            (total, init_duration),
            outcome,
            log.clone(),
        );
        drop(running);
        log
    }
}
