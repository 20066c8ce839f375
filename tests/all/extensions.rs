//! Lambda extensions end to end: external extensions shipped in a layer under `extensions/`
//! (a bash one and a Python one, written as Lambda's examples write them), the order of the
//! lifecycle (registration before the runtime's init, INVOKE per invocation, SHUTDOWN with its
//! grace period, SIGKILL after it), an internal extension started by an
//! `AWS_LAMBDA_EXEC_WRAPPER` script, a Telemetry API subscriber, the trace id, and what the
//! APIs refuse. Each in the process sandbox and, where the host allows, the container one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

mod log_format;
mod official;
mod telemetry;

use crate::containment::containers_unavailable;
use crate::harness::{Daemon, eventually, processes_with_env, repo, volume_flag};
use crate::layers::publish;

pub(super) fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/extensions").join(name)
}

pub(super) fn sandboxes(d: &Daemon) -> Vec<&'static str> {
    match containers_unavailable(d) {
        None => vec!["process", "container"],
        Some(why) => {
            eprintln!("container part skipped: container sandboxes are unavailable here: {why}");
            vec!["process"]
        }
    }
}

/// Publishes the layer at `fixture(dir)` as `name`; its version ARN.
pub(super) fn layer(d: &Daemon, name: &str, dir: &str) -> String {
    publish(d, name, &fixture(dir), &[])["LayerVersionArn"]
        .as_str()
        .expect("LayerVersionArn")
        .to_owned()
}

/// Deploys the Python test function with `layers`, `EXT_LOG_DIR=logs` (shared with a
/// container as a volume) and `env`.
pub(super) fn deploy(
    d: &Daemon,
    name: &str,
    handler: &str,
    sandbox: &str,
    layers: &[&str],
    logs: &Path,
    env: &[&str],
) {
    let dir = fixture("function");
    let log_env = format!("EXT_LOG_DIR={}", logs.display());
    let volume = volume_flag(logs);
    let mut args = vec![
        "--sandbox",
        sandbox,
        "--timeout",
        "10",
        "--env",
        &log_env,
        "--volume",
        &volume,
    ];
    for l in layers {
        args.extend_from_slice(&["--layer", l]);
    }
    for e in env {
        args.extend_from_slice(&["--env", e]);
    }
    d.deploy_python(&dir, name, handler, &args);
}

pub(super) fn invoke(d: &Daemon, name: &str, headers: &[(&str, &str)]) -> Value {
    let r = d.http(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        Some(b"{}"),
        headers,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("x-amz-function-error").is_none(),
        "{}\n{:#?}\n{}",
        r.text(),
        d.logs(name),
        d.log()
    );
    r.json()
}

pub(super) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The JSON events a logger extension wrote (its `registered` line left out).
fn events(path: &Path) -> Vec<Value> {
    read(path)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .map(|v| v.get("event").cloned().unwrap_or(v))
        .collect()
}

fn record_of(d: &Daemon, name: &str, request_id: &str) -> Option<Value> {
    d.logs(name)
        .into_iter()
        .find(|r| r["requestId"] == request_id)
}

/// `Duration: 123.45 ms` of a REPORT line.
fn report_ms(log: &str) -> f64 {
    let line = log
        .lines()
        .find(|l| l.starts_with("REPORT"))
        .expect("a REPORT line");
    let d = line.split("\tDuration: ").nth(1).expect("Duration");
    d.split(" ms")
        .next()
        .expect("ms")
        .parse()
        .expect("a number")
}

#[test]
fn bash_and_python_extensions_see_init_every_invoke_and_shutdown() {
    let d = Daemon::start();
    let arn = layer(&d, "loggers", "logger-layer");
    for sandbox in sandboxes(&d) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let logs = tmp.path();
        let name = format!("ext-{sandbox}");
        deploy(
            &d,
            &name,
            "app.handler",
            sandbox,
            &[&arn],
            logs,
            &["EXT_DELAY=1.0"],
        );
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let first = invoke(&d, &name, &[("x-amzn-trace-id", trace)]);
        assert_eq!(first["registered_at_init"], true, "{sandbox}: {first}");
        assert_eq!(first["trace"], trace, "_X_AMZN_TRACE_ID");
        assert_eq!(first["init_type"], "on-demand");
        let py_log = logs.join("py-logger.log");
        let registered = read(&py_log);
        let reg: Value = serde_json::from_str(
            registered
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("registered "))
                .expect("registered first"),
        )
        .expect("json");
        assert_eq!(reg["info"]["functionName"], name.as_str());
        assert_eq!(reg["info"]["functionVersion"], "$LATEST");
        assert_eq!(reg["info"]["handler"], "app.handler");
        assert_eq!(reg["info"]["accountId"], "000000000000");
        assert_eq!(
            reg["env"]["_HANDLER"],
            Value::Null,
            "extensions do not see _HANDLER"
        );
        assert_eq!(reg["env"]["AWS_LAMBDA_FUNCTION_NAME"], name.as_str());
        assert_eq!(reg["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");

        // The INVOKE event, with the caller's trace header.
        let id1 = first["request_id"].as_str().expect("id").to_owned();
        eventually(Duration::from_secs(5), "the first INVOKE", || {
            events(&py_log)
                .iter()
                .any(|e| e["requestId"] == id1.as_str())
        });
        let ev = events(&py_log)
            .into_iter()
            .find(|e| e["requestId"] == id1.as_str())
            .expect("INVOKE");
        assert_eq!(ev["eventType"], "INVOKE");
        assert_eq!(ev["tracing"]["type"], "X-Amzn-Trace-Id");
        assert_eq!(ev["tracing"]["value"], trace);
        assert!(
            ev["invokedFunctionArn"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!(":function:{name}")))
        );
        assert!(ev["deadlineMs"].as_u64().is_some());

        // The extension takes 1 s over each INVOKE: the caller does not wait for it, the
        // environment does (the next invocation gets another one), and REPORT counts it.
        eventually(Duration::from_secs(10), "the first record", || {
            record_of(&d, &name, &id1).is_some()
        });
        let rec = record_of(&d, &name, &id1).expect("record");
        let log = rec["log"].as_str().expect("log");
        assert!(report_ms(log) >= 1000.0, "extension time in REPORT: {log}");
        assert!(log.contains("hello from handler"), "{log}");
        assert!(
            log.contains("[py-logger] invoke"),
            "extension output: {log}"
        );
        let t = Instant::now();
        let second = invoke(&d, &name, &[]);
        let answered = t.elapsed();
        let third = invoke(&d, &name, &[]);
        assert!(
            answered < Duration::from_millis(900),
            "the caller got its answer before the extension was done: {answered:?}"
        );
        assert_ne!(
            second["instance"], third["instance"],
            "an environment whose extension is still busy is not reused"
        );
        let generated = second["trace"].as_str().expect("a generated trace id");
        assert!(generated.starts_with("Root=1-"), "{generated}");
        let ids: Vec<String> = [&second, &third]
            .iter()
            .map(|v| v["request_id"].as_str().expect("id").to_owned())
            .collect();
        eventually(
            Duration::from_secs(10),
            "INVOKE for each invocation",
            || {
                let all = events(&py_log);
                ids.iter()
                    .all(|id| all.iter().any(|e| e["requestId"] == id.as_str()))
            },
        );

        // A configuration update retires the environments: SHUTDOWN (spindown) reaches both
        // extensions, and the bash one flushes what it kept.
        let r = d.http(
            "PUT",
            &format!("/2015-03-31/functions/{name}/configuration"),
            Some(br#"{"Description":"retire"}"#),
            &[("content-type", "application/json")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let bash_log = logs.join("bash-logger.log");
        eventually(
            Duration::from_secs(10),
            "the bash extension's flush",
            || read(&bash_log).contains("SHUTDOWN"),
        );
        let bash = read(&bash_log);
        assert!(bash.starts_with("registered {"), "{bash}");
        assert!(bash.contains(&id1), "{bash}");
        let shutdown: Value = serde_json::from_str(
            bash.lines()
                .find(|l| l.contains("SHUTDOWN"))
                .expect("SHUTDOWN"),
        )
        .expect("json");
        assert_eq!(shutdown["shutdownReason"], "spindown");
        assert!(shutdown["deadlineMs"].as_u64().is_some());
        eventually(Duration::from_secs(10), "SHUTDOWN for py-logger", || {
            events(&py_log)
                .iter()
                .filter(|e| e["eventType"] == "SHUTDOWN")
                .count()
                == 2
        });
    }
}

#[test]
fn the_daemon_stop_shuts_extensions_down_and_kills_one_that_ignores_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start();
    let arn = layer(&d, "stubborn", "stubborn-layer");
    let loggers = layer(&d, "loggers", "logger-layer");
    let sandbox = *sandboxes(&d).last().expect("a sandbox");
    let marker = format!("EXT_MARKER={}", uuid_like());
    deploy(
        &d,
        "stubborn-fn",
        "app.handler",
        sandbox,
        &[&arn, &loggers],
        tmp.path(),
        &[&marker],
    );
    invoke(&d, "stubborn-fn", &[]);
    assert!(!processes_with_env(&marker).is_empty());
    let t = Instant::now();
    d.stop();
    let stopped = t.elapsed();
    let log = read(&tmp.path().join("stubborn.log"));
    let (at, event) = log.trim().split_once(' ').expect("time and event");
    let event: Value = serde_json::from_str(event).expect("SHUTDOWN event");
    assert_eq!(event["eventType"], "SHUTDOWN");
    assert_eq!(event["shutdownReason"], "spindown");
    let got: f64 = at.parse().expect("time");
    let deadline = event["deadlineMs"].as_f64().expect("deadline") / 1000.0;
    assert!(
        (1.0..=2.2).contains(&(deadline - got)),
        "about 2 s of the limit left for the extensions: {}",
        deadline - got
    );
    assert!(
        stopped >= Duration::from_millis(1500) && stopped < Duration::from_secs(8),
        "the stubborn extension held the stop until the 2 s limit: {stopped:?}"
    );
    eventually(Duration::from_secs(5), "no process left", || {
        processes_with_env(&marker).is_empty()
    });
    assert!(
        read(&tmp.path().join("bash-logger.log")).contains("SHUTDOWN"),
        "the well-behaved extension flushed on the daemon's stop"
    );
}

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos()
    )
}

#[test]
fn an_exec_wrapper_starts_an_internal_extension() {
    let d = Daemon::start();
    let arn = layer(&d, "wrapper", "wrapper-layer");
    for sandbox in sandboxes(&d) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let name = format!("wrapped-{sandbox}");
        deploy(
            &d,
            &name,
            "app.handler",
            sandbox,
            &[&arn],
            tmp.path(),
            &["AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper.sh"],
        );
        let ids: Vec<String> = (0..2)
            .map(|_| {
                invoke(&d, &name, &[])["request_id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            })
            .collect();
        eventually(
            Duration::from_secs(5),
            "INVOKE at the internal extension",
            || {
                let got = read(&tmp.path().join("internal.log"));
                ids.iter().all(|id| got.contains(id.as_str()))
            },
        );
    }
}

#[test]
fn the_apis_refuse_what_lambda_refuses() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    deploy(
        &d,
        "refusals",
        "app.refusals",
        "process",
        &[],
        tmp.path(),
        &[],
    );
    let v = invoke(&d, "refusals", &[]);
    let check = |key: &str, status: u64, error_type: &str| {
        assert_eq!(v[key][0], status, "{key}: {v}");
        assert_eq!(v[key][1]["errorType"], error_type, "{key}: {v}");
    };
    check("late_register", 403, "Extension.RegistrationClosed");
    check("no_id", 403, "Extension.MissingExtensionIdentifier");
    check("bad_id", 403, "Extension.InvalidExtensionIdentifier");
    check("unknown_id", 403, "Extension.UnknownExtensionIdentifier");
    check(
        "telemetry_unknown",
        403,
        "Extension.UnknownExtensionIdentifier",
    );
}
