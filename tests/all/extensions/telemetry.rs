//! The Telemetry API: a subscriber extension gets the platform's events and the function's
//! log lines; nothing goes to a listener outside the sandbox.

use std::time::Duration;

use serde_json::Value;

use super::{deploy, invoke, layer, read, sandboxes};
use crate::harness::{Daemon, eventually};

#[test]
fn a_telemetry_subscriber_gets_platform_events_and_function_logs() {
    let d = Daemon::start();
    let arn = layer(&d, "telemetry", "telemetry-layer");
    for sandbox in sandboxes(&d) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let name = format!("tele-{sandbox}");
        // The sink binds a port the kernel picks (a port chosen here could be taken by
        // another test before the sink binds it).
        let port = "TELEMETRY_PORT=0".to_owned();
        deploy(
            &d,
            &name,
            "app.handler",
            sandbox,
            &[&arn],
            tmp.path(),
            &[&port],
        );
        let id = invoke(&d, &name, &[])["request_id"]
            .as_str()
            .expect("id")
            .to_owned();
        let out = tmp.path().join("telemetry.log");
        let all = || -> Vec<Value> {
            read(&out)
                .lines()
                .flat_map(|l| {
                    let v: Value = serde_json::from_str(l).expect("a batch");
                    assert_eq!(v["path"], "/telemetry");
                    v["batch"].as_array().cloned().expect("an array")
                })
                .collect()
        };
        eventually(Duration::from_secs(10), "platform.report", || {
            all()
                .iter()
                .any(|e| e["type"] == "platform.report" && e["record"]["requestId"] == id.as_str())
        });
        let events = all();
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        for want in [
            "platform.initStart",
            "platform.telemetrySubscription",
            "platform.initRuntimeDone",
            "platform.extension",
            "platform.initReport",
            "platform.start",
            "function",
            "platform.runtimeDone",
            "platform.report",
        ] {
            assert!(kinds.contains(&want), "{want} in {kinds:?}");
        }
        let pos = |k: &str| kinds.iter().position(|x| *x == k).expect(k);
        assert!(pos("platform.initStart") < pos("platform.start"));
        assert!(pos("platform.start") < pos("platform.report"));
        let function = events
            .iter()
            .find(|e| e["type"] == "function")
            .expect("function");
        assert!(
            function["record"]
                .as_str()
                .is_some_and(|r| r.contains("hello from handler")),
            "{function}"
        );
        let report = events
            .iter()
            .find(|e| e["type"] == "platform.report")
            .expect("report");
        let m = &report["record"]["metrics"];
        for k in [
            "durationMs",
            "billedDurationMs",
            "memorySizeMB",
            "maxMemoryUsedMB",
            "initDurationMs",
        ] {
            assert!(m[k].is_number(), "{k} in {report}");
        }
        assert_eq!(report["record"]["status"], "success");
        assert!(
            report["time"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z') && t.contains('T'))
        );
    }
}

#[test]
fn telemetry_never_goes_to_a_listener_outside_the_sandbox() {
    // A subscriber names the port of a service of the host (here a listener of this test)
    // instead of its own: the daemon delivers nothing there.
    let d = Daemon::start();
    let arn = layer(&d, "telemetry", "telemetry-layer");
    let tmp = tempfile::tempdir().expect("tempdir");
    let outside = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    outside.set_nonblocking(true).expect("nonblocking");
    let port = outside.local_addr().expect("addr").port();
    let own = "TELEMETRY_PORT=0".to_owned();
    let dest = format!("TELEMETRY_DEST_PORT={port}");
    deploy(
        &d,
        "outsider",
        "app.handler",
        "process",
        &[&arn],
        tmp.path(),
        &[&own, &dest],
    );
    invoke(&d, "outsider", &[]);
    invoke(&d, "outsider", &[]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        outside.accept().is_err(),
        "no connection reached the listener outside the sandbox"
    );
    assert_eq!(read(&tmp.path().join("telemetry.log")), "");
}
