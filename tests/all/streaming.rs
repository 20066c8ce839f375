//! Response streaming: `InvokeWithResponseStream` read by boto3 and by botocore's event-stream
//! decoder, Node's `awslambda.streamifyResponse`, a custom runtime that streams with raw
//! chunked HTTP and error trailers, timeouts and limits during a stream.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Daemon, eventually, python_script};

mod custom_runtime;

const NODE_APP: &str = r#"
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.slow = awslambda.streamifyResponse(async (event, responseStream, context) => {
  console.log('streaming ' + event.parts + ' parts');
  for (let i = 0; i < event.parts; i++) {
    responseStream.write('part' + i + ';');
    await sleep(event.gap);
  }
  responseStream.end();
});

exports.fails = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial;');
  await sleep(100);
  throw new TypeError('went wrong mid-stream');
});

exports.exits = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('last words;');
  await sleep(100);
  process.exit(3);
});

exports.forever = awslambda.streamifyResponse(async (event, responseStream) => {
  for (let i = 0; ; i++) {
    responseStream.write('tick' + i + ';');
    await sleep(200);
  }
});

exports.big = awslambda.streamifyResponse(async (event, responseStream) => {
  const piece = Buffer.alloc(64 * 1024, 'z');
  for (let sent = 0; sent < event.bytes; sent += piece.length) {
    if (!responseStream.write(piece)) await new Promise((r) => responseStream.once('drain', r));
  }
  responseStream.end();
});

exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/html' },
  });
  s.write('<p>streamed</p>');
  s.end();
});

exports.buffered = async (event) => ({ hello: 'world', event });

exports.throws = async () => {
  throw new RangeError('buffered failure');
};
"#;

pub(crate) fn write(dir: &Path, name: &str, text: &str, mode: u32) {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn node_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "index.js", NODE_APP, 0o644);
    tmp
}

/// `stream_invoke.py KIND URL FUNCTION PAYLOAD OPTIONS...`.
pub(crate) fn stream(
    d: &Daemon,
    kind: &str,
    function: &str,
    payload: &str,
    options: &[&str],
) -> Value {
    let mut args = vec![kind, d.url.as_str(), function, payload];
    args.extend_from_slice(options);
    python_script("stream_invoke.py", &args)
}

/// The invocation record of `function` with `outcome` (records are written in the background).
pub(crate) fn record(d: &Daemon, function: &str, outcome: &str) -> Value {
    let mut found = None;
    eventually(
        std::time::Duration::from_secs(10),
        "the invocation record",
        || {
            found = d
                .logs(function)
                .into_iter()
                .find(|r| r["outcome"] == outcome);
            found.is_some()
        },
    );
    found.expect("found above")
}

pub(crate) fn chunks(out: &Value) -> Vec<(f64, String)> {
    out["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "PayloadChunk")
        .map(|e| {
            let t = e["t"].as_f64().expect("t");
            (t, e["text"].as_str().expect("text").to_owned())
        })
        .collect()
}

pub(crate) fn text(out: &Value) -> String {
    chunks(out).into_iter().map(|(_, t)| t).collect()
}

#[test]
fn boto3_reads_a_node_stream_as_it_is_written() {
    let d = Daemon::start();
    let dir = node_dir();
    d.create(
        "slow",
        dir.path(),
        "nodejs20.x",
        "index.slow",
        &["--timeout", "20"],
    );

    let out = stream(
        &d,
        "boto3",
        "slow",
        r#"{"parts": 4, "gap": 400}"#,
        &["LogType=Tail"],
    );
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["executed"], "$LATEST");
    assert_eq!(out["content_type"], "application/octet-stream");
    assert_eq!(text(&out), "part0;part1;part2;part3;");
    let c = chunks(&out);
    assert!(c.len() >= 4, "one event per write: {out}");
    // Not buffered: the first part reached boto3 well before the stream ended.
    let (first, total) = (c[0].0, out["t_total"].as_f64().expect("t_total"));
    assert!(
        first + 1.0 < total,
        "first chunk at {first}s of {total}s: {out}"
    );
    assert!(out["t_headers"].as_f64().expect("t") < total - 1.0, "{out}");
    let complete = &out["complete"];
    assert!(complete.get("ErrorCode").is_none(), "{out}");
    let log = out["log"].as_str().expect("LogResult");
    assert!(log.contains("INFO\tstreaming 4 parts"), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");
    let r = record(&d, "slow", "success");
    assert!(
        r["log"]
            .as_str()
            .is_some_and(|l| l.contains("streaming 4 parts"))
    );

    // botocore's decoder over plain HTTP: every message's CRCs check, the headers are AWS's.
    let raw = stream(&d, "raw", "slow", r#"{"parts": 3, "gap": 300}"#, &[]);
    assert_eq!(raw["status"], 200, "{raw}");
    assert_eq!(text(&raw), "part0;part1;part2;");
    assert_eq!(raw["leftover"], 0);
    let last = raw["events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("events");
    assert_eq!(last["type"], "InvokeComplete");
    assert_eq!(last["headers"][":message-type"], "event");
    assert_eq!(last["headers"][":content-type"], "application/json");
    assert_eq!(last["payload"], "{}");
    let c = chunks(&raw);
    assert!(c[0].0 + 0.5 < raw["t_total"].as_f64().expect("t"), "{raw}");

    // HttpResponseStream: its content type, the prelude and 8 NUL bytes first.
    d.create("http", dir.path(), "nodejs20.x", "index.http", &[]);
    let out = stream(&d, "boto3", "http", "{}", &[]);
    assert_eq!(
        out["content_type"],
        "application/vnd.awslambda.http-integration-response"
    );
    let body = text(&out);
    let (prelude, rest) = body.split_once("\0\0\0\0\0\0\0\0").expect("delimiter");
    assert_eq!(
        serde_json::from_str::<Value>(prelude).expect("prelude"),
        json!({"statusCode": 201, "headers": {"content-type": "text/html"}})
    );
    assert_eq!(rest, "<p>streamed</p>");
}

#[test]
fn errors_in_and_around_a_stream() {
    let d = Daemon::start();
    let dir = node_dir();
    d.create("fails", dir.path(), "nodejs20.x", "index.fails", &[]);
    let out = stream(&d, "boto3", "fails", "{}", &[]);
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(text(&out), "partial;");
    assert_eq!(out["complete"]["ErrorCode"], "TypeError", "{out}");
    assert_eq!(out["complete"]["ErrorDetails"], "went wrong mid-stream");
    record(&d, "fails", "error");
    // The buffered Invoke API gets the same failure as a function error.
    let r = d.invoke("fails", "{}");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "TypeError");

    // The runtime dies mid-stream.
    d.create("exits", dir.path(), "nodejs20.x", "index.exits", &[]);
    let out = stream(&d, "boto3", "exits", "{}", &[]);
    assert_eq!(text(&out), "last words;");
    assert_eq!(out["complete"]["ErrorCode"], "Runtime.ExitError", "{out}");
    assert!(
        out["complete"]["ErrorDetails"]
            .as_str()
            .is_some_and(|m| m.contains("Runtime exited with error: exit status 3")),
        "{out}"
    );

    // A reader that hangs up does not stop the function: it runs to its end.
    d.create("slow", dir.path(), "nodejs20.x", "index.slow", &[]);
    let out = stream(
        &d,
        "raw",
        "slow",
        r#"{"parts": 5, "gap": 200}"#,
        &["hang-up"],
    );
    assert_eq!(out["chunks"], 1, "{out}");
    let r = record(&d, "slow", "success");
    assert!(
        r["log"]
            .as_str()
            .is_some_and(|l| l.contains("streaming 5 parts")),
        "{r}"
    );

    // Refusals before the function runs are ordinary API errors.
    let r = d.http(
        "POST",
        "/2021-11-15/functions/nothing-here/response-streaming-invocations",
        Some(b"{}"),
        &[],
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.error_type(), "ResourceNotFoundException");
    let r = d.http(
        "POST",
        "/2021-11-15/functions/fails/response-streaming-invocations",
        Some(b"{}"),
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.message().contains("RequestResponse or DryRun"),
        "{}",
        r.text()
    );
    let r = d.http(
        "POST",
        "/2021-11-15/functions/fails/response-streaming-invocations",
        Some(b"not json"),
        &[],
    );
    assert_eq!(r.error_type(), "InvalidRequestContentException");
}

#[test]
fn a_buffered_function_streams_as_one_chunk() {
    let d = Daemon::start();
    let dir = node_dir();
    d.create(
        "plain",
        dir.path(),
        "nodejs20.x",
        "index.buffered",
        &["--publish"],
    );
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "plain",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    let out = stream(&d, "boto3", "plain", r#"{"n": 1}"#, &["Qualifier=live"]);
    assert_eq!(out["executed"], "1", "{out}");
    assert_eq!(out["content_type"], "application/json");
    let c = chunks(&out);
    assert_eq!(c.len(), 1, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&c[0].1).expect("JSON"),
        json!({"hello": "world", "event": {"n": 1}})
    );
    assert!(out["complete"].get("ErrorCode").is_none());

    let dry = stream(&d, "boto3", "plain", "{}", &["InvocationType=DryRun"]);
    assert_eq!(dry["status"], 204, "{dry}");
    assert_eq!(dry["chunks"], 0);

    d.create("throws", dir.path(), "nodejs20.x", "index.throws", &[]);
    let out = stream(&d, "boto3", "throws", "{}", &[]);
    assert_eq!(out["chunks"], 0, "{out}");
    assert_eq!(out["complete"]["ErrorCode"], "RangeError");
    assert_eq!(out["complete"]["ErrorDetails"], "buffered failure");

    // A streaming function through the buffered Invoke API: the whole response at once.
    d.create("slow", dir.path(), "nodejs20.x", "index.slow", &[]);
    let r = d.invoke("slow", r#"{"parts": 3, "gap": 10}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "part0;part1;part2;");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
}

#[test]
fn the_aws_cli() {
    let d = Daemon::start();
    let dir = node_dir();
    d.create("slow", dir.path(), "nodejs20.x", "index.slow", &[]);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out_file = out_dir.path().join("out.txt");
    let out_path = out_file.to_str().expect("utf-8");
    let mut args = vec![
        "lambda",
        "invoke-with-response-stream",
        "--function-name",
        "slow",
        "--payload",
        r#"{"parts": 2, "gap": 50}"#,
    ];
    if crate::harness::aws_cli_v2() {
        args.extend_from_slice(&["--cli-binary-format", "raw-in-base64-out", out_path]);
        let o = d.aws(&args);
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let file = std::fs::read_to_string(&out_file).unwrap_or_default();
        assert!(
            format!("{file}{stdout}").contains("part1;"),
            "{file}{stdout}"
        );
    } else {
        // AWS CLI v1 leaves event-stream operations out: README says to use v2 or boto3.
        args.push(out_path);
        let o = d.aws(&args);
        assert!(!o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("Invalid choice"), "{stderr}");
        assert!(
            !stderr.contains("invoke-with-response-stream  "),
            "{stderr}"
        );
    }
}

#[test]
fn a_timeout_during_a_stream() {
    let d = Daemon::start();
    let dir = node_dir();
    d.create(
        "forever",
        dir.path(),
        "nodejs20.x",
        "index.forever",
        &["--timeout", "2"],
    );
    let out = stream(&d, "boto3", "forever", "{}", &[]);
    assert_eq!(out["complete"]["ErrorCode"], "Sandbox.Timedout", "{out}");
    assert!(
        out["complete"]["ErrorDetails"]
            .as_str()
            .is_some_and(|m| m.contains("Task timed out after 2.00 seconds")),
        "{out}"
    );
    let got = text(&out);
    assert!(got.starts_with("tick0;tick1;tick2;"), "{got}");
    let total = out["t_total"].as_f64().expect("t");
    assert!((1.8..6.0).contains(&total), "{total}");
    let record = record(&d, "forever", "timeout");
    assert!(
        record["log"]
            .as_str()
            .is_some_and(|l| l.contains("Status: timeout")),
        "{record}"
    );

    // A stream bigger than 6 MB reaches a streaming caller whole.
    d.create(
        "big",
        dir.path(),
        "nodejs20.x",
        "index.big",
        &["--timeout", "60"],
    );
    let bytes = 9 * 1024 * 1024;
    let out = stream(
        &d,
        "raw",
        "big",
        &format!(r#"{{"bytes": {bytes}}}"#),
        &["discard"],
    );
    assert_eq!(out["bytes"], bytes, "{out}");
    assert_eq!(out["complete"], json!({}));
}
