//! Live log tails: the server-sent event stream of a function's records
//! (`/lambdalet/v1/functions/{name}/logs/stream`) and `lambdalet logs --follow` on it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Daemon, LAMBDALET, fixture};

/// Runs `lambdalet logs ARGS` against `d` in the background; its stdout lines come on the
/// channel. The child is killed when the returned guard drops.
fn follow(d: &Daemon, args: &[&str]) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = Command::new(LAMBDALET)
        .arg("logs")
        .args(args)
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("lambdalet logs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (KillOnDrop(child), rx)
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines until one satisfies `want` (within 20 s); returns them all.
fn until(rx: &mpsc::Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                let done = want(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("no line with {what} came; saw {seen:#?}"),
        }
    }
}

fn request_id(d: &Daemon, name: &str, payload: &str) -> String {
    let r = d.invoke(name, payload);
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("x-amzn-requestid").expect("request id").to_owned()
}

#[test]
fn logs_follow_prints_the_last_records_then_each_new_one_as_it_is_written() {
    let d = Daemon::start();
    d.deploy_python(&fixture("py-basic"), "tail", "app.handler", &[]);
    let before = request_id(&d, "tail", "{}");

    let (_child, rx) = follow(&d, &["tail", "--follow", "--limit", "5"]);
    until(&rx, "the earlier record's REPORT", |l| {
        l.starts_with("REPORT") && l.contains(&before)
    });
    let after = request_id(&d, "tail", r#"{"n": 2}"#);
    let lines = until(&rx, "the new record's REPORT", |l| {
        l.starts_with("REPORT") && l.contains(&after)
    });
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("START") && l.contains(&after)),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("printed-by-handler {after}")),
        "{lines:#?}"
    );

    // The same as JSON Lines: a record read back has its id, one that comes live does not.
    let (_json, rx) = follow(
        &d,
        &["tail", "--follow", "--limit", "1", "--output", "json"],
    );
    let first: Value = serde_json::from_str(&until(&rx, "a record", |_| true)[0]).expect("JSON");
    assert_eq!(first["requestId"], after.as_str());
    assert!(first["id"].as_i64().is_some_and(|id| id > 0), "{first}");
    let third = request_id(&d, "tail", "{}");
    let lines = until(&rx, "the live record", |l| l.contains(&third));
    let live: Value = serde_json::from_str(lines.last().expect("line")).expect("JSON");
    assert_eq!(live["outcome"], "success");
    assert!(live["log"].as_str().is_some_and(|l| l.contains("REPORT")));
    assert!(live.get("id").is_none(), "{live}");
}

#[test]
fn the_log_stream_is_server_sent_events_and_refuses_what_it_cannot_serve() {
    let d = Daemon::start();
    d.deploy_python(&fixture("py-basic"), "sse", "app.handler", &[]);
    let id = request_id(&d, "sse", "{}");
    let out = Command::new("curl")
        .args(["-sS", "-N", "-i", "--max-time", "2"])
        .arg(format!(
            "{}/lambdalet/v1/functions/sse/logs/stream?recent=1",
            d.url
        ))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{text}"
    );
    assert!(text.contains("event: record"), "{text}");
    assert!(text.contains(&id), "{text}");

    let r = d.http(
        "GET",
        "/lambdalet/v1/functions/nobody/logs/stream",
        None,
        &[],
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = d.http(
        "GET",
        "/lambdalet/v1/functions/sse/logs/stream?recent=1000",
        None,
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("recent"), "{}", r.text());
}
