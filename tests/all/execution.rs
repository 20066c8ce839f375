//! The on-demand execution model: instance limits, the FIFO queue and 429s, reserved and
//! provisioned concurrency, the daemon-wide limit, idle reaping.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Daemon, HttpResponse, curl, eventually, fixture};

/// Starts `n` invocations at once, each in its own thread; returns them in start order.
fn parallel(
    d: &Daemon,
    name: &str,
    payload: &str,
    n: usize,
) -> Vec<thread::JoinHandle<(HttpResponse, Instant)>> {
    (0..n)
        .map(|_| {
            let url = format!("{}/2015-03-31/functions/{name}/invocations", d.url);
            let payload = payload.to_owned();
            let h = thread::spawn(move || {
                let r = curl("POST", &url, Some(payload.as_bytes()), &[]);
                (r, Instant::now())
            });
            thread::sleep(Duration::from_millis(30));
            h
        })
        .collect()
}

#[test]
fn instance_limit_queue_and_throttling() {
    let d = Daemon::start();
    d.create(
        "capped",
        &fixture("py-basic"),
        "python3.11",
        "app.sleep",
        &["--timeout", "20"],
    );
    let r = d.http(
        "PUT",
        "/lambdalet/v1/functions/capped/configuration",
        Some(br#"{"maxInstancesCount": 2, "maxQueueSize": 3}"#),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["maxInstancesCount"], 2);
    // Warm both instances first so the timing below measures the queue, not cold starts.
    for h in parallel(&d, "capped", r#"{"seconds": 0.5}"#, 2) {
        assert_eq!(h.join().expect("thread").0.status, 200);
    }

    let started = Instant::now();
    let calls = parallel(&d, "capped", r#"{"seconds": 2}"#, 8);
    thread::sleep(Duration::from_millis(300));
    let live = d.lifecycle("capped")["instances"].clone();
    assert_eq!(
        live,
        json!({"idle": 0, "busy": 2, "starting": 0, "queued": 3}),
        "2 run, 3 wait"
    );
    let results: Vec<(HttpResponse, Instant)> = calls
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let ok: Vec<_> = results.iter().filter(|(r, _)| r.status == 200).collect();
    let throttled: Vec<_> = results.iter().filter(|(r, _)| r.status == 429).collect();
    assert_eq!(
        (ok.len(), throttled.len()),
        (5, 3),
        "2 running + 3 queued succeed, the rest are refused"
    );
    for (r, at) in &throttled {
        assert!(
            at.duration_since(started) < Duration::from_secs(1),
            "429 comes at once, not after waiting"
        );
        assert_eq!(r.error_type(), "TooManyRequestsException");
        assert_eq!(r.json()["Reason"], "ConcurrentInvocationLimitExceeded");
        assert!(r.message().contains("maxQueueSize 3"), "{}", r.message());
    }
    let mut done: Vec<Duration> = ok
        .iter()
        .map(|(_, at)| at.duration_since(started))
        .collect();
    done.sort();
    assert!(
        done[1] < Duration::from_millis(3500),
        "the first two ran at once: {done:?}"
    );
    assert!(
        done[2] >= Duration::from_millis(3800),
        "the queued ones waited for an instance: {done:?}"
    );
    assert!(done[4] < Duration::from_secs(9), "{done:?}");
    assert_eq!(
        d.lifecycle("capped")["instances"]["idle"],
        2,
        "never more than 2 instances"
    );
}

#[test]
fn reserved_concurrency_limits_and_zero_disables() {
    let d = Daemon::start();
    d.create(
        "reserved",
        &fixture("py-basic"),
        "python3.11",
        "app.sleep",
        &["--timeout", "20"],
    );
    let out = d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "reserved",
        "--reserved-concurrent-executions",
        "1",
    ]);
    assert_eq!(out["ReservedConcurrentExecutions"], 1);
    assert_eq!(
        d.aws_ok(&[
            "lambda",
            "get-function-concurrency",
            "--function-name",
            "reserved"
        ])["ReservedConcurrentExecutions"],
        1
    );
    assert_eq!(
        d.aws_ok(&["lambda", "get-function", "--function-name", "reserved"])["Concurrency"]["ReservedConcurrentExecutions"],
        1
    );
    let calls = parallel(&d, "reserved", r#"{"seconds": 1}"#, 2);
    thread::sleep(Duration::from_millis(400));
    let live = d.lifecycle("reserved")["instances"].clone();
    assert_eq!(
        (
            live["busy"].as_u64(),
            live["starting"].as_u64(),
            live["queued"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{live}"
    );
    for h in calls {
        assert_eq!(h.join().expect("thread").0.status, 200);
    }

    d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "reserved",
        "--reserved-concurrent-executions",
        "0",
    ]);
    let r = d.invoke("reserved", r#"{"seconds": 0}"#);
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    d.aws_ok(&[
        "lambda",
        "delete-function-concurrency",
        "--function-name",
        "reserved",
    ]);
    assert_eq!(d.invoke("reserved", r#"{"seconds": 0}"#).status, 200);
    let none = d.aws_ok(&[
        "lambda",
        "get-function-concurrency",
        "--function-name",
        "reserved",
    ]);
    assert!(
        none.is_null() || none == json!({}),
        "no reserved concurrency left: {none}"
    );
}

#[test]
fn idle_sandboxes_are_reaped() {
    let d = Daemon::start();
    d.create(
        "idler",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    let o = d.cli(&[
        "deploy",
        fixture("py-basic").to_str().expect("utf-8"),
        "--name",
        "idler",
        "--idle-timeout",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let body = d.invoke("idler", "{}").json();
    assert_eq!(d.lifecycle("idler")["instances"]["idle"], 1);
    // The runtime's process, found on the host by the log stream its sandbox was given.
    let stream = format!(
        "AWS_LAMBDA_LOG_STREAM_NAME={}",
        body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .expect("stream")
    );
    assert_eq!(crate::harness::processes_with_env(&stream).len(), 1);
    eventually(
        Duration::from_secs(5),
        "the idle sandbox to be stopped",
        || {
            d.lifecycle("idler")["instances"]["idle"] == 0
                && crate::harness::processes_with_env(&stream).is_empty()
        },
    );
    // The next invocation starts a fresh one.
    let again = d.invoke("idler", "{}").json();
    assert_ne!(again["sandbox"], body["sandbox"]);
    assert_eq!(again["count"], 1);
}

#[test]
fn provisioned_concurrency_prewarms_sandboxes() {
    let d = Daemon::start();
    d.create(
        "warmed",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    d.aws_ok(&["lambda", "publish-version", "--function-name", "warmed"]);
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "warmed",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    let out = d.aws_ok(&[
        "lambda",
        "put-provisioned-concurrency-config",
        "--function-name",
        "warmed",
        "--qualifier",
        "live",
        "--provisioned-concurrent-executions",
        "2",
    ]);
    assert_eq!(out["RequestedProvisionedConcurrentExecutions"], 2);
    eventually(Duration::from_secs(15), "2 provisioned sandboxes", || {
        let r = d
            .http(
                "GET",
                "/lambdalet/v1/functions/warmed/configuration?Qualifier=1",
                None,
                &[],
            )
            .json();
        r["instances"]["idle"] == 2
    });
    let status = d.aws_ok(&[
        "lambda",
        "get-provisioned-concurrency-config",
        "--function-name",
        "warmed",
        "--qualifier",
        "live",
    ]);
    assert_eq!(status["Status"], "READY");
    assert_eq!(status["AvailableProvisionedConcurrentExecutions"], 2);
    let (meta, body) = d.aws_invoke(
        &["--function-name", "warmed:live", "--log-type", "Tail"],
        "{}",
    );
    assert_eq!(
        body["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
    let log = crate::harness::decode_log(meta["LogResult"].as_str().expect("log"));
    assert!(
        !log.contains("Init Duration"),
        "a provisioned sandbox is already initialized: {log}"
    );
    // Provisioned sandboxes are not reaped, and the setting can be removed.
    let list = d.aws_ok(&[
        "lambda",
        "list-provisioned-concurrency-configs",
        "--function-name",
        "warmed",
    ]);
    assert_eq!(
        list["ProvisionedConcurrencyConfigs"]
            .as_array()
            .expect("list")
            .len(),
        1
    );
    d.aws_ok(&[
        "lambda",
        "delete-provisioned-concurrency-config",
        "--function-name",
        "warmed",
        "--qualifier",
        "live",
    ]);
    let out = d.aws(&[
        "lambda",
        "get-provisioned-concurrency-config",
        "--function-name",
        "warmed",
        "--qualifier",
        "live",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ProvisionedConcurrencyConfigNotFoundException")
    );
    let out = d.aws(&[
        "lambda",
        "put-provisioned-concurrency-config",
        "--function-name",
        "warmed",
        "--qualifier",
        "$LATEST",
        "--provisioned-concurrent-executions",
        "1",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidParameterValueException"));
}

#[test]
fn daemon_wide_limit_makes_room_by_stopping_idle_sandboxes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(tmp.path(), "serve", &["--max-concurrency", "1"]);
    d.create(
        "one",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    d.create(
        "two",
        &fixture("py-basic"),
        "python3.11",
        "app.sleep",
        &["--timeout", "10"],
    );
    assert_eq!(d.invoke("one", "{}").status, 200);
    assert_eq!(d.lifecycle("one")["instances"]["idle"], 1);
    // "two" needs a sandbox: the idle one of "one" is stopped to make room.
    assert_eq!(d.invoke("two", r#"{"seconds": 0}"#).status, 200);
    assert_eq!(d.lifecycle("one")["instances"]["idle"], 0);
    // While "two" is busy, "one" waits for the slot instead of failing.
    let calls = parallel(&d, "two", r#"{"seconds": 1}"#, 1);
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = d.invoke("one", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the busy sandbox"
    );
    for h in calls {
        assert_eq!(h.join().expect("thread").0.status, 200);
    }
}
