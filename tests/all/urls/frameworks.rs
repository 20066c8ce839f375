//! Real web frameworks behind a URL, unchanged, with their dependencies from PyPI.

use serde_json::json;

use super::{create_url, get, url_daemon};
use crate::harness::{copy_into, curl, fixture, pip_cache};

/// FastAPI behind Mangum and a Powertools `LambdaFunctionUrlResolver`, unchanged, in one zip
/// with their dependencies from PyPI.
#[test]
fn fastapi_with_mangum_and_powertools_serve_through_urls() {
    let (d, _port) = url_daemon();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("code");
    for package in ["mangum", "fastapi", "aws-lambda-powertools"] {
        copy_into(&pip_cache(package), &dir);
    }
    copy_into(&fixture("py-web"), &dir);
    for (name, handler) in [("fast", "fast.handler"), ("tools", "tools.handler")] {
        d.create(
            name,
            &dir,
            "python3.11",
            handler,
            &["--timeout", "30", "--memory-size", "512"],
        );
    }
    let fast = create_url(&d, "fast", &["--auth-type", "NONE"])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let r = get(&format!("{fast}hello/ada?greeting=Hi"));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), d.log());
    assert_eq!(r.json(), json!({"message": "Hi, ada!"}));
    let r = curl(
        "POST",
        &format!("{fast}items"),
        Some(br#"{"name":"lamp"}"#),
        &[("Cookie", "visitor=v1")],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"received": {"name": "lamp"}, "visitor": "v1"})
    );
    assert!(
        r.head
            .lines()
            .any(|l| l.starts_with("set-cookie: made=yes")),
        "{}",
        r.head
    );
    let r = get(&format!("{fast}missing"));
    assert_eq!(r.status, 404);

    let tools = create_url(&d, "tools", &["--auth-type", "NONE"])["FunctionUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let r = get(&format!("{tools}todos/7?verbose=yes"));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), d.log());
    assert_eq!(r.json(), json!({"id": "7", "verbose": "yes"}));
    let r = curl(
        "POST",
        &format!("{tools}todos"),
        Some(br#"{"title":"write docs"}"#),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json(), json!({"created": {"title": "write docs"}}));
}
