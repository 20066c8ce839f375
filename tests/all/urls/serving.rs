//! What a function gets from a request to its URL, and what its result becomes.

use std::time::SystemTime;

use serde_json::json;

use super::{create_url, deploy, get, url_daemon, url_id};
use crate::harness::curl;

#[test]
fn requests_become_payload_format_2_events_by_host_name_and_by_path() {
    let (d, port) = url_daemon();
    deploy(&d, "web");
    let url = create_url(&d, "web", &["--auth-type", "NONE"])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let id = url_id(&url);
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let r = curl(
        "POST",
        &format!("{url}items/42?a=1&a=2&b=x%20y"),
        Some(br#"{"k":"v"}"#),
        &[
            ("Cookie", "c1=v1; c2=v2"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("User-Agent", "url-test/1"),
        ],
    );
    assert_eq!(r.status, 200, "{}\n{}", r.text(), d.log());
    let answer = r.json();
    let e = &answer["event"];
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "$default");
    assert_eq!(e["rawPath"], "/items/42");
    assert_eq!(e["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(e["cookies"], json!(["c1=v1", "c2=v2"]));
    assert_eq!(e["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
    let h = &e["headers"];
    assert_eq!(h["x-multi"], "one,two");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        h["host"],
        format!("{id}.lambda-url.us-east-1.localhost:{port}")
    );
    assert!(h.get("cookie").is_none(), "{h}");
    assert_eq!(h["x-forwarded-proto"], "http");
    let rc = &e["requestContext"];
    assert_eq!(rc["accountId"], "anonymous");
    assert_eq!(rc["apiId"], id.as_str());
    assert_eq!(
        rc["domainName"],
        format!("{id}.lambda-url.us-east-1.localhost")
    );
    assert_eq!(rc["domainPrefix"], id.as_str());
    assert_eq!(
        rc["http"],
        json!({"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1",
               "sourceIp": "127.0.0.1", "userAgent": "url-test/1"})
    );
    assert_eq!(
        (&rc["routeKey"], &rc["stage"]),
        (&json!("$default"), &json!("$default"))
    );
    assert!(
        rc.get("authorizer").is_none(),
        "NONE URLs have no authorizer"
    );
    let epoch = rc["timeEpoch"].as_u64().expect("timeEpoch");
    assert!(epoch >= before && epoch < before + 60_000, "{epoch}");
    let time = rc["time"].as_str().expect("time");
    assert!(time.ends_with(" +0000") && time.len() == 26, "{time}");
    // One request id: the event's, the function's context's, the response header's.
    assert_eq!(rc["requestId"], answer["request_id"]);
    assert_eq!(r.header("x-amzn-requestid"), answer["request_id"].as_str());
    assert_eq!(r.header("x-amzn-trace-id"), h["x-amzn-trace-id"].as_str());
    assert_eq!(e["body"], r#"{"k":"v"}"#);
    assert_eq!(e["isBase64Encoded"], false);

    // By path, on the listener's address: the prefix is not the function's path; a body of a
    // non-text type is base64.
    let by_path = format!("http://127.0.0.1:{port}/url/{id}");
    let r = curl(
        "PUT",
        &format!("{by_path}/items/42?x=1"),
        Some(&[0, 1, 2, 255]),
        &[("content-type", "application/octet-stream")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let e = &r.json()["event"];
    assert_eq!(e["rawPath"], "/items/42");
    assert_eq!(e["requestContext"]["http"]["path"], "/items/42");
    assert_eq!(e["requestContext"]["http"]["method"], "PUT");
    assert_eq!(e["queryStringParameters"], json!({"x": "1"}));
    assert_eq!(e["body"], "AAEC/w==");
    assert_eq!(e["isBase64Encoded"], true);
    assert!(e.get("cookies").is_none(), "{e}");
    let r = get(&by_path);
    let e = &r.json()["event"];
    assert_eq!(e["rawPath"], "/");
    assert_eq!(e["rawQueryString"], "");
    assert!(
        e.get("body").is_none() && e.get("queryStringParameters").is_none(),
        "{e}"
    );
}

#[test]
fn function_results_become_responses_as_on_lambda() {
    let (d, port) = url_daemon();
    deploy(&d, "web");
    let url = create_url(&d, "web", &["--auth-type", "NONE"])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();

    let r = get(&format!("{url}shaped"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let cookies: Vec<&str> = r
        .head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(str::trim)
        .collect();
    assert_eq!(
        cookies,
        ["session=abc; Max-Age=60", "theme=dark"],
        "{}",
        r.head
    );
    assert_eq!(r.text(), "created");

    let r = get(&format!("{url}binary"));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("image/png"))
    );
    assert_eq!(
        r.body,
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0xFF]
    );

    let r = get(&format!("{url}string"));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    assert_eq!(r.text(), r#""Hello""#, "a bare string keeps its quotes");

    let r = get(&format!("{url}object"));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    assert_eq!(r.json(), json!({"message": "no statusCode here"}));

    for failing in ["fail", "not-json"] {
        let r = get(&format!("{url}{failing}"));
        assert_eq!(r.status, 502, "{failing}: {}", r.text());
        assert_eq!(r.text(), "Internal Server Error");
    }

    let r = get(&format!("http://127.0.0.1:{port}/url/{}/", "a".repeat(32)));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/elsewhere")).status,
        404
    );

    let big = vec![b'x'; 7 * 1024 * 1024];
    let r = curl("POST", &url, Some(&big), &[("content-type", "text/plain")]);
    assert_eq!(r.status, 413, "{}", r.text());

    // No concurrency left: throttled, then served again.
    d.aws_ok(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "web",
        "--reserved-concurrent-executions",
        "0",
    ]);
    let r = get(&url);
    assert_eq!(r.status, 429, "{}", r.text());
    d.aws_ok(&[
        "lambda",
        "delete-function-concurrency",
        "--function-name",
        "web",
    ]);
    assert_eq!(get(&url).status, 200);
}
