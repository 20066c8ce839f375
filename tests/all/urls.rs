//! Function URLs: the AWS CLI's `*-function-url-config` commands, and curl calling the URLs
//! by host name (`<id>.lambda-url.us-east-1.localhost`, which curl resolves to loopback) and
//! by path (`/url/<id>/`): the events functions get, how their results become responses,
//! CORS, `AWS_IAM` signatures, and real web frameworks (FastAPI behind Mangum, Powertools'
//! `LambdaFunctionUrlResolver`) behind a URL.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::harness::{
    Daemon, HttpResponse, copy_into, curl, curl_with, eventually, fixture, free_port, pip_cache,
};

/// A daemon with its function URL listener on a free port (data directory kept with it).
fn url_daemon() -> (Daemon, u16) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut d = start(tmp.path(), port);
    d.keep(tmp);
    (d, port)
}

fn start(data: &Path, port: u16) -> Daemon {
    let listen = format!("127.0.0.1:{port}");
    Daemon::start_with(data, "serve", &["--url-listen", &listen])
}

/// The `py-url` fixture as function `name`.
fn deploy(d: &Daemon, name: &str) {
    d.create(
        name,
        &fixture("py-url"),
        "python3.11",
        "app.handler",
        &["--timeout", "10"],
    );
}

fn create_url(d: &Daemon, name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "lambda",
        "create-function-url-config",
        "--function-name",
        name,
    ];
    args.extend_from_slice(extra);
    d.aws_ok(&args)
}

/// The url id in a `FunctionUrl`.
fn url_id(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('.')
        .next()
        .expect("id")
        .to_owned()
}

/// The failing AWS CLI call's error text.
fn aws_err(d: &Daemon, args: &[&str]) -> String {
    let out = d.aws(args);
    assert!(!out.status.success(), "aws {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn get(url: &str) -> HttpResponse {
    curl("GET", url, None, &[])
}

#[test]
fn the_aws_cli_creates_gets_updates_lists_and_deletes_urls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut d = start(tmp.path(), port);
    deploy(&d, "web");
    let created = create_url(&d, "web", &["--auth-type", "NONE"]);
    let url = created["FunctionUrl"]
        .as_str()
        .expect("FunctionUrl")
        .to_owned();
    let id = url_id(&url);
    assert_eq!(
        url,
        format!("http://{id}.lambda-url.us-east-1.localhost:{port}/")
    );
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:web"
    );
    assert_eq!(created["AuthType"], "NONE");
    assert_eq!(created["InvokeMode"], "BUFFERED");
    assert!(
        created["CreationTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(created.get("LastModifiedTime").is_none(), "{created}");

    let again = aws_err(
        &d,
        &[
            "lambda",
            "create-function-url-config",
            "--function-name",
            "web",
            "--auth-type",
            "NONE",
        ],
    );
    assert!(again.contains("ResourceConflictException"), "{again}");
    let no_auth = aws_err(
        &d,
        &[
            "lambda",
            "create-function-url-config",
            "--function-name",
            "web",
            "--auth-type",
            "PUBLIC",
        ],
    );
    assert!(no_auth.contains("AWS_IAM, NONE"), "{no_auth}");

    let got = d.aws_ok(&[
        "lambda",
        "get-function-url-config",
        "--function-name",
        "web",
    ]);
    assert_eq!(got["FunctionUrl"], url.as_str());
    assert!(got["LastModifiedTime"].is_string(), "{got}");

    let updated = d.aws_ok(&[
        "lambda",
        "update-function-url-config",
        "--function-name",
        "web",
        "--cors",
        r#"{"AllowOrigins":["https://app.example"],"MaxAge":300}"#,
        "--invoke-mode",
        "RESPONSE_STREAM",
    ]);
    assert_eq!(
        updated["FunctionUrl"],
        url.as_str(),
        "the URL never changes"
    );
    assert_eq!(updated["AuthType"], "NONE");
    assert_eq!(updated["InvokeMode"], "RESPONSE_STREAM");
    assert_eq!(
        updated["Cors"],
        json!({"AllowOrigins": ["https://app.example"], "MaxAge": 300})
    );
    let bad_cors = aws_err(
        &d,
        &[
            "lambda",
            "update-function-url-config",
            "--function-name",
            "web",
            "--cors",
            r#"{"MaxAge":90000}"#,
        ],
    );
    assert!(bad_cors.contains("MaxAge"), "{bad_cors}");
    // Served (buffered) in RESPONSE_STREAM mode too.
    assert_eq!(get(&url).status, 200);

    // An alias has a URL of its own; a version or $LATEST cannot be a URL's qualifier.
    d.aws_ok(&["lambda", "publish-version", "--function-name", "web"]);
    d.aws_ok(&[
        "lambda",
        "create-alias",
        "--function-name",
        "web",
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    let live = create_url(
        &d,
        "web",
        &["--qualifier", "live", "--auth-type", "AWS_IAM"],
    );
    assert_eq!(
        live["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:web:live"
    );
    let live_url = live["FunctionUrl"].as_str().expect("url").to_owned();
    assert_ne!(live_url, url);
    for q in ["1", "$LATEST"] {
        let e = aws_err(
            &d,
            &[
                "lambda",
                "create-function-url-config",
                "--function-name",
                "web",
                "--qualifier",
                q,
                "--auth-type",
                "NONE",
            ],
        );
        assert!(e.contains("InvalidParameterValueException"), "{q}: {e}");
    }
    let e = aws_err(
        &d,
        &[
            "lambda",
            "get-function-url-config",
            "--function-name",
            "web",
            "--qualifier",
            "nope",
        ],
    );
    assert!(e.contains("ResourceNotFoundException"), "{e}");

    // --page-size makes the CLI follow NextMarker one URL at a time.
    let list = d.aws_ok(&[
        "lambda",
        "list-function-url-configs",
        "--function-name",
        "web",
        "--page-size",
        "1",
    ]);
    let listed: Vec<&str> = list["FunctionUrlConfigs"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["FunctionUrl"].as_str().expect("url"))
        .collect();
    assert_eq!(listed, [url.as_str(), live_url.as_str()]);

    // An alias's URL goes with the alias.
    d.aws_ok(&[
        "lambda",
        "delete-alias",
        "--function-name",
        "web",
        "--name",
        "live",
    ]);
    let e = aws_err(
        &d,
        &[
            "lambda",
            "get-function-url-config",
            "--function-name",
            "web",
            "--qualifier",
            "live",
        ],
    );
    assert!(e.contains("ResourceNotFoundException"), "{e}");
    assert_eq!(get(&live_url).status, 404);

    // The URL survives a restart, with its id.
    d.stop();
    let mut d = start(tmp.path(), port);
    let got = d.aws_ok(&[
        "lambda",
        "get-function-url-config",
        "--function-name",
        "web",
    ]);
    assert_eq!(got["FunctionUrl"], url.as_str());
    assert_eq!(get(&url).status, 200);

    d.aws_ok(&[
        "lambda",
        "delete-function-url-config",
        "--function-name",
        "web",
    ]);
    let e = aws_err(
        &d,
        &[
            "lambda",
            "get-function-url-config",
            "--function-name",
            "web",
        ],
    );
    assert!(e.contains("ResourceNotFoundException"), "{e}");
    let gone = get(&url);
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert!(
        gone.json()["Message"]
            .as_str()
            .is_some_and(|m| m.contains(&id))
    );

    // A deleted function's URL goes with it: the same name starts without one.
    let second = create_url(&d, "web", &["--auth-type", "NONE"]);
    d.aws_ok(&["lambda", "delete-function", "--function-name", "web"]);
    deploy(&d, "web");
    let e = aws_err(
        &d,
        &[
            "lambda",
            "get-function-url-config",
            "--function-name",
            "web",
        ],
    );
    assert!(e.contains("ResourceNotFoundException"), "{e}");
    assert_eq!(
        get(second["FunctionUrl"].as_str().expect("url")).status,
        404
    );
    d.stop();
}

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
    std::fs::write(dir.join("fast.py"), FASTAPI_APP).expect("write");
    std::fs::write(dir.join("tools.py"), POWERTOOLS_APP).expect("write");
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

const FASTAPI_APP: &str = r#"
from fastapi import FastAPI, Request, Response
from mangum import Mangum

app = FastAPI()


@app.get("/hello/{name}")
def hello(name: str, greeting: str = "Hello"):
    return {"message": f"{greeting}, {name}!"}


@app.post("/items", status_code=201)
async def create(request: Request, response: Response):
    response.set_cookie("made", "yes")
    return {"received": await request.json(), "visitor": request.cookies.get("visitor")}


handler = Mangum(app, lifespan="off")
"#;

const POWERTOOLS_APP: &str = r#"
import json

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response

app = LambdaFunctionUrlResolver()


@app.get("/todos/<todo_id>")
def get_todo(todo_id: str):
    return {"id": todo_id, "verbose": app.current_event.get_query_string_value("verbose", "no")}


@app.post("/todos")
def create_todo():
    body = json.dumps({"created": app.current_event.json_body})
    return Response(status_code=201, content_type="application/json", body=body)


def handler(event, context):
    return app.resolve(event, context)
"#;
