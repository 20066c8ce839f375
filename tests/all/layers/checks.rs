//! Layer requests refused as AWS refuses them: each says what is wrong, and nothing is stored.

use base64::Engine as _;
use serde_json::{Value, json};

use super::module_layer;
use crate::harness::{Daemon, zip_bytes};

#[test]
fn layer_requests_are_checked_as_aws_checks_them() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let zip = base64::engine::general_purpose::STANDARD.encode(zip_bytes(&module_layer(
        tmp.path(),
        "m",
        "x",
    )));
    let post = |name: &str, body: Value| {
        d.http(
            "POST",
            &format!("/2018-10-31/layers/{name}/versions"),
            Some(body.to_string().as_bytes()),
            &[],
        )
    };
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "s3",
            json!({"Content": {"S3Bucket": "b", "S3Key": "k"}}),
            &["S3Bucket", "ZipFile"],
        ),
        ("none", json!({}), &["Content"]),
        (
            "long",
            json!({"Content": {"ZipFile": zip}, "Description": "d".repeat(257)}),
            &["Description", "257"],
        ),
        (
            "rt",
            json!({"Content": {"ZipFile": zip}, "CompatibleRuntimes": ["cobol"]}),
            &["cobol"],
        ),
        (
            "many",
            json!({"Content": {"ZipFile": zip}, "CompatibleRuntimes": vec!["python3.12"; 16]}),
            &["15"],
        ),
        (
            "arch",
            json!({"Content": {"ZipFile": zip}, "CompatibleArchitectures": ["mips"]}),
            &["mips"],
        ),
        (
            "lic",
            json!({"Content": {"ZipFile": zip}, "LicenseInfo": "l".repeat(513)}),
            &["LicenseInfo"],
        ),
        (
            "bad%20name",
            json!({"Content": {"ZipFile": zip}}),
            &["bad name"],
        ),
        (
            "arn:aws:lambda:eu-west-1:123456789012:layer:theirs",
            json!({"Content": {"ZipFile": zip}}),
            &["another account"],
        ),
        (
            "notzip",
            json!({"Content": {"ZipFile": "aGVsbG8="}}),
            &["unzip"],
        ),
    ];
    for (name, body, needles) in cases {
        let r = post(name, body);
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert_eq!(r.error_type(), "InvalidParameterValueException", "{name}");
        let msg = r.message();
        for n in needles {
            assert!(msg.contains(n), "{name}: {msg:?} should mention {n:?}");
        }
    }
    assert_eq!(
        d.http("GET", "/2018-10-31/layers", None, &[]).json(),
        json!({"Layers": []}),
        "nothing refused was published"
    );
    for query in [
        "MaxItems=51",
        "MaxItems=0",
        "CompatibleRuntime=cobol",
        "find=Nope",
    ] {
        let r = d.http("GET", &format!("/2018-10-31/layers?{query}"), None, &[]);
        assert_eq!(
            (r.status, r.error_type()),
            (400, "InvalidParameterValueException".into()),
            "{query}"
        );
    }
    let r = d.http(
        "GET",
        "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:000000000000:layer:m",
        None,
        &[],
    );
    assert!(
        r.status == 400 && r.message().contains("layer:NAME:VERSION"),
        "{}",
        r.text()
    );
    let r = d.http("GET", "/2018-10-31/layers/m/versions/one", None, &[]);
    assert!(
        r.status == 400 && r.message().contains("VersionNumber"),
        "{}",
        r.text()
    );
    let r = d.http(
        "GET",
        "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:000000000000:layer:m:1",
        None,
        &[],
    );
    assert_eq!(
        (r.status, r.error_type()),
        (404, "ResourceNotFoundException".into())
    );
}
