//! Python and Node.js handlers through our bootstraps: context, environment, output, warm
//! reuse, async and callback styles, init errors and crashes.

use serde_json::{Value, json};

use crate::harness::{Daemon, fixture};

#[test]
fn python_context_environment_and_output() {
    let d = Daemon::start();
    d.create(
        "pyctx",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[
            "--memory-size",
            "512",
            "--timeout",
            "7",
            "--environment",
            "Variables={GREETING=hello}",
        ],
    );
    let r = d.invoke("pyctx", r#"{"k": [1, 2]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let id = r
        .header("x-amzn-requestid")
        .expect("request id header")
        .to_owned();
    assert_eq!(body["event"], json!({"k": [1, 2]}));
    let c = &body["context"];
    assert_eq!(c["function_name"], "pyctx");
    assert_eq!(c["function_version"], "$LATEST");
    assert_eq!(
        c["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:pyctx"
    );
    assert_eq!(c["memory_limit_in_mb"], "512");
    assert_eq!(c["aws_request_id"], id.as_str());
    assert_eq!(c["log_group_name"], "/aws/lambda/pyctx");
    let remaining = c["remaining_ms"].as_i64().expect("remaining");
    assert!(
        (5000..=7000).contains(&remaining),
        "remaining time within the 7 s timeout: {remaining}"
    );
    let e = &body["env"];
    assert_eq!(e["GREETING"], "hello");
    assert_eq!(e["AWS_LAMBDA_FUNCTION_NAME"], "pyctx");
    assert_eq!(e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
    assert_eq!(e["AWS_REGION"], "us-east-1");
    assert_eq!(e["_HANDLER"], "app.handler");
    assert_eq!(e["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.11");
    assert_eq!(e["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert!(
        e["_X_AMZN_TRACE_ID"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=1-")),
        "{e}"
    );
    // Lambda's path in a container sandbox; the code's own directory for a process.
    let root = e["LAMBDA_TASK_ROOT"].as_str().expect("task root");
    let f = crate::containment::function(&d, "pyctx");
    if f["LambdaletSandbox"]["Mode"] == "GreengrassContainer" {
        assert_eq!(root, "/var/task");
    } else {
        assert!(
            std::path::Path::new(root).join("app.py").is_file(),
            "{root}"
        );
    }
    assert_eq!(e["AWS_LAMBDA_LOG_STREAM_NAME"], c["log_stream_name"]);

    let logs = d.logs("pyctx");
    let log = logs.last().expect("a record")["log"]
        .as_str()
        .expect("log")
        .to_owned();
    assert!(
        log.contains(&format!("printed-by-handler {id}")),
        "stdout reaches the invocation log: {log}"
    );
}

#[test]
fn warm_sandbox_is_reused_between_invocations() {
    let d = Daemon::start();
    d.create(
        "warm",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    let bodies: Vec<Value> = (0..3).map(|_| d.invoke("warm", "{}").json()).collect();
    let counts: Vec<i64> = bodies
        .iter()
        .map(|b| b["count"].as_i64().expect("count"))
        .collect();
    assert_eq!(
        counts,
        [1, 2, 3],
        "a module-level counter survives in the warm sandbox"
    );
    assert!(bodies.iter().all(|b| b["sandbox"] == bodies[0]["sandbox"]));
}

#[test]
fn node_async_callback_sync_and_esm_handlers() {
    let d = Daemon::start();
    let dir = fixture("node-basic");
    d.create(
        "nasync",
        &dir,
        "nodejs20.x",
        "index.handler",
        &["--environment", "Variables={GREETING=hey}"],
    );
    let r = d.invoke("nasync", r#"{"x": 1}"#);
    let body = r.json();
    let id = r.header("x-amzn-requestid").expect("id").to_owned();
    assert_eq!(body["event"], json!({"x": 1}));
    assert_eq!(body["context"]["functionName"], "nasync");
    assert_eq!(body["context"]["memoryLimitInMB"], "128");
    assert_eq!(body["context"]["awsRequestId"], id.as_str());
    assert!(
        body["context"]["remainingMs"]
            .as_i64()
            .is_some_and(|m| m > 0 && m <= 3000)
    );
    assert_eq!(body["env"]["GREETING"], "hey");
    assert_eq!(body["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
    assert_eq!(d.invoke("nasync", "{}").json()["count"], 2);
    let log = d.logs("nasync").first().expect("record")["log"]
        .as_str()
        .expect("log")
        .to_owned();
    assert!(
        log.contains(&format!("\t{id}\tINFO\tprinted-by-handler {id}")),
        "console.log in the Lambda format: {log}"
    );

    d.create("ncb", &dir, "nodejs20.x", "index.callback", &[]);
    let body = d.invoke("ncb", r#"{"y": 2}"#).json();
    assert_eq!(body["callback"], true);
    assert_eq!(body["event"], json!({"y": 2}));

    d.create("nfail", &dir, "nodejs20.x", "index.fail", &[]);
    let r = d.invoke("nfail", "{}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    let body = r.json();
    assert_eq!(body["errorType"], "TypeError");
    assert_eq!(body["errorMessage"], "node boom");
    assert!(
        body["trace"].as_array().is_some_and(|t| !t.is_empty()),
        "{body}"
    );

    d.create("nsync", &dir, "nodejs20.x", "index.sync", &[]);
    let r = d.invoke("nsync", "{}");
    assert_eq!(r.status, 200);
    assert!(r.header("x-amz-function-error").is_none(), "{}", r.text());
    assert_eq!(
        r.json(),
        Value::Null,
        "nodejs20.x ignores a plain return value, as AWS's runtime does"
    );

    d.create(
        "nesm",
        &fixture("node-esm"),
        "nodejs20.x",
        "index.handler",
        &[],
    );
    assert_eq!(
        d.invoke("nesm", r#"{"z": 3}"#).json(),
        json!({"esm": true, "event": {"z": 3}})
    );
}

#[test]
fn import_error_is_reported_as_an_init_error_every_time() {
    let d = Daemon::start();
    d.create(
        "broken",
        &fixture("py-import-error"),
        "python3.11",
        "app.handler",
        &[],
    );
    for _ in 0..2 {
        let r = d.invoke("broken", "{}");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
        let body = r.json();
        assert_eq!(body["errorType"], "Runtime.ImportModuleError");
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("not_a_module_xyz")),
            "{body}"
        );
    }
    let log = d.logs("broken").last().expect("record")["log"]
        .as_str()
        .expect("log")
        .to_owned();
    assert!(
        log.contains("INIT_REPORT") && log.contains("Runtime.ImportModuleError"),
        "{log}"
    );
    d.create(
        "nohandler",
        &fixture("py-basic"),
        "python3.11",
        "app.missing",
        &[],
    );
    let body = d.invoke("nohandler", "{}").json();
    assert_eq!(body["errorType"], "Runtime.HandlerNotFound", "{body}");
}

#[test]
fn runtime_exit_mid_invocation_is_an_exit_error_and_the_sandbox_is_replaced() {
    let d = Daemon::start();
    let dir = fixture("py-basic");
    d.create("crash", &dir, "python3.11", "app.exit_now", &[]);
    let r = d.invoke("crash", "{}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    let body = r.json();
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.ends_with("Runtime exited with error: exit status 3")),
        "{body}"
    );
    // The same function, now with a working handler: a fresh sandbox serves it.
    d.aws_ok(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "crash",
        "--handler",
        "app.handler",
    ]);
    let body = d.invoke("crash", "{}").json();
    assert_eq!(body["count"], 1);
}

#[test]
fn responses_over_six_megabytes_are_refused() {
    let d = Daemon::start();
    d.create(
        "big",
        &fixture("py-basic"),
        "python3.11",
        "app.big",
        &["--timeout", "10"],
    );
    let ok = d.invoke("big", r#"{"bytes": 5000000}"#);
    assert!(ok.header("x-amz-function-error").is_none());
    assert_eq!(ok.json().as_str().map(str::len), Some(5_000_000));
    let r = d.invoke("big", r#"{"bytes": 7000000}"#);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.json()["errorType"], "Function.ResponseSizeTooLarge");
    // The runtime was told (413) and carries on.
    assert!(
        d.invoke("big", r#"{"bytes": 10}"#)
            .header("x-amz-function-error")
            .is_none()
    );
}
