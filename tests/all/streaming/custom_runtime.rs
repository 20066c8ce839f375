//! A custom runtime (`provided.al2023`, a Python script) that streams its responses with raw
//! chunked HTTP and error trailers, as a Rust or Go runtime does: the trailers, the content
//! type, the refusals, the 200 MB and 6 MB limits, a stream cut short.

use serde_json::json;

use super::{chunks, stream, text, write};
use crate::harness::Daemon;

/// A custom runtime that streams its responses with raw chunked HTTP, as a Rust or Go runtime
/// would, and keeps notes of what the Runtime API answered.
const RAW_RUNTIME: &str = r#"#!/usr/bin/env python3
import base64, http.client, json, os, socket, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
notes = {}

def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, int(port))
    c.request(method, "/2018-06-01" + path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        data = json.loads(data)
    except ValueError:
        data = data.decode()
    return [r.status, data]

def stream(rid, chunks, trailers=(), content_type=None, delay=0.0, cut=False):
    s = socket.create_connection((host, int(port)))
    head = ("POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: runtime\r\n"
            "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
            "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n" % rid)
    if content_type:
        head += "Content-Type: %s\r\n" % content_type
    s.sendall(head.encode() + b"\r\n")
    try:
        for c in chunks:
            s.sendall(b"%x\r\n" % len(c) + c + b"\r\n")
            time.sleep(delay)
        if cut:
            s.close()
            return [0, "cut"]
        s.sendall(b"0\r\n" + "".join("%s: %s\r\n" % kv for kv in trailers).encode() + b"\r\n")
    except OSError as e:
        notes.setdefault("send_errors", []).append(type(e).__name__)
    try:
        r = http.client.HTTPResponse(s)
        r.begin()
        data = r.read()
        try:
            data = json.loads(data)
        except ValueError:
            data = data.decode()
        return [r.status, data]
    except OSError as e:
        return [0, type(e).__name__]
    finally:
        s.close()

while True:
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.close()
    step = event.get("step")
    if step == "trailers":
        notes["wrong_id"] = stream("not-" + rid, [b"x"])
        err = {"errorType": "Custom.Failure", "errorMessage": "failed after three", "trace": ["raw.py:1"]}
        notes["trailers"] = stream(rid, [b"one;", b"two;", b"three;"], delay=0.4, content_type="text/event-stream",
                                   trailers=[("Lambda-Runtime-Function-Error-Type", "Custom.Failure"),
                                             ("Lambda-Runtime-Function-Error-Body",
                                              base64.b64encode(json.dumps(err).encode()).decode())])
        notes["again"] = stream(rid, [b"late"])
    elif step == "type-only":
        stream(rid, [b"x;"], trailers=[("Lambda-Runtime-Function-Error-Type", "Custom.TypeOnly")])
    elif step == "ok":
        notes["ok"] = stream(rid, [b"alpha;", b"beta;"])
    elif step == "over":
        mb = b"o" * (1024 * 1024)
        notes["over"] = stream(rid, (mb for _ in range(event["mb"])))
    elif step == "cut":
        stream(rid, [b"before-cut;"], delay=0.2, cut=True)
    else:
        call("POST", "/runtime/invocation/%s/response" % rid, json.dumps(notes).encode())
"#;

#[test]
fn a_custom_runtime_streams_with_trailers() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "bootstrap", RAW_RUNTIME, 0o755);
    d.create(
        "raw",
        tmp.path(),
        "provided.al2023",
        "raw.handler",
        &["--timeout", "30"],
    );

    let out = stream(&d, "boto3", "raw", r#"{"step": "trailers"}"#, &[]);
    assert_eq!(out["content_type"], "text/event-stream", "{out}");
    assert_eq!(text(&out), "one;two;three;");
    let c = chunks(&out);
    assert!(c[0].0 + 0.6 < c[c.len() - 1].0, "chunks as sent: {out}");
    assert_eq!(out["complete"]["ErrorCode"], "Custom.Failure", "{out}");
    assert_eq!(out["complete"]["ErrorDetails"], "failed after three");

    let out = stream(&d, "boto3", "raw", r#"{"step": "type-only"}"#, &[]);
    assert_eq!(out["complete"]["ErrorCode"], "Custom.TypeOnly", "{out}");

    let out = stream(&d, "raw", "raw", r#"{"step": "ok"}"#, &[]);
    assert_eq!(out["content_type"], "application/octet-stream");
    assert_eq!(text(&out), "alpha;beta;");
    assert_eq!(out["complete"], json!({}));

    // Over the limit: what went out stays out, the end says why it stopped.
    let out = stream(
        &d,
        "raw",
        "raw",
        r#"{"step": "over", "mb": 201}"#,
        &["discard"],
    );
    assert_eq!(
        out["complete"]["ErrorCode"], "Function.ResponseSizeTooLarge",
        "{out}"
    );
    let limit = 200 * 1024 * 1024;
    assert!(out["bytes"].as_u64().expect("bytes") <= limit, "{out}");
    assert!(
        out["complete"]["ErrorDetails"]
            .as_str()
            .is_some_and(|m| m.contains(&limit.to_string())),
        "{out}"
    );
    // The buffered Invoke API keeps its 6 MB.
    let r = d.invoke("raw", r#"{"step": "over", "mb": 7}"#);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "Function.ResponseSizeTooLarge");

    let notes = d.invoke("raw", r#"{"step": "notes"}"#).json();
    assert_eq!(
        notes["wrong_id"],
        json!([400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}])
    );
    assert_eq!(notes["trailers"], json!([202, {"status": "OK"}]));
    assert_eq!(notes["again"][0], 400, "{notes}");
    assert_eq!(notes["ok"], json!([202, {"status": "OK"}]));
    assert_eq!(notes["over"][0], 413, "{notes}");
    assert_eq!(notes["over"][1]["errorType"], "RequestEntityTooLarge");

    // A stream cut short (the connection closed without the last chunk).
    let out = stream(&d, "boto3", "raw", r#"{"step": "cut"}"#, &[]);
    assert_eq!(text(&out), "before-cut;");
    assert_eq!(
        out["complete"]["ErrorCode"], "Runtime.TruncatedResponse",
        "{out}"
    );
    // The environment was replaced; the next invocation starts afresh.
    let notes = d.invoke("raw", r#"{"step": "notes"}"#).json();
    assert_eq!(notes, json!({}));
}
