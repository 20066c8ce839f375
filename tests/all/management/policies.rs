//! Resource-based policies: AddPermission, GetPolicy, RemovePermission with the AWS CLI, and who
//! may change them (the bucket notifications that need them are in `bucket_grants.rs`).

use serde_json::{Value, json};

use super::{assert_error, aws_err, create, python_dir};
use crate::containment::{call, deploy_escape, function};
use crate::harness::Daemon;

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

    // $LATEST has no policy of its own: it is the function's.
    let out = add(&d, "latest", &["--qualifier", "$LATEST"]);
    assert_error(
        &String::from_utf8_lossy(&out.stderr),
        "InvalidParameterValueException",
        &["$LATEST", "no Qualifier"],
    );
    let (doc, _) = policy_of(
        &d,
        &["--function-name", "guarded", "--qualifier", "$LATEST"],
    );
    assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
    // Not a function's ARN, a function that does not exist.
    let err = aws_err(
        &d,
        &[
            "lambda",
            "get-policy",
            "--function-name",
            "arn:aws:s3:::guarded",
        ],
    );
    assert_error(&err, "InvalidParameterValueException", &[]);
    let err = aws_err(&d, &["lambda", "get-policy", "--function-name", "missing"]);
    assert_error(&err, "ResourceNotFoundException", &["missing"]);

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

    // The function's own RevisionId is taken too, as on AWS (where it is the policy's).
    let function_revision = d.aws_ok(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "guarded",
    ])["RevisionId"]
        .as_str()
        .expect("revision")
        .to_owned();
    let out = add(&d, "by-function", &["--revision-id", &function_revision]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

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

/// A function's own credentials may invoke, not manage: it can neither grant itself or another
/// function to the world, nor read or change their policies or tags.
#[test]
fn a_function_cannot_change_policies_or_tags_with_its_own_credentials() {
    let d = Daemon::start();
    let target = deploy_escape(&d, "target", "app.identity", &[]);
    deploy_escape(&d, "caller", "app.api", &[]);
    d.aws_ok(&[
        "lambda",
        "add-permission",
        "--function-name",
        "target",
        "--statement-id",
        "admin",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "s3.amazonaws.com",
    ]);
    let arn = target["FunctionArn"].as_str().expect("arn");
    let calls = json!([
        {"op": "add_permission", "name": "target"},
        {"op": "remove_permission", "name": "target", "sid": "admin"},
        {"op": "get_policy", "name": "target"},
        {"op": "tag", "arn": arn},
    ]);
    let got = call(&d, "caller", json!({ "calls": calls }));
    for op in ["add_permission", "remove_permission", "get_policy", "tag"] {
        assert_eq!(got[op], "AccessDeniedException", "{op}: {got}");
    }
    let itself = call(
        &d,
        "caller",
        json!({"calls": [{"op": "add_permission", "name": "caller"}]}),
    );
    assert_eq!(
        itself["add_permission"], "AccessDeniedException",
        "{itself}"
    );
    let (doc, _) = policy_of(&d, &["--function-name", "target"]);
    assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(doc["Statement"][0]["Sid"], "admin");
    let err = aws_err(&d, &["lambda", "get-policy", "--function-name", "caller"]);
    assert_error(&err, "ResourceNotFoundException", &[]);
    assert_eq!(function(&d, "target")["FunctionArn"], arn);
    let tags = d.aws_ok(&["lambda", "list-tags", "--resource", arn]);
    assert_eq!(tags["Tags"], json!({}));
}
