//! Pinned (long-lived) functions: started before any event, one sandbox, FIFO, restarted when
//! they die or hang, marked Failed when they keep failing, replaced on redeploy without losing
//! queued events.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Daemon, eventually, fixture};

fn deploy_pinned(d: &Daemon, name: &str, handler: &str, extra: &[&str]) {
    d.deploy_python(
        &fixture("py-basic"),
        name,
        handler,
        &[&["--pinned"], extra].concat(),
    );
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn pinned_starts_before_any_event_and_again_when_the_daemon_starts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_in(tmp.path());
    deploy_pinned(&d, "resident", "app.handler", &[]);
    eventually(
        Duration::from_secs(10),
        "the pinned sandbox to start at deploy",
        || d.lifecycle("resident")["instances"]["idle"] == 1,
    );
    let first = d.invoke("resident", "{}").json();
    let log = d.logs("resident")[0]["log"]
        .as_str()
        .expect("log")
        .to_owned();
    assert!(
        !log.contains("Init Duration"),
        "the first event found the sandbox already started: {log}"
    );
    let second = d.invoke("resident", "{}").json();
    assert_eq!(
        (first["count"].clone(), second["count"].clone()),
        (json!(1), json!(2)),
        "one sandbox keeps its state"
    );
    assert_eq!(first["sandbox"], second["sandbox"]);
    assert!(d.stop().success());

    let d = Daemon::start_in(tmp.path());
    eventually(
        Duration::from_secs(10),
        "the pinned sandbox to start with the daemon",
        || d.lifecycle("resident")["instances"]["idle"] == 1,
    );
    // The AWS CLI drops fields its model does not know; the raw API shows them.
    let cfg = d
        .http(
            "GET",
            "/2015-03-31/functions/resident/configuration",
            None,
            &[],
        )
        .json();
    assert_eq!(cfg["LambdaletConfig"]["pinned"], true);
    assert_eq!(cfg["State"], "Active");
}

#[test]
fn pinned_runs_events_one_at_a_time_in_order() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("order.txt");
    deploy_pinned(
        &d,
        "fifo",
        "app.record",
        &[
            "--env",
            &format!("OUT_FILE={}", out.display()),
            "--timeout",
            "10",
            "--volume",
            &crate::harness::volume_flag(tmp.path()),
        ],
    );
    for i in 0..20 {
        d.invoke_async("fifo", &json!({"id": i, "sleep": 0.02}).to_string());
    }
    eventually(Duration::from_secs(30), "20 events", || {
        read_lines(&out).len() == 20
    });
    let lines = read_lines(&out);
    let ids: Vec<u64> = lines
        .iter()
        .map(|l| l.split(' ').next().expect("id").parse().expect("number"))
        .collect();
    assert_eq!(ids, (0..20).collect::<Vec<u64>>(), "FIFO order");
    let pids: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| l.split(' ').nth(2).expect("sandbox"))
        .collect();
    assert_eq!(pids.len(), 1, "one sandbox ran them all");

    // Synchronous calls to a pinned function queue behind each other too.
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let url = format!("{}/2015-03-31/functions/fifo/invocations", d.url);
            std::thread::spawn(move || {
                crate::harness::curl(
                    "POST",
                    &url,
                    Some(json!({"id": 100 + i, "sleep": 0.3}).to_string().as_bytes()),
                    &[],
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    let live = d.lifecycle("fifo")["instances"].clone();
    assert_eq!(
        (live["busy"].clone(), live["queued"].clone()),
        (json!(1), json!(2)),
        "{live}"
    );
    for c in calls {
        assert_eq!(c.join().expect("thread").status, 200);
    }
}

#[test]
fn pinned_is_restarted_after_a_crash() {
    let d = Daemon::start();
    deploy_pinned(&d, "phoenix", "app.maybe_crash", &[]);
    let before = d.invoke("phoenix", "{}").json();
    let r = d.invoke("phoenix", r#"{"crash": true}"#);
    assert_eq!(r.json()["errorType"], "Runtime.ExitError");
    eventually(
        Duration::from_secs(10),
        "the pinned sandbox to be restarted",
        || d.lifecycle("phoenix")["instances"]["idle"] == 1,
    );
    let after = d.invoke("phoenix", "{}").json();
    assert_ne!(after["sandbox"], before["sandbox"]);
    assert_eq!(after["count"], 1);
    assert_eq!(d.lifecycle("phoenix")["state"], "Active");
}

/// A custom runtime that answers each event, then hangs (never calls `next` again) when the
/// event asks it to.
const HANGS_AFTER: &str = r#"#!/usr/bin/env python3
import http.client, json, os, time, uuid
sandbox = uuid.uuid4().hex
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
c = http.client.HTTPConnection(host, int(port))
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body=json.dumps({"sandbox": sandbox}))
    c.getresponse().read()
    if event.get("hang"):
        time.sleep(3600)
"#;

#[test]
fn pinned_that_stops_answering_is_restarted_after_the_status_timeout() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let boot = tmp.path().join("bootstrap");
    std::fs::write(&boot, HANGS_AFTER).expect("write");
    std::fs::set_permissions(&boot, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = d.cli(&[
        "deploy",
        tmp.path().to_str().expect("utf-8"),
        "--name",
        "hangs",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
        "--pinned",
        "--status-timeout",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first: Value = d.invoke("hangs", r#"{"hang": true}"#).json();
    eventually(
        Duration::from_secs(10),
        "the hung runtime to be replaced",
        || {
            d.log()
                .contains("did not call /runtime/invocation/next within statusTimeoutInSeconds")
                && d.lifecycle("hangs")["instances"]["idle"] == 1
        },
    );
    let second: Value = d.invoke("hangs", "{}").json();
    assert_ne!(first["sandbox"], second["sandbox"], "a new runtime answers");
}

#[test]
fn pinned_that_keeps_failing_is_marked_failed_until_redeployed() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let boot = tmp.path().join("bootstrap");
    std::fs::write(&boot, "#!/bin/sh\necho cannot start >&2\nexit 4\n").expect("write");
    std::fs::set_permissions(&boot, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = tmp.path().to_str().expect("utf-8");
    let o = d.cli(&[
        "deploy",
        dir,
        "--name",
        "doomed",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
        "--pinned",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eventually(
        Duration::from_secs(30),
        "the function to be marked Failed",
        || {
            d.aws_ok(&["lambda", "get-function", "--function-name", "doomed"])["Configuration"]["State"]
                == "Failed"
        },
    );
    let cfg = d.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "doomed",
    ]);
    let reason = cfg["StateReason"].as_str().expect("reason");
    assert!(
        reason.contains("5 times")
            && reason.contains("exit status 4")
            && reason.contains("redeploy"),
        "{reason}"
    );
    let r = d.invoke("doomed", "{}");
    assert_eq!(r.status, 409);
    assert!(r.message().contains("Failed"), "{}", r.message());

    std::fs::write(&boot, HANGS_AFTER).expect("write");
    let o = d.cli(&["deploy", dir, "--name", "doomed"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eventually(
        Duration::from_secs(10),
        "the redeployed function to run",
        || d.lifecycle("doomed")["state"] == "Active",
    );
    assert_eq!(d.invoke("doomed", "{}").status, 200);
}

#[test]
fn redeploying_a_pinned_function_keeps_its_queued_events() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("seen.txt");
    let env = format!("OUT_FILE={}", out.display());
    deploy_pinned(
        &d,
        "swap",
        "app.record",
        &[
            "--env",
            &env,
            "--timeout",
            "10",
            "--volume",
            &crate::harness::volume_flag(tmp.path()),
        ],
    );
    for i in 0..6 {
        d.invoke_async("swap", &json!({"id": i, "sleep": 0.4}).to_string());
    }
    eventually(Duration::from_secs(10), "the first event", || {
        !read_lines(&out).is_empty()
    });
    // A new configuration while events wait: the sandbox is replaced, nothing is lost.
    deploy_pinned(
        &d,
        "swap",
        "app.record",
        &["--env", &env, "--timeout", "11"],
    );
    eventually(Duration::from_secs(30), "all 6 events", || {
        read_lines(&out).len() >= 6
    });
    let lines = read_lines(&out);
    let mut ids: Vec<u64> = lines
        .iter()
        .map(|l| l.split(' ').next().expect("id").parse().expect("number"))
        .collect();
    ids.dedup();
    assert_eq!(ids, (0..6).collect::<Vec<u64>>());
    let pids: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l.split(' ').nth(2).expect("sandbox"))
        .collect();
    assert!(
        pids.len() >= 2,
        "the redeploy replaced the sandbox: {lines:?}"
    );
}

#[test]
fn pinned_busy_past_its_timeout_is_restarted_and_the_invocation_times_out() {
    let d = Daemon::start();
    deploy_pinned(&d, "stuck", "app.sleep", &["--timeout", "1"]);
    eventually(Duration::from_secs(10), "the pinned sandbox", || {
        d.lifecycle("stuck")["instances"]["idle"] == 1
    });
    let r = d.invoke("stuck", r#"{"seconds": 5}"#);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "Sandbox.Timedout");
    eventually(Duration::from_secs(10), "a new pinned sandbox", || {
        d.lifecycle("stuck")["instances"]["idle"] == 1
    });
    assert_eq!(d.invoke("stuck", r#"{"seconds": 0}"#).json(), "slept");
    assert_eq!(d.lifecycle("stuck")["state"], "Active");
}
