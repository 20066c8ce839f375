//! How an invocation is recorded (its record with the log, written in the background, and its
//! metrics), and the answer of one whose sandbox could not start.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lambdalet_core::limits::LOG_TAIL_BYTES;
use lambdalet_core::timefmt;
use lambdalet_store::{InvocationRecord, Outcome};
use std::sync::Arc;

use crate::instance::{InitProblem, StartFailure};
use crate::invoker::Inner;
use crate::logs::{PlatformLines, Report, tail};
use crate::outcome::error_json;
use crate::request::{Invocation, InvocationResult};

/// The invocation's environment could not start: the caller gets the init error as a
/// function error, as the service reports it.
pub(crate) fn init_failed(
    inner: &Inner,
    inv: &Invocation,
    version: &lambdalet_core::DeployedVersion,
    request_id: &str,
    started_at: SystemTime,
    failure: StartFailure,
) -> InvocationResult {
    let (body, error_type) = describe_init_failure(failure.problem, request_id);
    let mut log = failure.log;
    if !log.is_empty() && !log.ends_with('\n') {
        log.push('\n');
    }
    log.push_str(&format!(
        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {error_type}\n",
        failure.init_duration.as_secs_f64() * 1000.0
    ));
    let lines = PlatformLines(&version.config.logging);
    log.push_str(&lines.start(request_id, &version.version));
    log.push_str(&lines.end(request_id, "error"));
    log.push_str(&lines.report(&Report {
        request_id,
        duration: Duration::ZERO,
        memory_mb: version.config.memory_mb,
        max_memory_used_mb: 0,
        init_duration: Some(failure.init_duration),
        status: Some(("error", Some(&error_type))),
    }));
    finish(
        inner,
        inv,
        &version.version,
        request_id.to_owned(),
        started_at,
        (Duration::ZERO, Some(failure.init_duration)),
        Outcome::InitError,
        log,
        body,
        "application/json".to_owned(),
    )
}

/// The caller's error body and the error type of a failed init.
pub(crate) fn describe_init_failure(problem: InitProblem, request_id: &str) -> (Bytes, String) {
    match problem {
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
        InitProblem::Exited(info, oom) => {
            let why = if info.code == Some(0) {
                "Runtime exited without providing a reason".to_owned()
            } else {
                format!("Runtime exited with error: {info}")
            };
            let msg = format!("RequestId: {request_id} Error: {why}");
            let t = if oom {
                "Runtime.OutOfMemory"
            } else {
                "Runtime.ExitError"
            };
            (error_json(t, &msg), t.to_owned())
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
        InitProblem::Extension(f) => {
            let why = match f.error_type.as_str() {
                "Extension.Crash" => "exited before init completed".to_owned(),
                "Extension.LaunchError" => "could not be started".to_owned(),
                t => format!("reported {t}"),
            };
            let msg = format!("RequestId: {request_id} Error: extension {} {why}", f.name);
            (error_json(&f.error_type, &msg), f.error_type)
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "a private constructor of the result and its record"
)]
fn finish(
    inner: &Inner,
    inv: &Invocation,
    executed_version: &str,
    request_id: String,
    started_at: SystemTime,
    (elapsed, init): (Duration, Option<Duration>),
    outcome: Outcome,
    log: String,
    payload: Bytes,
    content_type: String,
) -> InvocationResult {
    let log_tail = inv
        .want_log_tail
        .then(|| tail(&log, LOG_TAIL_BYTES).to_owned());
    write_record(
        inner,
        inv.target.name.as_str(),
        executed_version,
        &request_id,
        started_at,
        (elapsed, init),
        outcome,
        log,
    );
    InvocationResult {
        request_id,
        executed_version: executed_version.to_owned(),
        payload,
        content_type,
        function_error: outcome != Outcome::Success,
        log_tail,
    }
}

/// Writes an invocation's record (with its log) to the store, in the background writer, and
/// counts it in the metrics. `elapsed` is its duration, `init` its Init Duration on a cold
/// start.
#[allow(clippy::too_many_arguments, reason = "the fields of the record")]
pub(crate) fn write_record(
    inner: &Inner,
    function: &str,
    executed_version: &str,
    request_id: &str,
    started_at: SystemTime,
    (elapsed, init): (Duration, Option<Duration>),
    outcome: Outcome,
    log: String,
) {
    inner.metrics.ended(&crate::metrics::Ended {
        function,
        version: executed_version,
        duration: elapsed,
        error: outcome != Outcome::Success,
        init,
    });
    tracing::debug!(
        function = %function,
        version = %executed_version,
        request_id = %request_id,
        outcome = outcome.as_str(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "invoke.done"
    );
    let record = InvocationRecord {
        id: 0,
        request_id: request_id.to_owned(),
        function: function.to_owned(),
        version: executed_version.to_owned(),
        started_ms: timefmt::epoch_millis(started_at),
        duration_ms: elapsed.as_secs_f64() * 1000.0,
        outcome,
        log,
    };
    if inner.live.receiver_count() > 0 {
        let _ = inner.live.send(Arc::new(record.clone()));
    }
    inner.records.write(record);
}

fn error_type_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errorType")?.as_str().map(str::to_owned)
}
