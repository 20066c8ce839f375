//! The rest of the management API with the AWS CLI and boto3: tags, account settings,
//! resource policies, the read calls Terraform and SAM make after a create, and operations
//! lambdalet does not serve (named, never a ResourceNotFoundException).

use std::path::Path;

use serde_json::Value;

use crate::harness::{Daemon, zip_file};

mod bucket_grants;
mod operations;
mod policies;

/// A Python function whose code says `marker` (so two of them have different zips).
pub(crate) fn python_dir(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("app.py"),
        format!("def handler(event, context):\n    return {{'marker': {marker:?}}}\n"),
    )
    .expect("write app.py");
    dir
}

pub(crate) fn create(d: &Daemon, name: &str, dir: &Path, extra: &[&str]) -> Value {
    d.create(name, dir, "python3.11", "app.handler", extra)
}

/// Runs the AWS CLI expecting a failure; returns its error output.
pub(crate) fn aws_err(d: &Daemon, args: &[&str]) -> String {
    let out = d.aws(args);
    assert!(!out.status.success(), "aws {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn assert_error(err: &str, error_type: &str, words: &[&str]) {
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
