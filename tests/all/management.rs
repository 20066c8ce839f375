//! The rest of the management API with the AWS CLI and boto3: tags, account settings,
//! resource policies, the read calls Terraform and SAM make after a create, and operations
//! lambdalet does not serve (named, never a ResourceNotFoundException).

use std::path::Path;

use serde_json::Value;

use crate::harness::{Daemon, python_script, zip_file};

/// A Python function whose code says `marker` (so two of them have different zips).
fn python_dir(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("app.py"),
        format!("def handler(event, context):\n    return {{'marker': {marker:?}}}\n"),
    )
    .expect("write app.py");
    dir
}

fn create(d: &Daemon, name: &str, dir: &Path, extra: &[&str]) -> Value {
    d.create(name, dir, "python3.11", "app.handler", extra)
}

/// Runs the AWS CLI expecting a failure; returns its error output.
fn aws_err(d: &Daemon, args: &[&str]) -> String {
    let out = d.aws(args);
    assert!(!out.status.success(), "aws {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_error(err: &str, error_type: &str, words: &[&str]) {
    assert!(err.contains(error_type), "want {error_type}: {err}");
    for w in words {
        assert!(err.contains(w), "want {w:?} in: {err}");
    }
}

#[test]
fn tags_round_trip_with_the_cli_within_aws_limits() {
    let d = Daemon::start();
    let code = python_dir("tags");
    let created = create(&d, "tagged", code.path(), &["--tags", "team=edge"]);
    let arn = created["FunctionArn"].as_str().expect("arn").to_owned();
    let list = |d: &Daemon| d.aws_ok(&["lambda", "list-tags", "--resource", &arn])["Tags"].clone();
    assert_eq!(list(&d), serde_json::json!({"team": "edge"}));

    d.aws_ok(&[
        "lambda",
        "tag-resource",
        "--resource",
        &arn,
        "--tags",
        "env=prod,team=core",
    ]);
    assert_eq!(list(&d), serde_json::json!({"env": "prod", "team": "core"}));
    let got = d.aws_ok(&["lambda", "get-function", "--function-name", "tagged"]);
    assert_eq!(got["Tags"], list(&d), "GetFunction shows the same tags");

    d.aws_ok(&[
        "lambda",
        "untag-resource",
        "--resource",
        &arn,
        "--tag-keys",
        "team",
        "absent",
    ]);
    assert_eq!(list(&d), serde_json::json!({"env": "prod"}));

    // A qualified ARN, a bare name, an unknown function, AWS's limits.
    let err = aws_err(
        &d,
        &[
            "lambda",
            "list-tags",
            "--resource",
            &format!("{arn}:$LATEST"),
        ],
    );
    assert_error(
        &err,
        "InvalidParameterValueException",
        &["aliases and versions"],
    );
    let err = aws_err(&d, &["lambda", "list-tags", "--resource", "tagged"]);
    assert_error(
        &err,
        "InvalidParameterValueException",
        &["not a function ARN"],
    );
    let missing = arn.replace(":tagged", ":missing");
    let err = aws_err(
        &d,
        &[
            "lambda",
            "tag-resource",
            "--resource",
            &missing,
            "--tags",
            "a=b",
        ],
    );
    assert_error(&err, "ResourceNotFoundException", &["missing"]);
    let err = aws_err(
        &d,
        &[
            "lambda",
            "tag-resource",
            "--resource",
            &arn,
            "--tags",
            "aws:owner=me",
        ],
    );
    assert_error(&err, "InvalidParameterValueException", &["reserved"]);
    let many: Vec<String> = (0..50).map(|i| format!("k{i}=v")).collect();
    let err = aws_err(
        &d,
        &[
            "lambda",
            "tag-resource",
            "--resource",
            &arn,
            "--tags",
            &many.join(","),
        ],
    );
    assert_error(
        &err,
        "InvalidParameterValueException",
        &["at most 50", "51"],
    );
    let long = format!("k={}", "v".repeat(257));
    let err = aws_err(
        &d,
        &[
            "lambda",
            "tag-resource",
            "--resource",
            &arn,
            "--tags",
            &long,
        ],
    );
    assert_error(&err, "InvalidParameterValueException", &["256"]);
    assert_eq!(
        list(&d),
        serde_json::json!({"env": "prod"}),
        "nothing refused was kept"
    );

    // CreateFunction's Tags follow the same rules.
    let zip = zip_file(code.path());
    let err = aws_err(
        &d,
        &[
            "lambda",
            "create-function",
            "--function-name",
            "refused",
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
            "--role",
            "r",
            "--zip-file",
            &format!("fileb://{}", zip.path().display()),
            "--tags",
            "aws:x=y",
        ],
    );
    assert_error(&err, "InvalidParameterValueException", &["reserved"]);
}

fn policy_of(d: &Daemon, args: &[&str]) -> (Value, String) {
    let mut all = vec!["lambda", "get-policy"];
    all.extend_from_slice(args);
    let got = d.aws_ok(&all);
    let doc: Value =
        serde_json::from_str(got["Policy"].as_str().expect("Policy is a string")).expect("json");
    (
        doc,
        got["RevisionId"].as_str().expect("revision").to_owned(),
    )
}

#[test]
fn policies_add_get_remove_per_qualifier_and_persist() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_in(tmp.path());
    let code = python_dir("policy");
    create(&d, "guarded", code.path(), &[]);
    let none = aws_err(&d, &["lambda", "get-policy", "--function-name", "guarded"]);
    assert_error(&none, "ResourceNotFoundException", &["AddPermission"]);

    let add = |d: &Daemon, sid: &str, extra: &[&str]| {
        let mut args = vec![
            "lambda",
            "add-permission",
            "--function-name",
            "guarded",
            "--statement-id",
            sid,
            "--action",
            "lambda:InvokeFunction",
            "--principal",
            "s3.amazonaws.com",
        ];
        args.extend_from_slice(extra);
        d.aws(&args)
    };
    let out = add(&d, "s3", &["--source-arn", "arn:aws:s3:::uploads"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).expect("json");
    let statement: Value =
        serde_json::from_str(added["Statement"].as_str().expect("string")).expect("json");
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        "arn:aws:s3:::uploads"
    );
    assert_eq!(
        statement["Resource"],
        "arn:aws:lambda:us-east-1:000000000000:function:guarded"
    );

    let (doc, revision) = policy_of(&d, &["--function-name", "guarded"]);
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Id"], "default");
    assert_eq!(doc["Statement"].as_array().expect("list").len(), 1);
    assert_eq!(doc["Statement"][0], statement);

    let dup = add(&d, "s3", &[]);
    assert_error(
        &String::from_utf8_lossy(&dup.stderr),
        "ResourceConflictException",
        &["(s3) provided already exists"],
    );
    let stale = add(&d, "other", &["--revision-id", "not-the-revision"]);
    assert_error(
        &String::from_utf8_lossy(&stale.stderr),
        "PreconditionFailedException",
        &[],
    );
    let out = add(&d, "events", &["--revision-id", &revision]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An alias has its own policy.
    d.aws_ok(&["lambda", "publish-version", "--function-name", "guarded"]);
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "guarded",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    let err = aws_err(
        &d,
        &[
            "lambda",
            "get-policy",
            "--function-name",
            "guarded",
            "--qualifier",
            "live",
        ],
    );
    assert_error(&err, "ResourceNotFoundException", &[]);
    let out = add(&d, "s3", &["--qualifier", "live"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (doc, _) = policy_of(&d, &["--function-name", "guarded:live"]);
    assert_eq!(
        doc["Statement"][0]["Resource"],
        "arn:aws:lambda:us-east-1:000000000000:function:guarded:live"
    );
    let err = aws_err(
        &d,
        &[
            "lambda",
            "get-policy",
            "--function-name",
            "guarded",
            "--qualifier",
            "nope",
        ],
    );
    assert_error(&err, "ResourceNotFoundException", &["guarded:nope"]);

    // Policies survive a restart.
    d.stop();
    let mut d = Daemon::start_in(tmp.path());
    let (doc, _) = policy_of(&d, &["--function-name", "guarded"]);
    let sids: Vec<&str> = doc["Statement"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["Sid"].as_str().expect("sid"))
        .collect();
    assert_eq!(sids, ["s3", "events"]);

    let remove = |d: &Daemon, sid: &str| {
        d.aws(&[
            "lambda",
            "remove-permission",
            "--function-name",
            "guarded",
            "--statement-id",
            sid,
        ])
    };
    let err = remove(&d, "absent");
    assert_error(
        &String::from_utf8_lossy(&err.stderr),
        "ResourceNotFoundException",
        &["absent", "s3, events"],
    );
    assert!(remove(&d, "s3").status.success());
    assert!(remove(&d, "events").status.success());
    let err = aws_err(&d, &["lambda", "get-policy", "--function-name", "guarded"]);
    assert_error(&err, "ResourceNotFoundException", &[]);
    let (doc, _) = policy_of(&d, &["--function-name", "guarded", "--qualifier", "live"]);
    assert_eq!(doc["Statement"][0]["Sid"], "s3", "the alias keeps its own");

    // Deleting the function deletes its policies: a new one of the same name has none.
    d.aws_ok(&["lambda", "delete-function", "--function-name", "guarded"]);
    create(&d, "guarded", code.path(), &[]);
    d.aws_ok(&["lambda", "publish-version", "--function-name", "guarded"]);
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "guarded",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    let err = aws_err(
        &d,
        &[
            "lambda",
            "get-policy",
            "--function-name",
            "guarded",
            "--qualifier",
            "live",
        ],
    );
    assert_error(&err, "ResourceNotFoundException", &[]);
    d.stop();
}

#[test]
fn account_settings_count_this_nodes_functions_and_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_with(tmp.path(), "serve", &["--max-concurrency", "40"]);
    d.keep(tmp);
    let empty = d.aws_ok(&["lambda", "get-account-settings"]);
    assert_eq!(empty["AccountUsage"]["FunctionCount"], 0);
    assert_eq!(empty["AccountUsage"]["TotalCodeSize"], 0);
    let limit = &empty["AccountLimit"];
    assert_eq!(limit["CodeSizeUnzipped"], 262_144_000);
    assert_eq!(limit["CodeSizeZipped"], 52_428_800);
    assert_eq!(limit["ConcurrentExecutions"], 40);
    assert_eq!(limit["UnreservedConcurrentExecutions"], 40);
    assert!(
        limit["TotalCodeSize"].as_u64().expect("size") > 0,
        "{limit}"
    );

    let (a, b) = (python_dir("one"), python_dir("two, a little longer"));
    let size_a = create(&d, "one", a.path(), &[])["CodeSize"]
        .as_u64()
        .expect("size");
    let size_b = create(&d, "two", b.path(), &[])["CodeSize"]
        .as_u64()
        .expect("size");
    d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "two",
        "--reserved-concurrent-executions",
        "15",
    ]);
    let got = d.aws_ok(&["lambda", "get-account-settings"]);
    assert_eq!(got["AccountUsage"]["FunctionCount"], 2);
    assert_eq!(got["AccountUsage"]["TotalCodeSize"], size_a + size_b);
    assert_eq!(got["AccountLimit"]["ConcurrentExecutions"], 40);
    assert_eq!(got["AccountLimit"]["UnreservedConcurrentExecutions"], 25);
    assert!(
        got["AccountLimit"]["TotalCodeSize"].as_u64()
            >= got["AccountUsage"]["TotalCodeSize"].as_u64()
    );
}

#[test]
fn read_calls_after_a_create_answer_as_aws_for_a_function_without_the_feature() {
    let d = Daemon::start();
    let code = python_dir("reads");
    let created = create(&d, "plain", code.path(), &[]);
    let arn = created["FunctionArn"].as_str().expect("arn");
    let fname = ["--function-name", "plain"];
    let call = |op: &str, extra: &[&str]| {
        let mut args = vec!["lambda", op];
        args.extend_from_slice(extra);
        d.aws_ok(&args)
    };
    assert_eq!(
        call("get-function-code-signing-config", &fname),
        serde_json::json!({"FunctionName": "plain", "CodeSigningConfigArn": ""})
    );
    let runtime = call("get-runtime-management-config", &fname);
    assert_eq!(runtime["UpdateRuntimeOn"], "Auto");
    assert_eq!(runtime["FunctionArn"], arn);
    assert_eq!(
        call("list-function-url-configs", &fname)["FunctionUrlConfigs"],
        serde_json::json!([])
    );
    assert_eq!(
        call("list-event-source-mappings", &fname)["EventSourceMappings"],
        serde_json::json!([])
    );
    assert_eq!(
        call("list-event-source-mappings", &[])["EventSourceMappings"],
        serde_json::json!([])
    );
    assert_eq!(
        call("get-function-recursion-config", &fname)["RecursiveLoop"],
        "Terminate"
    );
    let concurrency = call("get-function-concurrency", &fname);
    assert!(
        concurrency.is_null() || concurrency == serde_json::json!({}),
        "{concurrency}"
    );

    for op in [
        "get-function-code-signing-config",
        "get-runtime-management-config",
        "list-function-url-configs",
        "list-event-source-mappings",
        "get-function-recursion-config",
        "get-function-concurrency",
    ] {
        let err = aws_err(&d, &["lambda", op, "--function-name", "absent"]);
        assert_error(&err, "ResourceNotFoundException", &["absent"]);
    }
}

#[test]
fn boto3_paginates_waits_tags_grants_and_hears_unserved_operations_named() {
    let d = Daemon::start();
    let code = python_dir("boto3");
    let zip = zip_file(code.path());
    let out = python_script(
        "management_flow.py",
        &[&d.url, zip.path().to_str().expect("utf-8")],
    );
    assert_eq!(out["active"], "Active");
    assert_eq!(
        out["listed"],
        serde_json::json!(["m0", "m1", "m2", "m3", "m4"])
    );
    assert!(
        out["pages"].as_u64().expect("pages") >= 3,
        "{}",
        out["pages"]
    );
    assert_eq!(out["tags"], serde_json::json!({"stage": "test"}));
    assert_eq!(out["untagged"], serde_json::json!({}));
    assert_eq!(out["policy_sids"], serde_json::json!(["url"]));
    assert_eq!(
        out["policy_condition"],
        serde_json::json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
    );
    assert_eq!(out["duplicate"], "ResourceConflictException");
    assert_eq!(out["removed"], "ResourceNotFoundException");
    assert_eq!(out["function_count"], 5);
    assert_eq!(out["code_signing"], "");
    assert_eq!(out["recursion"], "Terminate");

    for (op, seen) in out["unserved"].as_object().expect("unserved") {
        assert_eq!(
            seen["code"], "UnsupportedOperationException",
            "{op}: {seen}"
        );
        assert_eq!(seen["status"], 501, "{op}: {seen}");
        let message = seen["message"].as_str().expect("message");
        assert!(
            message.starts_with(&format!("lambdalet does not serve {op} ")),
            "{op}: {message}"
        );
    }
    assert_eq!(out["unserved"].as_object().map(|o| o.len()), Some(4));

    // A path under a Lambda version that is no operation: 400 naming it.
    let r = d.http("GET", "/2015-03-31/nothing-here", None, &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_type(), "UnknownOperationException");
    assert!(r.message().contains("/2015-03-31/nothing-here"));
}
