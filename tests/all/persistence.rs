//! State survives restarts: a clean SIGTERM, and SIGKILL.

use serde_json::Value;

use crate::harness::{Daemon, eventually, fixture, processes_with_env};

/// `AWS_LAMBDA_LOG_STREAM_NAME=...` of the sandbox that answered (py-basic echoes its env).
fn log_stream(body: &Value) -> String {
    let stream = body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
        .as_str()
        .expect("log stream");
    format!("AWS_LAMBDA_LOG_STREAM_NAME={stream}")
}

#[test]
fn functions_versions_and_aliases_survive_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_in(tmp.path());
    d.create(
        "keep",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &["--environment", "Variables={GREETING=kept}"],
    );
    d.create(
        "keep-node",
        &fixture("node-esm"),
        "nodejs20.x",
        "index.handler",
        &[],
    );
    d.aws_ok(&["lambda", "publish-version", "--function-name", "keep"]);
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "keep",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    assert_eq!(d.invoke("keep", "{}").json()["count"], 1);
    // A sandbox is told apart from other tests' by its log stream (every container sandbox's
    // code is at /var/task).
    let sandbox = log_stream(&d.invoke("keep", "{}").json());

    let status = d.stop();
    assert!(status.success(), "SIGTERM exits 0: {status:?}\n{}", d.log());
    assert!(
        processes_with_env(&sandbox).is_empty(),
        "sandboxes stop with the daemon"
    );

    let mut d = Daemon::start_in(tmp.path());
    let listed = d.aws_ok(&["lambda", "list-functions"]);
    let names: Vec<&str> = listed["Functions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|f| f["FunctionName"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["keep", "keep-node"]);
    let body = d.invoke("keep:live", "{}").json();
    let live_sandbox = log_stream(&body);
    assert_eq!(body["env"]["GREETING"], "kept");
    assert_eq!(body["context"]["function_version"], "1");
    assert_eq!(d.invoke("keep-node", r#"{"a":1}"#).json()["esm"], true);
    assert!(d.logs("keep").len() >= 3, "invocation logs are kept too");

    // SIGKILL: no shutdown at all, and still nothing is lost; the runtimes die with the daemon.
    d.kill9();
    eventually(
        std::time::Duration::from_secs(5),
        "orphaned runtimes to exit",
        || processes_with_env(&live_sandbox).is_empty(),
    );
    let d = Daemon::start_in(tmp.path());
    assert_eq!(
        d.invoke("keep:live", "{}").json()["context"]["function_version"],
        "1"
    );
    assert_eq!(
        d.aws_ok(&[
            "lambda",
            "get-alias",
            "--function-name",
            "keep",
            "--name",
            "live"
        ])["FunctionVersion"],
        "1"
    );
}

#[test]
fn sigterm_lets_in_flight_invocations_finish() {
    let mut d = Daemon::start();
    d.create(
        "linger",
        &fixture("py-basic"),
        "python3.11",
        "app.sleep",
        &["--timeout", "10"],
    );
    assert_eq!(d.invoke("linger", r#"{"seconds": 0}"#).json(), "slept");
    let url = format!("{}/2015-03-31/functions/linger/invocations", d.url);
    let slow = std::thread::spawn(move || {
        crate::harness::curl("POST", &url, Some(br#"{"seconds": 2}"#), &[])
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = d.stop();
    let r = slow.join().expect("request thread");
    assert_eq!(
        (r.status, r.json()),
        (200, serde_json::json!("slept")),
        "the in-flight invocation completed"
    );
    assert!(status.success());
    assert!(d.log().contains("lambdalet stopped"), "{}", d.log());
}
