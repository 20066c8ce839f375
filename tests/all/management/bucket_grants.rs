//! Bucket notifications need the function's grant to `s3.amazonaws.com`, as on AWS, unless
//! the daemon runs with `serve --trust-services`.

use std::time::Duration;

use serde_json::json;

use super::{assert_error, create};
use crate::harness::{Daemon, eventually};
use crate::s3::{s3, s3_daemon, s3_ok};

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
