//! Lambda's metrics in `/metrics`, read by the official Prometheus Python client's parser, and
//! the per-minute view the console draws (`/lambdalet/v1/functions/{name}/metrics`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Daemon, eventually, fixture, pip_cache, repo};

/// `/metrics` parsed by `prometheus_client.parser` (which refuses a malformed exposition).
fn scrape(d: &Daemon) -> Value {
    let r = d.http("GET", "/metrics", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.header("content-type")
    );
    let mut child = Command::new("python3")
        .arg(repo().join("tests/py/parse_metrics.py"))
        .env("PYTHONPATH", pip_cache("prometheus-client"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(r.text().as_bytes())
        .expect("write the exposition");
    let out = child.wait_with_output().expect("parser");
    assert!(
        out.status.success(),
        "the Prometheus parser refused /metrics: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        r.text()
    );
    serde_json::from_slice(&out.stdout).expect("parser JSON")
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(m: &Value, family: &str, name: &str, labels: &Value) -> Option<f64> {
    m[family]["samples"].as_array()?.iter().find_map(|s| {
        let l = s[1].as_object()?;
        let all = labels.as_object()?.iter().all(|(k, v)| l.get(k) == Some(v));
        (s[0] == name && all).then(|| s[2].as_f64()).flatten()
    })
}

#[test]
fn lambda_metrics_count_what_happened_and_parse_as_prometheus_text() {
    let d = Daemon::start();
    let dir = fixture("py-basic");
    d.deploy_python(&dir, "m-ok", "app.handler", &[]);
    d.deploy_python(&dir, "m-bad", "app.raise_error", &[]);
    for i in 0..3 {
        assert_eq!(d.invoke("m-ok", &format!("{{\"i\": {i}}}")).status, 200);
    }
    let r = d.invoke("m-bad", "{}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));

    // A throttle: reserved concurrency 0 refuses every invocation.
    d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "m-ok",
        "--reserved-concurrent-executions",
        "0",
    ]);
    let r = d.invoke("m-ok", "{}");
    assert_eq!(r.status, 429, "{}", r.text());
    d.aws(&[
        "lambda",
        "delete-function-concurrency",
        "--function-name",
        "m-ok",
    ]);

    // An async event that fails with no retries left is dropped.
    d.aws_ok(&[
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        "m-bad",
        "--maximum-retry-attempts",
        "0",
    ]);
    d.invoke_async("m-bad", r#"{"async": true}"#);
    eventually(
        Duration::from_secs(20),
        "the async event to be dropped",
        || {
            let m = scrape(&d);
            sample(
                &m,
                "lambdalet_async_events_dropped",
                "lambdalet_async_events_dropped_total",
                &json!({"function": "m-bad", "reason": "retries_exhausted"}),
            ) == Some(1.0)
        },
    );

    let m = scrape(&d);
    let ok = json!({"function": "m-ok", "version": "$LATEST"});
    let bad = json!({"function": "m-bad", "version": "$LATEST"});
    let get = |family: &str, name: &str, labels: &Value| sample(&m, family, name, labels);
    assert_eq!(m["lambdalet_invocations"]["type"], "counter");
    assert_eq!(
        get("lambdalet_invocations", "lambdalet_invocations_total", &ok),
        Some(3.0)
    );
    assert_eq!(
        get("lambdalet_invocations", "lambdalet_invocations_total", &bad),
        Some(2.0),
        "one synchronous, one asynchronous"
    );
    assert_eq!(
        get("lambdalet_errors", "lambdalet_errors_total", &ok),
        Some(0.0)
    );
    assert_eq!(
        get("lambdalet_errors", "lambdalet_errors_total", &bad),
        Some(2.0)
    );
    assert_eq!(
        get("lambdalet_throttles", "lambdalet_throttles_total", &ok),
        Some(1.0)
    );
    assert_eq!(
        get("lambdalet_cold_starts", "lambdalet_cold_starts_total", &ok),
        Some(1.0),
        "one sandbox served the three"
    );
    assert_eq!(m["lambdalet_duration_seconds"]["type"], "histogram");
    assert_eq!(
        get(
            "lambdalet_duration_seconds",
            "lambdalet_duration_seconds_count",
            &ok
        ),
        Some(3.0)
    );
    let inf = json!({"function": "m-ok", "version": "$LATEST", "le": "+Inf"});
    assert_eq!(
        get(
            "lambdalet_duration_seconds",
            "lambdalet_duration_seconds_bucket",
            &inf
        ),
        Some(3.0)
    );
    let init = get(
        "lambdalet_init_duration_seconds",
        "lambdalet_init_duration_seconds_sum",
        &ok,
    )
    .expect("init duration sum");
    assert!(init > 0.0 && init < 30.0, "{init}");
    let f_bad = json!({"function": "m-bad"});
    assert_eq!(
        get(
            "lambdalet_concurrent_executions",
            "lambdalet_concurrent_executions",
            &f_bad
        ),
        Some(0.0)
    );
    assert_eq!(
        get(
            "lambdalet_async_events_received",
            "lambdalet_async_events_received_total",
            &f_bad
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            "lambdalet_async_event_age_seconds",
            "lambdalet_async_event_age_seconds_count",
            &f_bad
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            "lambdalet_dead_letter_errors",
            "lambdalet_dead_letter_errors_total",
            &f_bad
        ),
        Some(0.0)
    );
    // The families that were there before keep parsing.
    assert!(m["lambdalet_sandboxes"]["samples"].as_array().is_some());
    assert!(
        m["lambdalet_queued_invocations"]["samples"]
            .as_array()
            .is_some()
    );

    // Every series the Grafana dashboard in docs/ queries is one the daemon exposes.
    let names: std::collections::HashSet<&str> = m
        .as_object()
        .expect("families")
        .values()
        .flat_map(|f| f["samples"].as_array().into_iter().flatten())
        .filter_map(|s| s[0].as_str())
        .collect();
    let dashboard = std::fs::read_to_string(repo().join("docs/grafana/lambdalet-dashboard.json"))
        .expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("lambdalet_") {
                    queried += 1;
                    assert!(
                        names.contains(word),
                        "the dashboard queries {word}, which /metrics does not have"
                    );
                }
            }
        }
    }
    assert!(queried >= 10, "{queried}");

    // The console's per-minute view.
    let r = d.http("GET", "/lambdalet/v1/functions/m-ok/metrics", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let minutes = v["minutes"].as_array().expect("minutes");
    assert_eq!(minutes.len(), 60);
    let sum = |k: &str| {
        minutes
            .iter()
            .map(|p| p[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(sum("invocations"), 3);
    assert_eq!(sum("throttles"), 1);
    assert_eq!(sum("coldStarts"), 1);
    assert!(
        minutes
            .iter()
            .any(|p| p["p50Ms"].as_f64().is_some_and(|x| x > 0.0)),
        "{v}"
    );
    assert!(minutes.iter().any(|p| p["maxConcurrency"] == 1));
    assert!(
        minutes
            .windows(2)
            .all(|w| w[1]["startMs"].as_u64() > w[0]["startMs"].as_u64())
    );
    assert_eq!(v["totals"]["invocations"], 3);
    let r = d.http(
        "GET",
        "/lambdalet/v1/functions/m-ok/metrics?minutes=5",
        None,
        &[],
    );
    assert_eq!(r.json()["minutes"].as_array().map(Vec::len), Some(5));
    let r = d.http(
        "GET",
        "/lambdalet/v1/functions/m-ok/metrics?minutes=0",
        None,
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.http("GET", "/lambdalet/v1/functions/nobody/metrics", None, &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.error_type(), "ResourceNotFoundException");

    // A deleted function's series go with it.
    d.aws_ok(&["lambda", "delete-function", "--function-name", "m-ok"]);
    let m = scrape(&d);
    assert_eq!(
        sample(
            &m,
            "lambdalet_invocations",
            "lambdalet_invocations_total",
            &ok
        ),
        None
    );
}
