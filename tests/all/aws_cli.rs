//! The AWS CLI against lambdalet: the whole function lifecycle, logs, errors and timeouts.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Daemon, curl, decode_log, fixture};

/// A directory with an `app.py` whose handler returns `{"v": <tag>}`.
fn tagged_function(dir: &Path, tag: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        dir.join("app.py"),
        format!(
            "import os\ndef handler(event, context):\n    return {{'v': '{tag}', 'version': context.function_version, 'greeting': os.environ.get('GREETING')}}\n"
        ),
    )
    .expect("write app.py");
}

#[test]
fn function_lifecycle_with_the_aws_cli() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    tagged_function(&one, "one");
    tagged_function(&two, "two");

    let created = d.create(
        "life",
        &one,
        "python3.11",
        "app.handler",
        &["--timeout", "5"],
    );
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:life"
    );
    assert_eq!(created["Version"], "$LATEST");
    assert_eq!(created["Timeout"], 5);
    assert_eq!(created["State"], "Active");
    let (_, body) = d.aws_invoke(&["--function-name", "life"], "{}");
    assert_eq!(body["v"], "one");

    let v1 = d.aws_ok(&[
        "lambda",
        "publish-version",
        "--function-name",
        "life",
        "--description",
        "first",
    ]);
    assert_eq!(v1["Version"], "1");
    assert_eq!(v1["Description"], "first");
    assert_eq!(
        v1["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:life:1"
    );
    let again = d.aws_ok(&["lambda", "publish-version", "--function-name", "life"]);
    assert_eq!(
        again["Version"], "1",
        "publishing an unchanged $LATEST returns the newest version"
    );

    let zip = crate::harness::zip_file(&two);
    let zip_arg = format!("fileb://{}", zip.path().display());
    let updated = d.aws_ok(&[
        "lambda",
        "update-function-code",
        "--function-name",
        "life",
        "--zip-file",
        &zip_arg,
    ]);
    assert_ne!(updated["CodeSha256"], created["CodeSha256"]);
    assert_ne!(updated["RevisionId"], created["RevisionId"]);
    let cfg = d.aws_ok(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "life",
        "--environment",
        "Variables={GREETING=hi}",
        "--memory-size",
        "256",
    ]);
    assert_eq!(cfg["MemorySize"], 256);
    assert_eq!(cfg["Environment"]["Variables"]["GREETING"], "hi");
    let (_, body) = d.aws_invoke(&["--function-name", "life"], "{}");
    assert_eq!(
        body,
        serde_json::json!({"v": "two", "version": "$LATEST", "greeting": "hi"})
    );

    let v2 = d.aws_ok(&["lambda", "publish-version", "--function-name", "life"]);
    assert_eq!(v2["Version"], "2");

    let alias = d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "life",
        "--name",
        "prod",
        "--function-version",
        "1",
    ]);
    assert_eq!(
        alias["AliasArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:life:prod"
    );
    let (meta, body) = d.aws_invoke(&["--function-name", "life", "--qualifier", "prod"], "{}");
    assert_eq!(body["v"], "one", "the alias runs version 1's code");
    assert_eq!(body["version"], "1");
    assert_eq!(meta["ExecutedVersion"], "1");

    d.aws_ok(&[
        "lambda",
        "update-alias",
        "--function-name",
        "life",
        "--name",
        "prod",
        "--function-version",
        "2",
    ]);
    let (meta, body) = d.aws_invoke(&["--function-name", "life:prod"], "{}");
    assert_eq!(body["v"], "two");
    assert_eq!(meta["ExecutedVersion"], "2");
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:life:1";
    let (meta, body) = d.aws_invoke(&["--function-name", arn], "{}");
    assert_eq!(
        (body["v"].clone(), meta["ExecutedVersion"].clone()),
        ("one".into(), "1".into())
    );

    let versions = d.aws_ok(&[
        "lambda",
        "list-versions-by-function",
        "--function-name",
        "life",
    ]);
    let names: Vec<&str> = versions["Versions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v["Version"].as_str().expect("str"))
        .collect();
    assert_eq!(names, ["$LATEST", "1", "2"]);
    let aliases = d.aws_ok(&["lambda", "list-aliases", "--function-name", "life"]);
    assert_eq!(aliases["Aliases"][0]["FunctionVersion"], "2");

    // GetFunction's Code.Location downloads the zip that $LATEST runs.
    let got = d.aws_ok(&["lambda", "get-function", "--function-name", "life"]);
    assert_eq!(got["Configuration"]["CodeSha256"], updated["CodeSha256"]);
    let location = got["Code"]["Location"].as_str().expect("location");
    let download = curl("GET", location, None, &[]);
    assert_eq!(download.status, 200);
    assert_eq!(download.body, std::fs::read(zip.path()).expect("zip"));

    // Version 2 is referenced by the alias and cannot be deleted until the alias moves.
    let out = d.aws(&[
        "lambda",
        "delete-function",
        "--function-name",
        "life",
        "--qualifier",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceConflictException"));
    d.aws_ok(&[
        "lambda",
        "delete-alias",
        "--function-name",
        "life",
        "--name",
        "prod",
    ]);
    d.aws_ok(&[
        "lambda",
        "delete-function",
        "--function-name",
        "life",
        "--qualifier",
        "2",
    ]);
    let versions = d.aws_ok(&[
        "lambda",
        "list-versions-by-function",
        "--function-name",
        "life",
    ]);
    assert_eq!(versions["Versions"].as_array().expect("list").len(), 2);

    d.aws_ok(&["lambda", "delete-function", "--function-name", "life"]);
    let out = d.aws(&["lambda", "get-function", "--function-name", "life"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ResourceNotFoundException") && err.contains("life"),
        "{err}"
    );
}

#[test]
fn list_functions_pages() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    tagged_function(tmp.path(), "p");
    for i in 0..7 {
        d.create(
            &format!("page-{i}"),
            tmp.path(),
            "python3.11",
            "app.handler",
            &[],
        );
    }
    // The CLI follows NextMarker itself when asked for pages of 2.
    let all = d.aws_ok(&["lambda", "list-functions", "--page-size", "2"]);
    let names: Vec<&str> = all["Functions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|f| f["FunctionName"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "page-0", "page-1", "page-2", "page-3", "page-4", "page-5", "page-6"
        ]
    );

    // The raw API: MaxItems and NextMarker.
    let first = d
        .http("GET", "/2015-03-31/functions/?MaxItems=3", None, &[])
        .json();
    assert_eq!(first["Functions"].as_array().expect("list").len(), 3);
    let marker = first["NextMarker"].as_str().expect("more pages");
    let second = d
        .http(
            "GET",
            &format!("/2015-03-31/functions/?MaxItems=3&Marker={marker}"),
            None,
            &[],
        )
        .json();
    assert_eq!(second["Functions"][0]["FunctionName"], "page-3");
    let marker = second["NextMarker"].as_str().expect("a third page");
    let third = d
        .http(
            "GET",
            &format!("/2015-03-31/functions/?MaxItems=3&Marker={marker}"),
            None,
            &[],
        )
        .json();
    assert_eq!(third["Functions"].as_array().expect("list").len(), 1);
    assert!(third.get("NextMarker").is_none());
    let bad = d.http("GET", "/2015-03-31/functions/?MaxItems=0", None, &[]);
    assert_eq!(
        (bad.status, bad.error_type().as_str()),
        (400, "InvalidParameterValueException")
    );
}

#[test]
fn tail_log_has_start_output_end_and_report() {
    let d = Daemon::start();
    d.create(
        "tail",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &["--memory-size", "256"],
    );
    let (meta, body) = d.aws_invoke(
        &["--function-name", "tail", "--log-type", "Tail"],
        r#"{"n":1}"#,
    );
    let id = body["context"]["aws_request_id"]
        .as_str()
        .expect("request id");
    let log = decode_log(meta["LogResult"].as_str().expect("LogResult"));
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == format!("START RequestId: {id} Version: $LATEST"))
        .expect(&log);
    let printed = lines
        .iter()
        .position(|l| *l == format!("printed-by-handler {id}"))
        .expect(&log);
    let end = lines
        .iter()
        .position(|l| *l == format!("END RequestId: {id}"))
        .expect(&log);
    let report = lines
        .iter()
        .position(|l| l.starts_with(&format!("REPORT RequestId: {id}\t")))
        .expect(&log);
    assert!(start < printed && printed < end && end < report, "{log}");
    let report = lines[report];
    for field in [
        "\tDuration: ",
        " ms\tBilled Duration: ",
        " ms\tMemory Size: 256 MB\tMax Memory Used: ",
        "\tInit Duration: ",
    ] {
        assert!(report.contains(field), "{field:?} missing in {report:?}");
    }
    let init_at = report.find("Init Duration").expect("init");
    assert!(
        report.find("Max Memory Used").expect("mem") < init_at,
        "Init Duration comes last, as in the service"
    );
    let used: u64 = report
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("number");
    assert!(
        (2..256).contains(&used),
        "measured memory of a Python runtime: {used} MB"
    );

    let (meta, _) = d.aws_invoke(&["--function-name", "tail", "--log-type", "Tail"], "{}");
    let log = decode_log(meta["LogResult"].as_str().expect("LogResult"));
    assert!(
        !log.contains("Init Duration"),
        "a warm invoke reports no init: {log}"
    );
}

#[test]
fn raising_handler_gives_function_error() {
    let d = Daemon::start();
    d.create(
        "raise",
        &fixture("py-basic"),
        "python3.11",
        "app.raise_error",
        &[],
    );
    let (meta, body) = d.aws_invoke(&["--function-name", "raise"], r#"{"a":1}"#);
    assert_eq!(meta["StatusCode"], 200);
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "boom: {'a': 1}");
    let trace = body["stackTrace"].as_array().expect("stackTrace");
    assert!(
        trace
            .iter()
            .any(|f| f.as_str().is_some_and(|s| s.contains("raise_error"))),
        "{body}"
    );
}

#[test]
fn timeout_kills_the_sandbox_and_the_next_invoke_succeeds() {
    let d = Daemon::start();
    d.create(
        "slow",
        &fixture("py-basic"),
        "python3.11",
        "app.sleep",
        &["--timeout", "1"],
    );
    let started = std::time::Instant::now();
    let (meta, body) = d.aws_invoke(
        &["--function-name", "slow", "--log-type", "Tail"],
        r#"{"seconds": 30}"#,
    );
    // The CLI's own start-up counts here too (seconds on a loaded machine); a 30 s sleep
    // keeps the check about the timeout, not about the machine's load.
    assert!(
        started.elapsed().as_secs_f64() < 12.0,
        "the timeout did not cut the 30 s sleep short"
    );
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    let msg = body["errorMessage"].as_str().expect("message");
    assert!(msg.ends_with("Task timed out after 1.00 seconds"), "{msg}");
    let log = decode_log(meta["LogResult"].as_str().expect("LogResult"));
    assert!(log.contains("Task timed out after 1.00 seconds"), "{log}");
    assert!(log.contains("Status: timeout"), "{log}");

    let (meta, body): (Value, Value) =
        d.aws_invoke(&["--function-name", "slow"], r#"{"seconds": 0}"#);
    assert!(meta.get("FunctionError").is_none(), "{meta}");
    assert_eq!(body, "slept");
}
