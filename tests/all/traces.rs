//! Traces over OTLP: the daemon started with `--otlp-endpoint` sends each invocation's spans
//! to a collector (tests/py/otlp_receiver.py, which decodes them with the official
//! OpenTelemetry protobuf definitions), in the caller's trace, and the function's
//! `_X_AMZN_TRACE_ID` continues it under the `runtime` span.

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Daemon, eventually, fixture, free_port, pip_cache, repo};

struct Receiver {
    child: Child,
    out: tempfile::NamedTempFile,
    port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start() -> Self {
        let out = tempfile::NamedTempFile::new().expect("spans file");
        let port = free_port();
        let child = Command::new("python3")
            .arg(repo().join("tests/py/otlp_receiver.py"))
            .arg(port.to_string())
            .arg(out.path())
            .env("PYTHONPATH", pip_cache("opentelemetry-proto"))
            .spawn()
            .expect("python3");
        eventually(Duration::from_secs(10), "the receiver to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Self { child, out, port }
    }

    /// Every span received so far (a body the protobuf definitions refused fails the test).
    fn spans(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.out.path()).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("receiver JSON"))
            .collect();
        if let Some(e) = lines.iter().find(|l| l.get("error").is_some()) {
            panic!("the collector refused what lambdalet sent: {e}");
        }
        lines
    }

    fn trace(&self, trace_id: &str) -> Vec<Value> {
        self.spans()
            .into_iter()
            .filter(|s| s["traceId"] == trace_id)
            .collect()
    }
}

fn span<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} span in {spans:#?}"))
}

/// (trace id in hex, parent span id) of an X-Ray header.
fn xray(header: &str) -> (String, String) {
    let mut root = String::new();
    let mut parent = String::new();
    for part in header.split(';') {
        match part.split_once('=') {
            Some(("Root", v)) => root = v.trim_start_matches("1-").replace('-', ""),
            Some(("Parent", v)) => parent = v.to_owned(),
            _ => {}
        }
    }
    (root, parent)
}

#[test]
fn invocations_are_traced_to_an_otlp_collector_and_the_function_continues_the_trace() {
    let rx = Receiver::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let endpoint = format!("http://127.0.0.1:{}", rx.port);
    let mut d = Daemon::start_with(tmp.path(), "serve", &["--otlp-endpoint", &endpoint]);
    d.keep(tmp);
    d.deploy_python(&fixture("py-basic"), "traced", "app.handler", &[]);
    d.deploy_python(&fixture("py-basic"), "failing", "app.raise_error", &[]);

    // The caller's X-Ray trace: a cold start.
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let r = d.http(
        "POST",
        "/2015-03-31/functions/traced/invocations",
        Some(b"{}"),
        &[("X-Amzn-Trace-Id", header)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json()["env"]["_X_AMZN_TRACE_ID"]
        .as_str()
        .expect("the function's trace header")
        .to_owned();
    let (trace, runtime_parent) = xray(&seen);
    assert_eq!(trace, "5759e988bd862e3fe1be46a994272793", "{seen}");
    assert!(seen.ends_with(";Sampled=1"), "{seen}");
    eventually(Duration::from_secs(15), "the first trace's spans", || {
        rx.trace(&trace).len() >= 3
    });
    let spans = rx.trace(&trace);
    let invoke = span(&spans, "invoke");
    assert_eq!(invoke["kind"], "SPAN_KIND_SERVER");
    assert_eq!(invoke["parentSpanId"], "53995c3f42cd8ad8");
    assert_eq!(invoke["attributes"]["faas.name"], "traced");
    assert_eq!(invoke["attributes"]["faas.coldstart"], true);
    assert_eq!(invoke["attributes"]["faas.version"], "$LATEST");
    assert_eq!(invoke["status"], "STATUS_CODE_OK");
    assert_eq!(invoke["resource"]["service.name"], "lambdalet");
    let runtime = span(&spans, "runtime");
    assert_eq!(runtime["spanId"], runtime_parent.as_str());
    assert_eq!(runtime["parentSpanId"], invoke["spanId"]);
    let init = span(&spans, "init");
    assert_eq!(init["parentSpanId"], invoke["spanId"]);
    for s in [runtime, init] {
        let (start, end) = (s["start"].as_u64().unwrap(), s["end"].as_u64().unwrap());
        let (istart, iend) = (
            invoke["start"].as_u64().unwrap(),
            invoke["end"].as_u64().unwrap(),
        );
        assert!(
            istart <= start && start <= end && end <= iend,
            "{s} in {invoke}"
        );
    }

    // A W3C traceparent, warm: no init span.
    let r = d.http(
        "POST",
        "/2015-03-31/functions/traced/invocations",
        Some(b"{}"),
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
    let (trace, _) = xray(r.json()["env"]["_X_AMZN_TRACE_ID"].as_str().unwrap());
    assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    eventually(Duration::from_secs(15), "the traceparent trace", || {
        rx.trace(&trace).len() >= 2
    });
    let spans = rx.trace(&trace);
    assert_eq!(span(&spans, "invoke")["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(
        span(&spans, "invoke")["attributes"]["faas.coldstart"],
        false
    );
    assert!(spans.iter().all(|s| s["name"] != "init"), "{spans:#?}");

    // A caller that did not sample: nothing is sent for its trace.
    let unsampled = "Root=1-5759e988-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=53995c3f42cd8ad8;Sampled=0";
    let r = d.http(
        "POST",
        "/2015-03-31/functions/traced/invocations",
        Some(b"{}"),
        &[("X-Amzn-Trace-Id", unsampled)],
    );
    assert_eq!(r.json()["env"]["_X_AMZN_TRACE_ID"], unsampled);

    // No trace header: a new trace, sampled; a function error marks its spans.
    let r = d.invoke("failing", "{}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    let id = r.header("x-amzn-requestid").unwrap().to_owned();
    eventually(
        Duration::from_secs(15),
        "the failing invocation's spans",
        || {
            rx.spans()
                .iter()
                .any(|s| s["attributes"]["faas.invocation_id"] == id.as_str())
        },
    );
    let all = rx.spans();
    let invoke = all
        .iter()
        .find(|s| s["attributes"]["faas.invocation_id"] == id.as_str())
        .unwrap();
    assert_eq!(invoke["status"], "STATUS_CODE_ERROR");
    assert_eq!(invoke["parentSpanId"], "");
    let trace = invoke["traceId"].as_str().unwrap();
    let spans = rx.trace(trace);
    let runtime = span(&spans, "runtime");
    assert_eq!(runtime["status"], "STATUS_CODE_ERROR");
    assert!(
        runtime["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("ValueError")),
        "{runtime}"
    );
    assert!(
        all.iter()
            .all(|s| s["traceId"] != "5759e988aaaaaaaaaaaaaaaaaaaaaaaa"),
        "an unsampled trace was sent"
    );
}

#[test]
fn an_https_collector_is_refused_with_a_way_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(crate::harness::LAMBDALET)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args(["--otlp-endpoint", "https://collector.example:4318"])
        .args([
            "--s3-listen",
            "off",
            "--url-listen",
            "off",
            "--mqtt-listen",
            "off",
        ])
        .output()
        .expect("lambdalet");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plain HTTP") && err.contains("http://host:4318"),
        "{err}"
    );
}
