//! Resource-based policies: AddPermission, GetPolicy, RemovePermission with the AWS CLI, who may
//! change them, and bucket notifications that need them (unless `serve --trust-services`).

use std::time::Duration;

use serde_json::{Value, json};

use super::{assert_error, aws_err, create, python_dir};
use crate::containment::{call, deploy_escape, function};
use crate::harness::{Daemon, eventually};
use crate::s3::{s3, s3_daemon, s3_ok};

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

/// The object keys of the S3 events `name` was invoked with, oldest first.
fn deliveries(d: &Daemon, name: &str) -> Vec<String> {
    d.logs(name)
        .iter()
        .filter_map(|r| r["log"].as_str().map(str::to_owned))
        .flat_map(|l| {
            l.lines()
                .filter_map(|line| line.strip_prefix("S3KEY ").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn put_notification(url: &str, bucket: &str, function_arn: &str) -> std::process::Output {
    let config = json!({"LambdaFunctionConfigurations": [
        {"Id": "new", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}]});
    s3(
        url,
        &[
            "s3api",
            "put-bucket-notification-configuration",
            "--bucket",
            bucket,
            "--notification-configuration",
            &config.to_string(),
        ],
    )
}

/// S3 needs the function's grant as on AWS: for this bucket and this service, on the
/// qualifier the notification names; without it the configuration is refused, and a grant
/// removed later stops the deliveries.
#[test]
fn bucket_notifications_need_a_grant_as_on_aws() {
    let (d, url) = s3_daemon(&[]);
    let code = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        code.path().join("app.py"),
        "def handler(event, context):\n    for r in event['Records']:\n        print('S3KEY', r['s3']['object']['key'])\n",
    )
    .expect("write app.py");
    create(&d, "thumbs", code.path(), &[]);
    s3_ok(&url, &["s3", "mb", "s3://photos"]);
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:thumbs";
    let refused = |why: &str, target: &str| {
        let o = put_notification(&url, "photos", target);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{why}: accepted");
        assert_error(
            &err,
            "InvalidArgument",
            &[
                "Unable to validate the following destination configurations",
                "add-permission",
            ],
        );
    };
    refused("no policy", arn);
    let grant = |sid: &str, extra: &[&str]| {
        let mut args = vec![
            "lambda",
            "add-permission",
            "--function-name",
            "thumbs",
            "--statement-id",
            sid,
            "--action",
            "lambda:InvokeFunction",
        ];
        args.extend_from_slice(extra);
        d.aws_ok(&args);
    };
    grant(
        "other-bucket",
        &[
            "--principal",
            "s3.amazonaws.com",
            "--source-arn",
            "arn:aws:s3:::other",
        ],
    );
    grant("events", &["--principal", "events.amazonaws.com"]);
    grant(
        "other-account",
        &[
            "--principal",
            "s3.amazonaws.com",
            "--source-account",
            "111122223333",
        ],
    );
    refused("grants for another bucket, service or account", arn);

    grant(
        "photos",
        &[
            "--principal",
            "s3.amazonaws.com",
            "--source-arn",
            "arn:aws:s3:::photos",
            "--source-account",
            "000000000000",
        ],
    );
    let o = put_notification(&url, "photos", arn);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // An alias is a resource of its own: the function's grant does not reach it.
    d.aws_ok(&["lambda", "publish-version", "--function-name", "thumbs"]);
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "thumbs",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    refused("no grant on the alias", &format!("{arn}:live"));

    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a.jpg");
    std::fs::write(&file, "jpeg").expect("write");
    let file = file.to_str().expect("utf-8");
    s3_ok(&url, &["s3", "cp", "--quiet", file, "s3://photos/one.jpg"]);
    eventually(Duration::from_secs(30), "the first delivery", || {
        deliveries(&d, "thumbs") == ["one.jpg"]
    });

    // The grant removed, the next upload is not delivered, and the log says why; granted
    // again, the one after is.
    d.aws_ok(&[
        "lambda",
        "remove-permission",
        "--function-name",
        "thumbs",
        "--statement-id",
        "photos",
    ]);
    s3_ok(&url, &["s3", "cp", "--quiet", file, "s3://photos/two.jpg"]);
    eventually(Duration::from_secs(10), "the denial in the log", || {
        d.log().contains("s3.notification_denied")
    });
    grant(
        "photos-again",
        &[
            "--principal",
            "s3.amazonaws.com",
            "--source-arn",
            "arn:aws:s3:::photos",
        ],
    );
    s3_ok(
        &url,
        &["s3", "cp", "--quiet", file, "s3://photos/three.jpg"],
    );
    eventually(Duration::from_secs(30), "the third delivery", || {
        deliveries(&d, "thumbs").len() >= 2
    });
    assert_eq!(
        deliveries(&d, "thumbs"),
        ["one.jpg", "three.jpg"],
        "{}",
        d.log()
    );
}

/// `serve --trust-services` lets any bucket of the node notify any function, without a grant.
#[test]
fn with_trust_services_a_bucket_notifies_without_a_grant() {
    let (d, url) = s3_daemon(&["--trust-services"]);
    let code = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        code.path().join("app.py"),
        "def handler(event, context):\n    for r in event['Records']:\n        print('S3KEY', r['s3']['object']['key'])\n",
    )
    .expect("write app.py");
    create(&d, "thumbs", code.path(), &[]);
    s3_ok(&url, &["s3", "mb", "s3://photos"]);
    let o = put_notification(
        &url,
        "photos",
        "arn:aws:lambda:us-east-1:000000000000:function:thumbs",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a.jpg");
    std::fs::write(&file, "jpeg").expect("write");
    s3_ok(
        &url,
        &[
            "s3",
            "cp",
            "--quiet",
            file.to_str().expect("utf-8"),
            "s3://photos/one.jpg",
        ],
    );
    eventually(Duration::from_secs(30), "the delivery", || {
        deliveries(&d, "thumbs") == ["one.jpg"]
    });
}
