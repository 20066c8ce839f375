//! Lambda's CloudWatch metrics in `/metrics`, one Prometheus family per metric, labelled by
//! `function` (and `version` where Lambda has one), and the per-minute view the console draws
//! (`GET /lambdalet/v1/functions/{name}/metrics`).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::StatusCode;
use lambdalet_core::FunctionName;
use lambdalet_invoker::metrics::{FunctionMetrics, Histogram, VersionMetrics};
use serde_json::json;

use crate::body::json_response;
use crate::error::ApiError;
use crate::state::ApiState;

/// A label value as the text format wants it.
pub(crate) fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (bound, n) in h
        .bounds
        .iter()
        .map(|b| b.to_string())
        .chain(["+Inf".to_owned()])
        .zip(h.cumulative())
    {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

fn version_labels(f: &FunctionMetrics, v: &VersionMetrics) -> String {
    format!(
        "function=\"{}\",version=\"{}\"",
        escape(&f.function),
        escape(&v.version)
    )
}

/// Appends the Lambda metrics of every function.
pub(crate) fn render(s: &ApiState, out: &mut String) {
    let all = s.invoker.metrics().snapshot();
    type Count = fn(&VersionMetrics) -> u64;
    let counters: [(&str, &str, Count); 4] = [
        (
            "lambdalet_invocations_total",
            "Invocations that ran, successfully or not (Lambda's Invocations)",
            |v| v.invocations,
        ),
        (
            "lambdalet_errors_total",
            "Invocations that ended in a function error: an error the function returned, a crash, a timeout (Lambda's Errors)",
            |v| v.errors,
        ),
        (
            "lambdalet_throttles_total",
            "Invocation requests refused for concurrency (Lambda's Throttles)",
            |v| v.throttles,
        ),
        (
            "lambdalet_cold_starts_total",
            "Invocations that started a new sandbox (an Init Duration in their REPORT)",
            |v| v.cold_starts,
        ),
    ];
    for (name, help, get) in counters {
        head(out, name, "counter", help);
        for f in &all {
            for v in &f.versions {
                let _ = writeln!(out, "{name}{{{}}} {}", version_labels(f, v), get(v));
            }
        }
    }
    type Hist = fn(&VersionMetrics) -> &Histogram;
    let hists: [(&str, &str, Hist); 2] = [
        (
            "lambdalet_duration_seconds",
            "How long invocations ran (Lambda's Duration, REPORT's Duration)",
            |v| &v.duration,
        ),
        (
            "lambdalet_init_duration_seconds",
            "Init Duration of cold starts",
            |v| &v.init_duration,
        ),
    ];
    for (name, help, get) in hists {
        head(out, name, "histogram", help);
        for f in &all {
            for v in &f.versions {
                histogram(out, name, &version_labels(f, v), get(v));
            }
        }
    }
    function_metrics(&all, out);
}

/// The per-function families: concurrency and the async queue's.
fn function_metrics(all: &[FunctionMetrics], out: &mut String) {
    let labels = |f: &FunctionMetrics| format!("function=\"{}\"", escape(&f.function));
    head(
        out,
        "lambdalet_concurrent_executions",
        "gauge",
        "Invocations running now (Lambda's ConcurrentExecutions)",
    );
    for f in all {
        let _ = writeln!(
            out,
            "lambdalet_concurrent_executions{{{}}} {}",
            labels(f),
            f.concurrent
        );
    }
    head(
        out,
        "lambdalet_async_events_received_total",
        "counter",
        "Events queued for asynchronous invocation (Lambda's AsyncEventsReceived)",
    );
    for f in all {
        let _ = writeln!(
            out,
            "lambdalet_async_events_received_total{{{}}} {}",
            labels(f),
            f.async_received
        );
    }
    head(
        out,
        "lambdalet_async_event_age_seconds",
        "histogram",
        "Time from an event's queueing to each attempt to invoke it (Lambda's AsyncEventAge)",
    );
    for f in all {
        histogram(
            out,
            "lambdalet_async_event_age_seconds",
            &labels(f),
            &f.async_age,
        );
    }
    head(
        out,
        "lambdalet_async_events_dropped_total",
        "counter",
        "Events dropped without a successful invocation, by reason (Lambda's AsyncEventsDropped); a configured dead-letter target or OnFailure destination got them first",
    );
    for f in all {
        for (reason, n) in &f.async_dropped {
            let _ = writeln!(
                out,
                "lambdalet_async_events_dropped_total{{{},reason=\"{}\"}} {n}",
                labels(f),
                reason.as_str()
            );
        }
    }
    head(
        out,
        "lambdalet_dead_letter_errors_total",
        "counter",
        "Dropped events whose record could not be delivered to the dead-letter target or OnFailure destination (Lambda's DeadLetterErrors)",
    );
    for f in all {
        let _ = writeln!(
            out,
            "lambdalet_dead_letter_errors_total{{{}}} {}",
            labels(f),
            f.dead_letter_errors
        );
    }
}

/// `GET /lambdalet/v1/functions/{name}/metrics?minutes=N`: the function's last N minutes (1-60,
/// default 60), a point a minute, oldest first, and its totals since the daemon started.
pub(crate) async fn minutes(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = FunctionName::new(&name)?;
    let n = match params.get("minutes") {
        None => 60,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=60).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!("minutes must be a number from 1 to 60 (got {m:?})"))
            })?,
    };
    s.control.get_function(name.as_str(), None)?;
    let metrics = s.invoker.metrics();
    let points = metrics.minutes(name.as_str(), n);
    let snapshot = metrics.snapshot();
    let f = snapshot.iter().find(|f| f.function == name.as_str());
    let sum =
        |get: fn(&VersionMetrics) -> u64| f.map_or(0, |f| f.versions.iter().map(get).sum::<u64>());
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "function": name.as_str(),
            "minutes": points,
            "totals": {
                "invocations": sum(|v| v.invocations),
                "errors": sum(|v| v.errors),
                "throttles": sum(|v| v.throttles),
                "coldStarts": sum(|v| v.cold_starts),
                "concurrentExecutions": f.map_or(0, |f| f.concurrent),
                "asyncEventsReceived": f.map_or(0, |f| f.async_received),
                "asyncEventsDropped": f.map_or(0, |f| f.async_dropped.iter().map(|(_, n)| n).sum::<u64>()),
                "deadLetterErrors": f.map_or(0, |f| f.dead_letter_errors),
            },
        }),
    ))
}
