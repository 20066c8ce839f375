//! Function URLs: the AWS CLI's `*-function-url-config` commands, and curl calling the URLs
//! by host name (`<id>.lambda-url.us-east-1.localhost`, which curl resolves to loopback) and
//! by path (`/url/<id>/`): the events functions get, how their results become responses,
//! CORS, `AWS_IAM` signatures, and real web frameworks (FastAPI behind Mangum, Powertools'
//! `LambdaFunctionUrlResolver`) behind a URL.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Daemon, HttpResponse, curl, fixture, free_port};

mod access;
mod frameworks;
mod serving;
mod streaming;

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
    let made = d.aws_ok(&args);
    if extra.contains(&"NONE") {
        let qualifier = extra
            .iter()
            .position(|a| *a == "--qualifier")
            .map(|i| extra[i + 1]);
        allow_public(d, name, qualifier);
    }
    made
}

/// Grants `lambda:InvokeFunctionUrl` to anyone for a NONE URL, as AWS requires (and as the
/// console does when it creates one); a grant that is already there is fine.
fn allow_public(d: &Daemon, name: &str, qualifier: Option<&str>) {
    let mut args = vec![
        "lambda",
        "add-permission",
        "--function-name",
        name,
        "--statement-id",
        "FunctionURLAllowPublicAccess",
        "--action",
        "lambda:InvokeFunctionUrl",
        "--principal",
        "*",
        "--function-url-auth-type",
        "NONE",
    ];
    if let Some(q) = qualifier {
        args.extend(["--qualifier", q]);
    }
    let out = d.aws(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || err.contains("ResourceConflictException"),
        "add-permission: {err}"
    );
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
    // Served in RESPONSE_STREAM mode too (the result as the function wrote it).
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
