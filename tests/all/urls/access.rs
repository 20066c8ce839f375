//! Who may call a URL: CORS for browsers, SigV4 for `AWS_IAM` URLs.

use std::time::Duration;

use serde_json::json;

use super::{allow_public, create_url, deploy, get, url_daemon, url_id};
use crate::harness::{curl, curl_with, eventually, python_script};

#[test]
fn cors_preflights_are_answered_without_the_function_and_headers_added() {
    let (d, _port) = url_daemon();
    deploy(&d, "web");
    let cors = r#"{"AllowOrigins":["https://app.example"],"AllowMethods":["GET","POST"],"AllowHeaders":["content-type","x-api-key"],"ExposeHeaders":["x-custom"],"MaxAge":600,"AllowCredentials":true}"#;
    let url = create_url(&d, "web", &["--auth-type", "NONE", "--cors", cors])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let preflight = |origin: &str| {
        curl(
            "OPTIONS",
            &format!("{url}shaped"),
            None,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
            ],
        )
    };
    let r = preflight("https://app.example");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-api-key")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let r = preflight("https://evil.example");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert!(
        d.logs("web").is_empty(),
        "a preflight does not invoke the function"
    );

    // The configured headers replace the function's own.
    let r = curl(
        "GET",
        &format!("{url}shaped"),
        None,
        &[("Origin", "https://app.example")],
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("x-custom"));
    let r = get(&format!("{url}shaped"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://function.example")
    );
    eventually(Duration::from_secs(10), "two invocations logged", || {
        d.logs("web").len() == 2
    });

    // Without Cors, OPTIONS is the function's to answer.
    d.aws_ok(&[
        "lambda",
        "delete-function-url-config",
        "--function-name",
        "web",
    ]);
    let plain = create_url(&d, "web", &["--auth-type", "NONE"])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let r = curl(
        "OPTIONS",
        &plain,
        None,
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["event"]["requestContext"]["http"]["method"],
        "OPTIONS"
    );
}

#[test]
fn aws_iam_urls_take_only_requests_signed_by_lambdalet_keys() {
    let (d, port) = url_daemon();
    deploy(&d, "web");
    let made = d.cli(&["keys", "create", "--no-save", "--description", "url caller"]);
    let key = crate::auth::key_from_output(&made);
    let url = create_url(&d, "web", &["--auth-type", "AWS_IAM"])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let id = url_id(&url);
    let signed = |id_secret: &str, target: &str, body: Option<&[u8]>| {
        curl_with(
            &[
                "--aws-sigv4",
                "aws:amz:us-east-1:lambda",
                "--user",
                id_secret,
            ],
            if body.is_some() { "POST" } else { "GET" },
            target,
            body,
            &[],
        )
    };

    let r = get(&format!("{url}private"));
    assert_eq!(r.status, 403);
    assert_eq!(r.json(), json!({"Message": "Forbidden"}));
    let wrong = signed(&format!("{}:not-the-secret", key.id), &url, None);
    assert_eq!(wrong.status, 403, "{}", wrong.text());
    let unknown = signed("test:test", &url, None);
    assert_eq!(
        unknown.status,
        403,
        "an unknown key is no key: {}",
        unknown.text()
    );

    let me = format!("{}:{}", key.id, key.secret);
    let r = signed(&me, &format!("{url}private?q=1"), Some(br#"{"a":1}"#));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), d.log());
    let rc = &r.json()["event"]["requestContext"];
    assert_eq!(rc["authorizer"]["iam"]["accessKey"], key.id.as_str());
    assert_eq!(rc["authorizer"]["iam"]["accountId"], "000000000000");
    assert_eq!(rc["accountId"], "000000000000");
    // The signature covers the path as sent, prefix included.
    let r = signed(
        &me,
        &format!("http://127.0.0.1:{port}/url/{id}/private"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["event"]["rawPath"], "/private");
    // botocore's SigV4Auth signs as the SDKs and awscurl do, by host name and by path.
    let path_url = format!("http://127.0.0.1:{port}/url/{id}/");
    let py = python_script("url_sigv4.py", &[&url, &path_url, &key.id, &key.secret]);
    assert_eq!(py["get"]["status"], 200, "{py}");
    let event: serde_json::Value =
        serde_json::from_str(py["post"]["body"].as_str().expect("body")).expect("json");
    assert_eq!(py["post"]["status"], 200, "{py}");
    assert_eq!(event["event"]["body"], r#"{"from":"botocore"}"#);
    assert_eq!(
        event["event"]["requestContext"]["authorizer"]["iam"]["accessKey"],
        key.id.as_str()
    );
    // A signed body cannot be swapped.
    let tampered = curl_with(
        &[
            "--aws-sigv4",
            "aws:amz:us-east-1:lambda",
            "--user",
            &me,
            "-H",
            "x-amz-content-sha256: 0000000000000000000000000000000000000000000000000000000000000000",
        ],
        "POST",
        &url,
        Some(b"{}"),
        &[],
    );
    assert_eq!(tampered.status, 403, "{}", tampered.text());
}

#[test]
fn a_none_url_needs_the_public_grant_as_on_aws() {
    let (d, _port) = url_daemon();
    deploy(&d, "web");
    // Created straight with the CLI: no add-permission yet.
    let made = d.aws_ok(&[
        "lambda",
        "create-function-url-config",
        "--function-name",
        "web",
        "--auth-type",
        "NONE",
    ]);
    let url = made["FunctionUrl"].as_str().expect("url").to_owned();
    let r = curl("GET", &url, None, &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json(), json!({"Message": "Forbidden"}));
    assert!(d.logs("web").is_empty(), "a refused call ran the function");
    // A grant for another action, or without the auth-type condition's match, is not enough.
    d.aws_ok(&[
        "lambda",
        "add-permission",
        "--function-name",
        "web",
        "--statement-id",
        "invoke-only",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "*",
    ]);
    assert_eq!(curl("GET", &url, None, &[]).status, 403);
    allow_public(&d, "web", None);
    let r = curl("GET", &url, None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    d.aws_ok(&[
        "lambda",
        "remove-permission",
        "--function-name",
        "web",
        "--statement-id",
        "FunctionURLAllowPublicAccess",
    ]);
    assert_eq!(curl("GET", &url, None, &[]).status, 403);
}
