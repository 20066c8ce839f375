//! The platform's telemetry events (`platform.*`, spec digest 2 §4.3), as one environment
//! goes through init and invocations.

use std::time::{Duration, SystemTime};

use lambdalet_core::timefmt;

use lambdalet_core::DeployedVersion;
use serde_json::{Value, json};

use crate::launch::InitType;
use crate::runtime_api::ExtApis;
use crate::telemetry::Telemetry;

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub(crate) fn init_start(
    t: &Telemetry,
    version: &DeployedVersion,
    init_type: InitType,
    instance_id: &str,
) {
    let runtime = version
        .config
        .runtime
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    t.emit(
        "platform.initStart",
        json!({
            "initializationType": init_type.as_str(),
            "phase": "init",
            "runtimeVersion": runtime,
            "functionName": version.name.to_string(),
            "functionVersion": version.version,
            "instanceId": instance_id,
            "instanceMaxMemory": version.config.memory_mb,
        }),
    );
}

/// Init succeeded: the runtime's and the extensions' part, and the report.
pub(crate) fn init_done(ext: &ExtApis, init_type: InitType, duration: Duration) {
    let t = &ext.telemetry;
    t.emit(
        "platform.initRuntimeDone",
        json!({ "initializationType": init_type.as_str(), "phase": "init", "status": "success" }),
    );
    for e in ext.extensions.registered() {
        t.emit(
            "platform.extension",
            json!({ "name": e.name, "state": "Ready", "events": e.events }),
        );
    }
    t.emit(
        "platform.initReport",
        json!({
            "initializationType": init_type.as_str(),
            "phase": "init",
            "status": "success",
            "metrics": { "durationMs": ms(duration) },
        }),
    );
}

pub(crate) fn start(t: &Telemetry, request_id: &str, version: &str, trace: &str) {
    if !t.listening() {
        return;
    }
    t.emit(
        "platform.start",
        json!({
            "requestId": request_id,
            "version": version,
            "tracing": { "type": "X-Amzn-Trace-Id", "value": trace },
        }),
    );
}

/// What one invocation's end reports.
pub(crate) struct Done<'a> {
    pub request_id: &'a str,
    pub status: &'a str,
    pub error_type: Option<&'a str>,
    /// The runtime's part.
    pub runtime: Duration,
    /// Runtime and extensions together (the invoke phase).
    pub total: Duration,
    pub produced_bytes: usize,
    pub memory_mb: u32,
    pub max_memory_used_mb: u64,
    pub init: Option<Duration>,
}

pub(crate) fn runtime_done(t: &Telemetry, d: &Done<'_>) {
    if !t.listening() {
        return;
    }
    let mut record = json!({
        "requestId": d.request_id,
        "status": d.status,
        "metrics": { "durationMs": ms(d.runtime), "producedBytes": d.produced_bytes },
    });
    if let Some(e) = d.error_type {
        record["errorType"] = Value::String(e.to_owned());
    }
    t.emit("platform.runtimeDone", record);
}

pub(crate) fn end_and_report(t: &Telemetry, d: &Done<'_>) {
    if !t.listening() {
        return;
    }
    t.emit("platform.end", json!({ "requestId": d.request_id }));
    let total = ms(d.total);
    let mut metrics = json!({
        "durationMs": total,
        "billedDurationMs": total.ceil().max(1.0) as u64,
        "memorySizeMB": d.memory_mb,
        "maxMemoryUsedMB": d.max_memory_used_mb,
    });
    if let Some(init) = d.init {
        metrics["initDurationMs"] = json!(ms(init));
    }
    let mut record = json!({ "requestId": d.request_id, "status": d.status, "metrics": metrics });
    if let Some(e) = d.error_type {
        record["errorType"] = Value::String(e.to_owned());
    }
    t.emit("platform.report", record);
}

/// An X-Ray trace header for an invocation that came without one, as Lambda makes it: sampled
/// when the function's tracing mode is `Active`.
pub(crate) fn new_trace_id(mode: &str) -> String {
    let secs = timefmt::epoch_millis(SystemTime::now()) / 1000;
    format!(
        "Root=1-{secs:08x}-{:024x};Parent={:016x};Sampled={}",
        fastrand::u128(..) & ((1u128 << 96) - 1),
        fastrand::u64(..),
        u8::from(mode == "Active")
    )
}
