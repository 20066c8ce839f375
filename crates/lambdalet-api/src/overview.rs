//! `GET /lambdalet/v1/overview`: every function at a glance, what `lambdalet top` polls. One
//! answer holds each function's cumulative counters (a client computes rates from two of them),
//! its sandboxes now, its current minute's durations and its last hour.

use std::time::SystemTime;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use lambdalet_invoker::PoolStats;
use lambdalet_invoker::metrics::{FunctionMetrics, MinutePoint, VersionMetrics};
use serde::Serialize;

use crate::body::json_response;
use crate::state::ApiState;

/// What the overview says of one function besides its metrics.
struct Described<'a> {
    name: &'a str,
    /// `python3.11`, or `Image` for a container image function.
    runtime: String,
    /// `Active` or `Failed`.
    state: &'static str,
    pinned: bool,
}

/// `GET /lambdalet/v1/overview`: `{"timeMs", "inFlight", "functions": [...]}`, the functions
/// sorted by name.
pub(crate) async fn overview(State(s): State<ApiState>) -> Response {
    let metrics = s.invoker.metrics();
    let snapshot = metrics.snapshot();
    let pools = s.invoker.all_stats();
    let mut names = s.control.function_names();
    names.sort();
    let functions: Vec<Entry> = names
        .iter()
        .filter_map(|name| {
            // A function deleted since `function_names` is left out.
            let config = s.control.get_function(name, None).ok()?.view.record.config;
            let described = Described {
                name,
                runtime: config
                    .runtime
                    .as_ref()
                    .map_or_else(|| "Image".to_owned(), ToString::to_string),
                state: s.control.state(name, "$LATEST").0,
                pinned: config.lifecycle.pinned,
            };
            let own_pools = pools
                .iter()
                .filter(|((f, _), _)| f == name)
                .map(|(_, st)| st);
            Some(entry(
                described,
                snapshot.iter().find(|f| f.function == *name),
                own_pools,
                &metrics.minutes(name, 60),
            ))
        })
        .collect();
    json_response(
        StatusCode::OK,
        &Overview {
            time_ms: lambdalet_core::timefmt::epoch_millis(SystemTime::now()),
            in_flight: s.invoker.in_flight(),
            functions,
        },
    )
}

/// The answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Overview {
    /// The daemon's clock, milliseconds since the epoch: what clients divide counts by.
    time_ms: u64,
    /// Invocations running now, over all functions.
    in_flight: usize,
    functions: Vec<Entry>,
}

/// One function of the overview, its fields in the order the answer gives them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    function: String,
    runtime: String,
    state: &'static str,
    pinned: bool,
    /// Counters since the daemon started, summed over the function's versions.
    invocations: u64,
    errors: u64,
    throttles: u64,
    cold_starts: u64,
    /// Invocations running now.
    concurrent: u64,
    sandboxes: Sandboxes,
    last_minute: LastMinute,
    last_hour: LastHour,
}

/// Sandboxes now, over the function's versions.
#[derive(Serialize, Default)]
struct Sandboxes {
    idle: usize,
    busy: usize,
    starting: usize,
    queued: usize,
}

/// The current minute.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LastMinute {
    invocations: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

/// The last 60 minutes.
#[derive(Serialize)]
struct LastHour {
    invocations: u64,
    errors: u64,
}

/// One function's entry: counters summed over its versions, sandboxes over its pools, the
/// current minute (the last of `minutes`) and the sum of `minutes` (the last hour).
fn entry<'a>(
    d: Described<'_>,
    metrics: Option<&FunctionMetrics>,
    pools: impl Iterator<Item = &'a PoolStats>,
    minutes: &[MinutePoint],
) -> Entry {
    let sum = |get: fn(&VersionMetrics) -> u64| {
        metrics.map_or(0, |m| m.versions.iter().map(get).sum::<u64>())
    };
    let mut sandboxes = Sandboxes::default();
    for p in pools {
        sandboxes.idle += p.idle;
        sandboxes.busy += p.busy;
        sandboxes.starting += p.starting;
        sandboxes.queued += p.queued;
    }
    let current = minutes.last();
    Entry {
        function: d.name.to_owned(),
        runtime: d.runtime,
        state: d.state,
        pinned: d.pinned,
        invocations: sum(|v| v.invocations),
        errors: sum(|v| v.errors),
        throttles: sum(|v| v.throttles),
        cold_starts: sum(|v| v.cold_starts),
        concurrent: metrics.map_or(0, |m| m.concurrent),
        sandboxes,
        last_minute: LastMinute {
            invocations: current.map_or(0, |m| m.invocations),
            p50_ms: current.and_then(|m| m.p50_ms),
            p99_ms: current.and_then(|m| m.p99_ms),
        },
        last_hour: LastHour {
            invocations: minutes.iter().map(|m| m.invocations).sum(),
            errors: minutes.iter().map(|m| m.errors).sum(),
        },
    }
}

#[cfg(test)]
mod tests {
    use lambdalet_invoker::metrics::hist::{AGE_BOUNDS, DURATION_BOUNDS};
    use lambdalet_invoker::metrics::{Histogram, VersionMetrics};

    use serde_json::{Value, json};

    use super::*;

    fn version(version: &str, invocations: u64, errors: u64) -> VersionMetrics {
        VersionMetrics {
            version: version.to_owned(),
            invocations,
            errors,
            throttles: 1,
            cold_starts: 1,
            duration: Histogram::new(DURATION_BOUNDS),
            init_duration: Histogram::new(DURATION_BOUNDS),
        }
    }

    fn minute(invocations: u64, errors: u64, p50: Option<f64>) -> MinutePoint {
        MinutePoint {
            start_ms: 0,
            invocations,
            errors,
            throttles: 0,
            cold_starts: 0,
            p50_ms: p50,
            p90_ms: None,
            p99_ms: p50.map(|p| p * 2.0),
            max_concurrency: 0,
        }
    }

    #[test]
    fn sums_versions_pools_and_the_hour() {
        let metrics = FunctionMetrics {
            function: "f".to_owned(),
            versions: vec![version("$LATEST", 3, 1), version("1", 2, 0)],
            concurrent: 2,
            async_received: 0,
            async_age: Histogram::new(AGE_BOUNDS),
            async_dropped: Vec::new(),
            dead_letter_errors: 0,
        };
        let pools = [
            PoolStats {
                idle: 1,
                busy: 1,
                starting: 0,
                queued: 0,
            },
            PoolStats {
                idle: 0,
                busy: 1,
                starting: 1,
                queued: 4,
            },
        ];
        let d = Described {
            name: "f",
            runtime: "python3.11".to_owned(),
            state: "Active",
            pinned: false,
        };
        let minutes = [minute(4, 1, None), minute(1, 0, Some(3.0))];
        let v =
            serde_json::to_value(entry(d, Some(&metrics), pools.iter(), &minutes)).expect("JSON");
        assert_eq!(v["invocations"], 5);
        assert_eq!(v["errors"], 1);
        assert_eq!(v["throttles"], 2);
        assert_eq!(v["coldStarts"], 2);
        assert_eq!(v["concurrent"], 2);
        assert_eq!(
            v["sandboxes"],
            json!({"idle": 1, "busy": 2, "starting": 1, "queued": 4})
        );
        assert_eq!(
            v["lastMinute"],
            json!({"invocations": 1, "p50Ms": 3.0, "p99Ms": 6.0})
        );
        assert_eq!(v["lastHour"], json!({"invocations": 5, "errors": 1}));

        let d = Described {
            name: "idle",
            runtime: "Image".to_owned(),
            state: "Failed",
            pinned: true,
        };
        let idle = serde_json::to_value(entry(d, None, std::iter::empty(), &[])).expect("JSON");
        assert_eq!(idle["invocations"], 0);
        assert_eq!(idle["lastMinute"]["p50Ms"], Value::Null);
        assert_eq!(
            (&idle["runtime"], &idle["pinned"]),
            (&json!("Image"), &json!(true))
        );
    }

    #[test]
    fn fields_come_in_a_readable_order() {
        let d = Described {
            name: "f",
            runtime: "nodejs20.x".to_owned(),
            state: "Active",
            pinned: false,
        };
        let text = serde_json::to_string(&entry(d, None, std::iter::empty(), &[])).expect("JSON");
        assert!(
            text.starts_with(r#"{"function":"f","runtime":"nodejs20.x","state":"Active""#),
            "{text}"
        );
    }
}
