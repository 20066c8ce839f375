//! The Runtime API as a runtime sees it: headers, status codes, error bodies and state
//! transitions, probed by a `provided` bootstrap written in plain Python.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine as _;
use serde_json::json;

use crate::harness::Daemon;

/// A custom runtime that misbehaves on purpose and reports what the Runtime API answered.
const PROBE: &str = r#"#!/usr/bin/env python3
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, int(port))
    try:
        c.request(method, "/2018-06-01" + path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        try:
            data = json.loads(data)
        except ValueError:
            data = data.decode()
        return [r.status, data, {k.lower(): v for k, v in r.getheaders()}]
    except OSError as e:
        return [0, str(e), {}]
    finally:
        c.close()

notes = {"early_response": call("POST", "/runtime/invocation/none-yet/response", b"{}")[:2],
         "ping": call("GET", "/ping")[:2],
         "unknown_path": call("GET", "/runtime/nothing")[0]}
while True:
    status, event, h = call("GET", "/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    step = event.get("step")
    if step == "probe":
        out = dict(notes)
        out["next_status"] = status
        out["headers"] = {k: v for k, v in h.items() if k.startswith("lambda-runtime-") or k == "content-type"}
        out["env"] = {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_EXECUTION_ENV", "_HANDLER", "LAMBDA_TASK_ROOT"]}
        out["wrong_id"] = call("POST", "/runtime/invocation/wrong-id/response", b"{}")[:2]
        out["late_init_error"] = call("POST", "/runtime/init/error", b"{}")[:2]
        notes["first_response"] = call("POST", "/runtime/invocation/%s/response" % rid, json.dumps(out).encode(),
                                       {"Content-Type": "application/json"})[:2]
        notes["second_response"] = call("POST", "/runtime/invocation/%s/response" % rid, b"{}")[:2]
    elif step == "oversize":
        notes["oversize"] = call("POST", "/runtime/invocation/%s/response" % rid, b"x" * (6 * 1024 * 1024 + 200))[:2]
    elif step == "error":
        notes["error"] = call("POST", "/runtime/invocation/%s/error" % rid,
                              json.dumps({"errorMessage": "custom failure", "errorType": "Custom.Failure"}).encode(),
                              {"Lambda-Runtime-Function-Error-Type": "Custom.Failure"})[:2]
    elif step == "bad-mode":
        notes["bad_mode"] = call("POST", "/runtime/invocation/%s/response" % rid, b"{}",
                                 {"Lambda-Runtime-Function-Response-Mode": "sideways"})[:2]
    else:
        call("POST", "/runtime/invocation/%s/response" % rid, json.dumps(notes).encode())
"#;

fn write_bootstrap(dir: &Path, script: &str) {
    let path = dir.join("bootstrap");
    std::fs::write(&path, script).expect("write bootstrap");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn runtime_api_status_codes_headers_and_transitions() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    write_bootstrap(tmp.path(), PROBE);
    d.create(
        "probe",
        tmp.path(),
        "provided.al2023",
        "probe.handler",
        &["--timeout", "10", "--memory-size", "256"],
    );

    let ctx = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
    let r = d.http(
        "POST",
        "/2015-03-31/functions/probe/invocations",
        Some(br#"{"step":"probe"}"#),
        &[
            ("X-Amz-Client-Context", &ctx),
            (
                "X-Amzn-Trace-Id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            ),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(
        p["early_response"],
        json!([400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}])
    );
    assert_eq!(p["ping"], json!([200, "pong"]));
    assert_eq!(p["unknown_path"], 404);
    assert_eq!(p["next_status"], 200);
    let h = &p["headers"];
    assert_eq!(
        h["lambda-runtime-aws-request-id"],
        r.header("x-amzn-requestid").expect("id")
    );
    assert_eq!(
        h["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:probe"
    );
    assert_eq!(
        h["lambda-runtime-trace-id"],
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    );
    assert_eq!(
        h["lambda-runtime-client-context"],
        r#"{"custom":{"k":"v"}}"#
    );
    assert_eq!(h["content-type"], "application/json");
    let deadline: u64 = h["lambda-runtime-deadline-ms"]
        .as_str()
        .expect("deadline")
        .parse()
        .expect("number");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    assert!(
        deadline > now && deadline <= now + 10_000,
        "deadline {deadline} within the 10 s timeout of {now}"
    );
    assert_eq!(p["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(p["env"]["_HANDLER"], "probe.handler");
    assert!(
        p["env"]["AWS_EXECUTION_ENV"].is_null(),
        "custom runtimes get no AWS_EXECUTION_ENV"
    );
    assert_eq!(
        p["wrong_id"],
        json!([400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}])
    );
    assert_eq!(p["late_init_error"][0], 403);
    assert_eq!(
        p["late_init_error"][1]["errorType"],
        "InvalidStateTransition"
    );

    let later = d.invoke("probe", r#"{"step":"report"}"#).json();
    assert_eq!(later["first_response"], json!([202, {"status": "OK"}]));
    assert_eq!(
        later["second_response"][0], 400,
        "a second response for one request: {later}"
    );
    assert_eq!(later["second_response"][1]["errorType"], "InvalidRequestID");

    let big = d.invoke("probe", r#"{"step":"oversize"}"#);
    assert_eq!(big.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(big.json()["errorType"], "Function.ResponseSizeTooLarge");
    let err = d.invoke("probe", r#"{"step":"error"}"#);
    assert_eq!(err.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        err.json(),
        json!({"errorMessage": "custom failure", "errorType": "Custom.Failure"})
    );
    let bad = d.invoke("probe", r#"{"step":"bad-mode"}"#);
    assert_eq!(bad.json()["errorType"], "Runtime.InvalidResponseModeHeader");
    let notes = d.invoke("probe", r#"{"step":"report"}"#).json();
    assert_eq!(notes["oversize"][0], 413);
    assert_eq!(notes["oversize"][1]["errorType"], "RequestEntityTooLarge");
    assert_eq!(notes["error"], json!([202, {"status": "OK"}]));
    assert_eq!(notes["bad_mode"][0], 400);
    assert_eq!(
        notes["bad_mode"][1]["errorType"],
        "InvalidFunctionResponseMode"
    );
}

#[test]
fn init_errors_exits_and_init_timeouts() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");

    let init_error = tmp.path().join("init-error");
    std::fs::create_dir(&init_error).expect("mkdir");
    write_bootstrap(
        &init_error,
        r#"#!/usr/bin/env python3
import http.client, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
c = http.client.HTTPConnection(host, int(port))
c.request("POST", "/2018-06-01/runtime/init/error", body=b'{"errorMessage":"cannot init","errorType":"Custom.InitFailed"}',
          headers={"Lambda-Runtime-Function-Error-Type": "Custom.InitFailed"})
assert c.getresponse().status == 202
print("init failed on purpose")
raise SystemExit(1)
"#,
    );
    d.create("initerr", &init_error, "provided", "x", &[]);
    let r = d.invoke("initerr", "{}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        r.json(),
        json!({"errorMessage": "cannot init", "errorType": "Custom.InitFailed"})
    );
    let log = d.logs("initerr")[0]["log"]
        .as_str()
        .expect("log")
        .to_owned();
    assert!(
        log.contains("init failed on purpose"),
        "init output is in the log: {log}"
    );

    let exits = tmp.path().join("exits");
    std::fs::create_dir(&exits).expect("mkdir");
    write_bootstrap(&exits, "#!/bin/sh\necho bye\nexit 7\n");
    d.create("exits", &exits, "provided.al2", "x", &[]);
    let body = d.invoke("exits", "{}").json();
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.ends_with("Runtime exited with error: exit status 7")),
        "{body}"
    );

    let hangs = tmp.path().join("hangs");
    std::fs::create_dir(&hangs).expect("mkdir");
    write_bootstrap(&hangs, "#!/bin/sh\nexec sleep 60\n");
    d.create(
        "hangs",
        &hangs,
        "provided.al2023",
        "x",
        &["--timeout", "30"],
    );
    let started = std::time::Instant::now();
    let body = d.invoke("hangs", "{}").json();
    let took = started.elapsed().as_secs_f64();
    assert!(
        (9.5..20.0).contains(&took),
        "init is cut off after 10 s, not the 30 s timeout: {took}"
    );
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("10.00 seconds")),
        "{body}"
    );
}

#[test]
fn provided_runtime_needs_an_executable_bootstrap() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("main.sh"), "echo hi").expect("write");
    let zip = crate::harness::zip_file(tmp.path());
    let out = d.aws(&[
        "lambda",
        "create-function",
        "--function-name",
        "nob",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
        "--role",
        "r",
        "--zip-file",
        &format!("fileb://{}", zip.path().display()),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("InvalidParameterValueException")
            && err.contains("bootstrap"),
        "{err}"
    );
    std::fs::write(tmp.path().join("bootstrap"), "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(
        tmp.path().join("bootstrap"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let zip = crate::harness::zip_file(tmp.path());
    let out = d.aws(&[
        "lambda",
        "create-function",
        "--function-name",
        "nob",
        "--runtime",
        "provided.al2023",
        "--handler",
        "x",
        "--role",
        "r",
        "--zip-file",
        &format!("fileb://{}", zip.path().display()),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("chmod +x"), "{err}");
}
