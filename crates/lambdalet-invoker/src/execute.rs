//! Running one invocation: get an environment from the scheduler (or start one), hand the
//! event to its runtime, wait for the outcome within the timeout, write the log, give the
//! environment back.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use lambdalet_core::limits::LOG_TAIL_BYTES;
use lambdalet_core::{Encoding, timefmt};
use lambdalet_store::Outcome;

use crate::error::InvokeError;
use crate::instance::{InitProblem, Instance, StartFailure};
use crate::invoke_phase::InvokePhase;
use crate::invoker::{InFlight, Inner};
use crate::launch::InitType;
use crate::logs::{PlatformLines, tail};
use crate::outcome::{Ending, conclude};
use crate::recorded::init_failed;
use crate::request::{Invocation, InvocationResult};
use crate::runtime_api::{Event, RuntimeOutcome};
use crate::scheduler::{Acquired, Lease, PoolKey, Refusal};
use crate::streaming::{self, Delivery};
use crate::traces::{Attr, InvocationTrace};

pub(crate) async fn run(
    inner: &Arc<Inner>,
    inv: Invocation,
    delivery: &mut Delivery,
) -> Result<InvocationResult, InvokeError> {
    let _guard = InFlight::enter(inner);
    let request_id = inv
        .request_id
        .clone()
        .unwrap_or_else(lambdalet_core::ids::new_request_id);
    let started_at = SystemTime::now();
    let key: PoolKey = (inv.target.name.to_string(), inv.target.version.clone());
    let (mut traced, trace) = InvocationTrace::begin(
        &inner.spans,
        inv.trace_id.as_deref(),
        &inv.target.config.tracing_mode,
        started_at,
    );

    let throttled = |r: Refusal| {
        if matches!(r, Refusal::Throttled { .. }) {
            inner.metrics.throttled(&key.0, &key.1);
        }
        refused(r)
    };
    let lease = match inner.sched.acquire(&key, &inv.target).map_err(throttled)? {
        Acquired::Now(lease) => lease,
        Acquired::Wait(rx) => {
            let from = SystemTime::now();
            let lease = rx
                .await
                .map_err(|_| InvokeError::ShuttingDown)?
                .into_result()
                .map_err(throttled)?;
            if let Some(t) = traced.as_mut() {
                t.step("queue", from, SystemTime::now(), None);
            }
            lease
        }
    };
    let running = inner.metrics.running(&key.0);
    let mut instance = match lease {
        Lease::Warm(instance) => instance,
        Lease::Start(spec) => match traced_start(&mut traced, inner, &spec).await {
            Ok(Ok(instance)) => {
                if !inner.sched.started(&key, &instance) {
                    tokio::spawn(instance.stop(crate::scheduler::STOP_GRACE));
                    return Err(InvokeError::Gone(format!(
                        "function {}:{} was deleted",
                        key.0, key.1
                    )));
                }
                instance
            }
            Ok(Err(failure)) => {
                inner.sched.start_failed(&key);
                let result = init_failed(inner, &inv, &spec, &request_id, started_at, failure);
                if let Some(t) = traced {
                    let attrs = trace_attributes(&inv, &result, true);
                    t.finish(attrs, Some("the sandbox's Init failed".to_owned()));
                }
                return Ok(result);
            }
            Err(e) => {
                inner.sched.start_failed(&key);
                return Err(e);
            }
        },
    };
    // The environment runs the version's current configuration (a redeploy may have changed
    // it since the caller resolved the function).
    let version = instance.spec.clone();
    let init_duration = instance.init_duration.take();

    let mut log = String::new();
    if let Some(ext) = &instance.ext_logs {
        log.push_str(&ext.take());
    }
    log.push_str(&instance.logs.take());
    log.push_str(&PlatformLines(&version.config.logging).start(&request_id, &version.version));
    let timeout = Duration::from_secs(version.config.timeout_secs.into());
    let binary = version.config.lifecycle.input_payload_encoding_type == Encoding::Binary;
    let deadline_ms = timefmt::epoch_millis(SystemTime::now() + timeout);
    let event = Event {
        request_id: request_id.clone(),
        deadline_ms,
        invoked_arn: inv.invoked_arn.clone(),
        trace_id: trace.clone(),
        client_context: inv.client_context.clone(),
        cognito_identity: None,
        content_type: if binary {
            "application/octet-stream"
        } else {
            "application/json"
        }
        .to_owned(),
        payload: inv.payload.clone(),
    };
    let ext_event = || {
        let event = serde_json::json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": inv.invoked_arn,
            "tracing": { "type": "X-Amzn-Trace-Id", "value": trace },
        });
        Bytes::from(event.to_string())
    };
    crate::platform::start(
        &instance.ext.telemetry,
        &request_id,
        &version.version,
        &trace,
    );
    let t0 = Instant::now();
    let reply = instance
        .channel
        .dispatch_with_limit(event, delivery.stream_limit());
    let with_extensions = instance.ext.extensions.invoke_with(ext_event) > 0;
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
            if instance.sandbox.out_of_memory() {
                Ending::OutOfMemory(why)
            } else {
                Ending::Crashed(why)
            }
        }
        _ = tokio::time::sleep(timeout) => Ending::TimedOut,
    };
    let ending = match ending {
        Ending::Runtime(RuntimeOutcome::Stream { content_type, body }) => {
            let deadline = tokio::time::Instant::from_std(t0) + timeout;
            let ids = (request_id.as_str(), version.version.as_str());
            streaming::pump(
                body,
                content_type,
                delivery,
                ids,
                deadline,
                &instance.sandbox,
            )
            .await
        }
        other => other,
    };
    let runtime_elapsed = t0.elapsed().min(timeout);
    if let Some(t) = traced.as_mut() {
        let now = SystemTime::now();
        t.step("runtime", now - t0.elapsed(), now, ending.failure());
    }
    let healthy = ending.keeps_environment();
    if !healthy {
        instance.shutdown_reason = if matches!(ending, Ending::TimedOut) {
            "timeout"
        } else {
            "failure"
        };
        let (internal, external) = instance.ext.extensions.counts();
        if internal + external > 0 {
            // The extensions get their SHUTDOWN when the environment is retired.
            instance.sandbox.kill_runtime();
        } else {
            instance.sandbox.kill();
        }
    }
    let mut lines = String::new();
    let c = conclude(ending, &request_id, timeout, &mut lines);
    let produced_bytes = c.payload.len();
    let phase = InvokePhase {
        key,
        instance,
        version,
        request_id: request_id.clone(),
        log,
        lines,
        t0,
        timeout,
        runtime_elapsed,
        healthy,
        wait_for_extensions: with_extensions && healthy,
        init_duration,
        status: c.status,
        outcome: c.outcome,
        produced_bytes,
        started_at,
        function: inv.target.name.to_string(),
        running,
    };
    let executed_version = phase.version.version.clone();
    let cold = phase.init_duration.is_some();
    let mut result = InvocationResult {
        request_id,
        executed_version,
        payload: c.payload,
        content_type: c.content_type,
        function_error: c.outcome != Outcome::Success,
        log_tail: None,
    };
    if let Some(t) = traced {
        let error = result
            .function_error
            .then(|| "the function returned an error".to_owned());
        t.finish(trace_attributes(&inv, &result, cold), error);
    }
    if with_extensions && !inv.want_log_tail {
        // The caller has its answer now; the invoke phase ends when the extensions are done.
        let inner = inner.clone();
        tokio::spawn(async move {
            let _guard = InFlight::enter(&inner);
            phase.complete(&inner).await;
        });
        return Ok(result);
    }
    let log = phase.complete(inner).await;
    if inv.want_log_tail {
        result.log_tail = Some(tail(&log, LOG_TAIL_BYTES).to_owned());
    }
    Ok(result)
}

/// Starts a sandbox for the invocation, as the trace's `init` step.
async fn traced_start(
    traced: &mut Option<InvocationTrace>,
    inner: &Arc<Inner>,
    spec: &Arc<lambdalet_core::DeployedVersion>,
) -> Result<Result<Instance, StartFailure>, InvokeError> {
    let from = SystemTime::now();
    let started = Instance::start(&inner.ctx, spec, InitType::OnDemand).await;
    if let Some(t) = traced.as_mut() {
        let error = match &started {
            Ok(Ok(_)) => None,
            Ok(Err(f)) => Some(match &f.problem {
                InitProblem::Reported(r) => r
                    .error_type
                    .clone()
                    .unwrap_or_else(|| "the runtime reported an init error".to_owned()),
                InitProblem::Exited(_, true) => "Runtime.OutOfMemory".to_owned(),
                InitProblem::Exited(..) => "Runtime.ExitError".to_owned(),
                InitProblem::TimedOut => "Sandbox.Timedout".to_owned(),
                InitProblem::Launch(why) => why.clone(),
                InitProblem::Extension(x) => x.error_type.clone(),
            }),
            Err(e) => Some(e.to_string()),
        };
        t.step("init", from, SystemTime::now(), error);
    }
    started
}

/// What the `invoke` span says of the invocation (OpenTelemetry's FaaS conventions).
fn trace_attributes(
    inv: &Invocation,
    result: &InvocationResult,
    cold: bool,
) -> Vec<(&'static str, Attr)> {
    vec![
        ("faas.name", Attr::Str(inv.target.name.to_string())),
        ("faas.version", Attr::Str(result.executed_version.clone())),
        ("faas.invocation_id", Attr::Str(result.request_id.clone())),
        ("faas.coldstart", Attr::Bool(cold)),
        ("cloud.resource_id", Attr::Str(inv.invoked_arn.clone())),
        (
            "faas.max_memory",
            Attr::Int(i64::from(inv.target.config.memory_mb) << 20),
        ),
    ]
}

fn refused(r: Refusal) -> InvokeError {
    match r {
        Refusal::Throttled { reason, message } => InvokeError::Throttled { reason, message },
        Refusal::Failed(reason) => InvokeError::FunctionFailed(reason),
        Refusal::Gone(m) => InvokeError::Gone(m),
        Refusal::ShuttingDown => InvokeError::ShuttingDown,
    }
}
