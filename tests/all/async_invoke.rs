//! Asynchronous invocation: durable acceptance, retries with Lambda's delays (shortened here
//! with --async-retry-delays), destinations with AWS's invocation record, and nothing lost
//! when the daemon is killed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Daemon, eventually, fixture};

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

/// Invocation records a destination function received (it records its events' ids... so the
/// destination here is py-basic's `handler`, whose logged event we read back from its logs).
fn destination_events(d: &Daemon, name: &str) -> Vec<Value> {
    d.logs(name)
        .iter()
        .filter_map(|r| {
            let log = r["log"].as_str()?;
            let line = log.lines().find(|l| l.starts_with("EVENT "))?;
            serde_json::from_str(&line["EVENT ".len()..]).ok()
        })
        .collect()
}

/// The event ids the recording function wrote to `out` (each once, whatever ran twice).
pub(crate) fn handled_ids(out: &Path) -> BTreeSet<u64> {
    read_lines(out)
        .iter()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

pub(crate) fn deploy_recorder(d: &Daemon, name: &str, out: &Path, extra: &[&str]) {
    let env = format!("Variables={{OUT_FILE={}}}", out.display());
    let mut args = vec!["--environment", env.as_str(), "--timeout", "10"];
    args.extend_from_slice(extra);
    d.create(
        name,
        &fixture("py-basic"),
        "python3.11",
        "app.record",
        &args,
    );
    d.share(name, out.parent().expect("a directory"));
}

/// `name` in a directory of its own under `tmp`, beside (never in) a daemon's data directory: it
/// becomes a volume of the recording function.
pub(crate) fn out_file(tmp: &Path, name: &str) -> std::path::PathBuf {
    let dir = tmp.join("out");
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir.join(name)
}

/// A destination that logs the event it receives on one line.
fn deploy_sink(d: &Daemon, name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("app.py"),
        "import json\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return 'ok'\n",
    )
    .expect("write");
    d.create(name, tmp.path(), "python3.11", "app.handler", &[]);
}

#[test]
fn events_are_accepted_with_202_and_run() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out.txt");
    deploy_recorder(&d, "later", &out, &[]);
    let (meta, _) = d.aws_invoke(
        &["--function-name", "later", "--invocation-type", "Event"],
        r#"{"id": 7}"#,
    );
    assert_eq!(meta["StatusCode"], 202);
    eventually(Duration::from_secs(10), "the event to run", || {
        read_lines(&out).len() == 1
    });
    let id = d.invoke_async("later", r#"{"id": 8}"#);
    eventually(Duration::from_secs(10), "the second event", || {
        read_lines(&out).len() == 2
    });
    let line = &read_lines(&out)[1];
    assert!(
        line.starts_with(&format!("8 {id} ")),
        "the function sees the request id the caller got: {line}"
    );

    let big = json!({"id": 1, "pad": "x".repeat(1024 * 1024)}).to_string();
    let r = d.http(
        "POST",
        "/2015-03-31/functions/later/invocations",
        Some(big.as_bytes()),
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (413, "RequestTooLargeException")
    );
    assert!(r.message().contains("1048576"), "{}", r.message());
    let r = d.http(
        "POST",
        "/2015-03-31/functions/later/invocations",
        Some(b"not json"),
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "InvalidRequestContentException")
    );
    let r = d.http(
        "POST",
        "/2015-03-31/functions/missing/invocations",
        Some(b"{}"),
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn function_errors_are_retried_then_sent_to_the_failure_destination() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(
        &tmp.path().join("data"),
        "serve",
        &["--async-retry-delays", "1,2"],
    );
    let out = out_file(tmp.path(), "attempts.txt");
    deploy_recorder(&d, "flaky", &out, &[]);
    deploy_sink(&d, "on-failure");
    deploy_sink(&d, "on-success");
    let config = json!({
        "OnFailure": {"Destination": arn("on-failure")},
        "OnSuccess": {"Destination": arn("on-success")},
    })
    .to_string();
    let put = d.aws_ok(&[
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        "flaky",
        "--destination-config",
        &config,
    ]);
    assert_eq!(
        put["DestinationConfig"]["OnFailure"]["Destination"],
        arn("on-failure")
    );
    let got = d.aws_ok(&[
        "lambda",
        "get-function-event-invoke-config",
        "--function-name",
        "flaky",
    ]);
    assert_eq!(got["FunctionArn"], format!("{}:$LATEST", arn("flaky")));

    let started = Instant::now();
    let id = d.invoke_async("flaky", r#"{"id": "bad", "fail": true}"#);
    eventually(Duration::from_secs(20), "the failure destination", || {
        !destination_events(&d, "on-failure").is_empty()
    });
    let lines = read_lines(&out);
    assert_eq!(lines.len(), 3, "one attempt and two retries: {lines:?}");
    assert!(
        lines.iter().all(|l| l.contains(&id)),
        "retries keep the request id: {lines:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "retried after 1 s, then 2 s"
    );
    let record = &destination_events(&d, "on-failure")[0];
    assert_eq!(record["version"], "1.0");
    assert_eq!(record["requestContext"]["requestId"], id.as_str());
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(
        record["requestContext"]["functionArn"],
        format!("{}:$LATEST", arn("flaky"))
    );
    assert_eq!(record["requestPayload"], json!({"id": "bad", "fail": true}));
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["responsePayload"]["errorType"], "RuntimeError");

    let o = d.cli(&["queue"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("flaky") && l.trim_end().ends_with('1')),
        "{table}"
    );
    let o = d.cli(&["queue", "flaky"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&id));

    // Success goes to OnSuccess, with the response.
    d.invoke_async("flaky", r#"{"id": "good"}"#);
    eventually(Duration::from_secs(10), "the success destination", || {
        !destination_events(&d, "on-success").is_empty()
    });
    let record = &destination_events(&d, "on-success")[0];
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(record["responseContext"]["statusCode"], 200);
    assert_eq!(record["responsePayload"]["id"], "good");

    // MaximumRetryAttempts 0: one attempt only.
    d.aws_ok(&[
        "lambda",
        "update-function-event-invoke-config",
        "--function-name",
        "flaky",
        "--maximum-retry-attempts",
        "0",
    ]);
    let before = read_lines(&out).len();
    d.invoke_async("flaky", r#"{"id": "once", "fail": true}"#);
    eventually(Duration::from_secs(10), "the second failure record", || {
        destination_events(&d, "on-failure").len() == 2
    });
    assert_eq!(read_lines(&out).len(), before + 1);
    let bad = d.aws(&[
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        "flaky",
        "--maximum-retry-attempts",
        "5",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("InvalidParameterValueException"));
}

#[test]
fn accepted_events_survive_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let out = out_file(tmp.path(), "handled.txt");
    let mut d = Daemon::start_in(&data);
    deploy_recorder(&d, "durable", &out, &[]);
    let o = d.cli(&[
        "deploy",
        fixture("py-basic").to_str().expect("utf-8"),
        "--name",
        "durable",
        "--max-instances",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    const N: usize = 300;
    // Each event takes long enough (300 x 50 ms over 3 sandboxes: 5 s) that the kill below
    // lands mid-processing however fast or slow the events were accepted.
    let events: Vec<String> = (0..N)
        .map(|i| json!({"id": i, "sleep": 0.05}).to_string())
        .collect();
    // Accept them from several clients at once (the queue commits them in groups).
    let url = format!("{}/2015-03-31/functions/durable/invocations", d.url);
    let handles: Vec<_> = events
        .chunks(N / 6)
        .map(|chunk| {
            let (url, chunk) = (url.clone(), chunk.to_vec());
            std::thread::spawn(move || {
                for e in chunk {
                    let r = crate::harness::curl(
                        "POST",
                        &url,
                        Some(e.as_bytes()),
                        &[("X-Amz-Invocation-Type", "Event")],
                    );
                    assert_eq!(r.status, 202, "{}", r.text());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    eventually(Duration::from_secs(60), "some events to be handled", || {
        read_lines(&out).len() >= N / 5
    });
    d.kill9();
    let handled_before = read_lines(&out).len();
    assert!(
        handled_before < N,
        "the kill came mid-processing ({handled_before} of {N} done)"
    );

    let d = Daemon::start_in(&data);
    eventually(
        Duration::from_secs(120),
        "every event to be handled after the restart",
        || handled_ids(&out).len() == N,
    );
    eventually(Duration::from_secs(10), "the queue to drain", || {
        let q = d.http("GET", "/lambdalet/v1/queue", None, &[]).json();
        q["functions"]
            .as_array()
            .is_none_or(|a| a.iter().all(|f| f["pending"] == 0 && f["inFlight"] == 0))
    });
    let total = read_lines(&out).len();
    assert!(
        total - N <= 3 + 3,
        "duplicates only for events in flight at the kill ({} extra)",
        total - N
    );
}

#[test]
fn throttled_events_back_off_and_run_later_and_disabled_functions_fail_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_in(&tmp.path().join("data"));
    let out = out_file(tmp.path(), "handled.txt");
    deploy_recorder(&d, "busy", &out, &[]);
    let r = d.http(
        "PUT",
        "/lambdalet/v1/functions/busy/configuration",
        Some(br#"{"maxInstancesCount": 1, "maxQueueSize": 1}"#),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Fill the only instance and the only queue slot with synchronous work.
    let url = format!("{}/2015-03-31/functions/busy/invocations", d.url);
    let sync: Vec<_> = (0..2)
        .map(|i| {
            let url = url.clone();
            let h = std::thread::spawn(move || {
                crate::harness::curl(
                    "POST",
                    &url,
                    Some(
                        json!({"id": format!("sync{i}"), "sleep": 1.5})
                            .to_string()
                            .as_bytes(),
                    ),
                    &[],
                )
            });
            std::thread::sleep(Duration::from_millis(100));
            h
        })
        .collect();
    d.invoke_async("busy", r#"{"id": "async"}"#);
    eventually(
        Duration::from_secs(20),
        "the throttled event to run after backing off",
        || read_lines(&out).iter().any(|l| l.starts_with("async ")),
    );
    assert!(
        d.log().contains("async.backoff"),
        "it was throttled first:\n{}",
        d.log()
    );
    for h in sync {
        assert_eq!(h.join().expect("thread").status, 200);
    }

    // Reserved concurrency 0: the event goes to the failure destination without retries.
    deploy_sink(&d, "dead-letters");
    d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "busy",
        "--reserved-concurrent-executions",
        "0",
    ]);
    let config = json!({"OnFailure": {"Destination": arn("dead-letters")}}).to_string();
    d.aws_ok(&[
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        "busy",
        "--destination-config",
        &config,
    ]);
    let id = d.invoke_async("busy", r#"{"id": "never"}"#);
    eventually(Duration::from_secs(10), "the dead letter", || {
        !destination_events(&d, "dead-letters").is_empty()
    });
    let record = &destination_events(&d, "dead-letters")[0];
    assert_eq!(record["requestContext"]["requestId"], id.as_str());
    assert!(
        !read_lines(&out).iter().any(|l| l.starts_with("never ")),
        "the function never ran"
    );
}
