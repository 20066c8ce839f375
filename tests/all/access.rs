//! Access control: a sandbox's Runtime API serves that sandbox only. Run as an attacker inside
//! a function, in both backends.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::containment::{call, deploy_escape};
use crate::harness::Daemon;

/// Another sandbox's Runtime API refuses this function's connections; the victim goes on.
fn another_sandbox_cannot_take_the_event(sandbox: &str) {
    let d = Daemon::start();
    deploy_escape(&d, "victim", "app.identity", &["--sandbox", sandbox]);
    deploy_escape(&d, "thief", "app.steal", &["--sandbox", sandbox]);
    let id = call(&d, "victim", json!({}));
    let target = id["env"]["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .expect("address")
        .to_owned();
    let got = call(&d, "thief", json!({ "target": target }));
    let next = got["next"].as_str().unwrap_or("?");
    assert!(
        next.is_empty() || next == "<ECONNRESET>",
        "the connection is closed unserved: {got}"
    );
    // The victim's sandbox is untouched: the same one answers.
    let again = call(&d, "victim", json!({}));
    assert_eq!(again["sandbox"], id["sandbox"]);
    assert!(
        d.log()
            .contains("refused a Runtime API connection from a process outside the sandbox"),
        "{}",
        d.log()
    );
}

#[test]
fn another_container_cannot_take_a_sandboxs_event() {
    let Some(d) = crate::containment::container_daemon(&[]) else {
        return;
    };
    drop(d);
    another_sandbox_cannot_take_the_event("container");
}

#[test]
fn another_process_sandbox_cannot_take_a_sandboxs_event() {
    another_sandbox_cannot_take_the_event("process");
}

/// A custom runtime that, while its first `next` waits (a pinned function, started before any
/// event), asks again on a second connection, and answers the event with what it got.
const DOUBLE_NEXT: &str = r#"#!/usr/bin/python3
import http.client, json, os, threading, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
got = {}
def first():
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    r.read()
    got["rid"] = r.getheader("Lambda-Runtime-Aws-Request-Id")
    got["conn"] = c
t = threading.Thread(target=first)
t.start()
time.sleep(0.5)
c2 = http.client.HTTPConnection(host, int(port))
c2.request("GET", "/2018-06-01/runtime/invocation/next")
r2 = c2.getresponse()
second = {"status": r2.status, "body": json.loads(r2.read() or b"{}")}
t.join()
c = got["conn"]
c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % got["rid"], body=json.dumps({"second": second}))
c.getresponse().read()
time.sleep(60)
"#;

#[test]
fn a_second_next_is_refused_while_the_first_waits() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let boot = tmp.path().join("bootstrap");
    std::fs::write(&boot, DOUBLE_NEXT).expect("write");
    std::fs::set_permissions(&boot, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = d.cli(&[
        "deploy",
        tmp.path().to_str().expect("utf-8"),
        "--name",
        "double",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
        "--timeout",
        "10",
        "--pinned",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    crate::harness::eventually(Duration::from_secs(10), "the pinned runtime", || {
        d.lifecycle("double")["instances"]["idle"] == 1
    });
    std::thread::sleep(Duration::from_millis(1000));
    // The event goes to the first caller; the second gets 403 InvalidStateTransition.
    let r = d.invoke("double", "{}");
    let body: Value = r.json();
    assert_eq!(body["second"]["status"], 403, "{body}");
    assert_eq!(
        body["second"]["body"]["errorType"], "InvalidStateTransition",
        "{body}"
    );
}

/// Runs `python3 -c SCRIPT ARGS` as the unprivileged user 65534 and returns what it printed.
fn as_nobody(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "/usr/bin/python3",
            "-c",
            script,
        ])
        .args(args)
        .output()
        .expect("run setpriv");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

const TRY: &str = r#"
import socket, sys
for p in sys.argv[1:]:
    try:
        if p.endswith(".socket"):
            s = socket.socket(socket.AF_UNIX); s.connect(p); print(p, "OK")
        else:
            open(p, "rb").read(1); print(p, "OK")
    except OSError as e:
        print(p, type(e).__name__)
"#;

#[test]
fn the_daemons_files_are_its_own() {
    let euid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc"));
    if euid != 0 {
        eprintln!("skipped: trying the files as another user (setpriv) needs root");
        return;
    }
    // A data directory any local user could enter, as an existing one might be.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let d = Daemon::start_in(&data);
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o7777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("state.db")), 0o600, "state.db");
    assert_eq!(
        mode(&data.join("master.key")),
        0o600,
        "the key that seals access keys"
    );
    let socket = data.join("ipc.socket");
    let containers = crate::containment::containers_unavailable(&d).is_none();
    assert_eq!(
        mode(&socket),
        if containers { 0o660 } else { 0o600 },
        "the IPC socket"
    );
    // Even if the directory were open, the files themselves are not.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let state = data.join("state.db");
    let master = data.join("master.key");
    let got = as_nobody(
        TRY,
        &[
            state.to_str().expect("utf-8"),
            master.to_str().expect("utf-8"),
            socket.to_str().expect("utf-8"),
        ],
    );
    assert!(got.contains("state.db PermissionError"), "{got}");
    assert!(got.contains("master.key PermissionError"), "{got}");
    assert!(got.contains("ipc.socket PermissionError"), "{got}");
}
