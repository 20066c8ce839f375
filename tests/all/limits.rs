//! Resource limits, for both backends: memory (an `Runtime.OutOfMemory` error, the sandbox
//! replaced, everything else serving), processes (a fork bomb stops at the pids limit), and
//! what happens to a sandbox's processes when the daemon is killed. Each test skips, saying
//! why, where the host lacks what it needs (cgroups, containers).

use std::time::Duration;

use serde_json::json;

use crate::containment::{call, container_daemon, deploy_escape, gone};
use crate::harness::{Daemon, decode_log, eventually, processes_matching, processes_with_env};

/// A daemon whose sandboxes get cgroup limits, or `None` (printed) where the host has none.
fn cgroup_daemon(extra: &[&str]) -> Option<Daemon> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_with(tmp.path(), "serve", extra);
    d.keep(tmp);
    if d.log().contains("no cgroups for sandboxes") {
        eprintln!("skipped: this host gives sandboxes no cgroups: {}", d.log());
        return None;
    }
    Some(d)
}

/// Invokes with `X-Amz-Log-Type: Tail` and returns (status body, error type, log).
pub fn invoke_tail(
    d: &Daemon,
    name: &str,
    event: &str,
) -> (serde_json::Value, Option<String>, String) {
    let r = d.http(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        Some(event.as_bytes()),
        &[("X-Amz-Log-Type", "Tail")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let log = decode_log(r.header("x-amz-log-result").expect("log"));
    (
        r.json(),
        r.header("x-amz-function-error").map(str::to_owned),
        log,
    )
}

fn out_of_memory_is_reported_and_contained(d: &Daemon, sandbox: &str) {
    deploy_escape(
        d,
        "hog",
        "app.allocate",
        &["--sandbox", sandbox, "--memory", "128"],
    );
    deploy_escape(d, "neighbour", "app.allocate", &["--sandbox", sandbox]);
    let (small, err, _) = invoke_tail(d, "hog", r#"{"mb": 10}"#);
    assert!(err.is_none(), "{small}");
    let before = small["sandbox"].clone();
    let (body, err, log) = invoke_tail(d, "hog", r#"{"mb": 400}"#);
    assert_eq!(err.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "Runtime.OutOfMemory", "{body}\n{log}");
    let msg = body["errorMessage"].as_str().expect("message");
    assert!(
        msg.starts_with("RequestId: ")
            && msg.ends_with("Error: Runtime exited with error: signal: killed"),
        "{msg}"
    );
    assert!(
        log.contains("Status: error\tError Type: Runtime.OutOfMemory"),
        "{log}"
    );
    assert!(log.contains("Memory Size: 128 MB"), "{log}");
    // The daemon and the other function serve on; the hog gets a fresh sandbox.
    assert_eq!(call(d, "neighbour", json!({"mb": 1}))["allocated_mb"], 1);
    let (after, err, _) = invoke_tail(d, "hog", r#"{"mb": 10}"#);
    assert!(err.is_none(), "{after}");
    assert_ne!(after["sandbox"], before, "a new sandbox");
}

#[test]
fn memory_past_the_limit_is_runtime_out_of_memory_in_a_container() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    out_of_memory_is_reported_and_contained(&d, "container");
}

#[test]
fn memory_past_the_limit_is_runtime_out_of_memory_in_a_process() {
    let Some(d) = cgroup_daemon(&[]) else {
        return;
    };
    out_of_memory_is_reported_and_contained(&d, "process");
}

fn fork_bomb_is_stopped(d: &Daemon, sandbox: &str) {
    deploy_escape(
        d,
        "bomb",
        "app.fork_bomb",
        &["--sandbox", sandbox, "--memory", "2048"],
    );
    deploy_escape(d, "bystander", "app.allocate", &["--sandbox", sandbox]);
    let got = call(d, "bomb", json!({"max": 3000}));
    let forked = got["forked"].as_u64().expect("forked");
    assert_eq!(got["errno"], "EAGAIN", "{got}");
    assert!(
        (900..1024).contains(&forked),
        "stopped by the 1024 pids limit: {got}"
    );
    assert_eq!(call(d, "bystander", json!({"mb": 1}))["allocated_mb"], 1);
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit_in_a_container() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    fork_bomb_is_stopped(&d, "container");
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit_in_a_process() {
    let Some(d) = cgroup_daemon(&[]) else {
        return;
    };
    fork_bomb_is_stopped(&d, "process");
}

#[test]
fn a_process_sandbox_takes_its_setsid_children_down() {
    let Some(d) = cgroup_daemon(&[]) else {
        return;
    };
    deploy_escape(
        &d,
        "proc-orphans",
        "app.spawn_orphan",
        &["--sandbox", "process", "--idle-timeout", "1"],
    );
    let seconds = format!("{}.5151", 3000 + std::process::id() % 1000);
    call(&d, "proc-orphans", json!({ "seconds": seconds }));
    assert_eq!(processes_matching(&format!("sleep {seconds}")).len(), 1);
    gone(&format!("sleep {seconds}"), Duration::from_secs(15));
}

#[test]
fn killing_the_daemon_takes_containers_down_and_a_restart_cleans_up_processes() {
    let Some(mut d) = container_daemon(&[]) else {
        return;
    };
    deploy_escape(&d, "in-container", "app.spawn_orphan", &[]);
    deploy_escape(
        &d,
        "in-process",
        "app.spawn_orphan",
        &["--sandbox", "process"],
    );
    let a = format!("{}.6161", 3000 + std::process::id() % 1000);
    let b = format!("{}.7171", 3000 + std::process::id() % 1000);
    call(&d, "in-container", json!({ "seconds": a }));
    call(&d, "in-process", json!({ "seconds": b }));
    assert_eq!(processes_matching(&format!("sleep {a}")).len(), 1);
    assert_eq!(processes_matching(&format!("sleep {b}")).len(), 1);
    let data = d.data_dir.clone();
    d.kill9();
    // A container's init dies with the daemon, and its PID namespace with it.
    gone(&format!("sleep {a}"), Duration::from_secs(10));
    // A process sandbox's setsid child outlives a kill -9; the next start kills it.
    assert_eq!(
        processes_matching(&format!("sleep {b}")).len(),
        1,
        "left behind by kill -9"
    );
    let d2 = Daemon::start_in(&data);
    gone(&format!("sleep {b}"), Duration::from_secs(10));
    assert!(
        d2.log().contains("previous run left behind"),
        "{}",
        d2.log()
    );
}

/// A `provided` runtime that never gives up: when the Runtime API goes away it keeps trying,
/// as a shell `bootstrap` looping on `curl` does. Only the sandbox's death stops it.
const STUBBORN_BOOTSTRAP: &str = r#"#!/usr/bin/python3
import http.client, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
while True:
    try:
        c = http.client.HTTPConnection(host, int(port), timeout=2)
        c.request("GET", "/2018-06-01/runtime/invocation/next")
        r = c.getresponse()
        r.read()
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body=b"{}")
        c.getresponse().read()
    except Exception:
        time.sleep(0.2)
"#;

#[test]
fn a_container_whose_runtime_outlives_the_api_still_dies_with_the_daemon() {
    // The init drops root after starting the runtime; the kernel then forgets its
    // parent-death signal unless the init asks for it again. A kill -9 of the daemon must
    // take the init down, and the PID namespace with it, whatever the runtime does.
    let Some(mut d) = container_daemon(&[]) else {
        return;
    };
    let code = tempfile::tempdir().expect("tempdir");
    let boot = code.path().join("bootstrap");
    std::fs::write(&boot, STUBBORN_BOOTSTRAP).expect("bootstrap");
    crate::containment::chmod(&boot, 0o755);
    let marker = format!("STUBBORN_MARKER={}", std::process::id());
    let o = d.cli(&[
        "deploy",
        code.path().to_str().expect("utf-8"),
        "--name",
        "stubborn",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
        "--env",
        &marker,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = d.invoke("stubborn", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(processes_with_env(&marker).len(), 1, "the runtime runs");
    d.kill9();
    eventually(
        Duration::from_secs(10),
        "the container gone with its daemon",
        || processes_with_env(&marker).is_empty(),
    );
}

/// A `provided` runtime the host's Python runs, which any user can execute.
const ECHO_BOOTSTRAP: &str = r#"#!/usr/bin/python3
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
c = http.client.HTTPConnection(host, int(port))
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    body = json.dumps({"uid": os.getuid(), "root": os.environ["LAMBDA_TASK_ROOT"]})
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body=body)
    c.getresponse().read()
"#;

#[test]
fn a_daemon_that_cannot_make_containers_falls_back_to_processes_and_says_why() {
    // An unprivileged daemon is a real host where containers cannot be made: no namespaces
    // or cgroups for it. Functions still run, as processes, and every view says so.
    const NOBODY: u32 = 65534;
    let euid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc"));
    if euid != 0 {
        eprintln!("skipped: starting a daemon as another user (setpriv) needs root");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let code = tmp.path().join("code");
    for dir in [&data, &code] {
        std::fs::create_dir(dir).expect("mkdir");
        std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    }
    std::os::unix::fs::chown(tmp.path(), Some(0), Some(0)).expect("chown");
    crate::containment::chmod(tmp.path(), 0o755);
    let boot = code.join("bootstrap");
    std::fs::write(&boot, ECHO_BOOTSTRAP).expect("bootstrap");
    crate::containment::chmod(&boot, 0o755);
    let d = Daemon::start_as(NOBODY, &data, &[]);
    let log = d.log();
    assert!(
        log.contains(
            "container sandboxes are unavailable on this host: container sandboxes need root"
        ),
        "the start says what is missing: {log}"
    );
    let o = d.cli(&[
        "deploy",
        code.to_str().expect("utf-8"),
        "--name",
        "fallback",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}\n{}", d.log());
    assert!(
        stderr.contains("process sandbox") && stderr.contains("need root"),
        "deploy warns: {stderr}"
    );
    let f = crate::containment::function(&d, "fallback");
    assert_eq!(f["LambdaletSandbox"]["Mode"], "NoContainer", "{f}");
    assert!(
        f["LambdaletSandbox"]["Warning"]
            .as_str()
            .is_some_and(|w| w.contains("need root")),
        "functions get repeats it: {f}"
    );
    let o = d.cli(&["functions", "get", "fallback"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("need root"));
    let metrics = d.http("GET", "/metrics", None, &[]).text();
    assert!(
        metrics.contains("lambdalet_sandbox_container_available 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lambdalet_sandbox_fallback_info{reason=\"container sandboxes need root"),
        "{metrics}"
    );
    let got = call(&d, "fallback", json!({}));
    assert_eq!(
        got["uid"], NOBODY,
        "runs as the daemon's user, as a process: {got}"
    );
    assert!(
        got["root"]
            .as_str()
            .is_some_and(|r| r.contains("packages/code")),
        "{got}"
    );
}

#[test]
fn a_second_daemon_on_the_same_data_directory_is_refused() {
    // It would remove the first one's sandboxes (their cgroups are named after the directory).
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_in(tmp.path());
    let out = std::process::Command::new(crate::harness::LAMBDALET)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "off",
            "--data-dir",
        ])
        .arg(tmp.path())
        .output()
        .expect("run lambdalet");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another lambdalet is using the data directory"),
        "{err}"
    );
    d.stop();
    // Once it has stopped, the directory is free again.
    let d2 = Daemon::start_in(tmp.path());
    assert!(d2.log().contains("listening on"));
}
