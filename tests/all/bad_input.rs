//! Bad input gets a clear error in AWS's shape and leaves nothing behind: zip limits and
//! escapes, configuration limits, malformed JSON, unknown functions, oversize payloads.

use std::io::{Cursor, Write as _};

use base64::Engine as _;
use serde_json::json;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::harness::{Daemon, HttpResponse, fixture, zip_bytes};

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
}

fn build_zip(entries: &[Entry<'_>]) -> Vec<u8> {
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for e in entries {
        match e {
            Entry::File(name, data) => {
                zip.start_file(*name, opts.unix_permissions(0o644))
                    .expect("start");
                zip.write_all(data).expect("write");
            }
            Entry::Link(name, target) => zip.add_symlink(*name, *target, opts).expect("symlink"),
        }
    }
    zip.finish().expect("finish").into_inner()
}

fn create_raw(d: &Daemon, body: &serde_json::Value) -> HttpResponse {
    d.http(
        "POST",
        "/2015-03-31/functions",
        Some(body.to_string().as_bytes()),
        &[],
    )
}

fn create_with_zip(d: &Daemon, name: &str, zip: &[u8]) -> HttpResponse {
    let body = json!({
        "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler", "Role": "r",
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(zip) },
    });
    create_raw(d, &body)
}

/// Asserts an AWS-shaped error with `status`, `error_type` and every `needles` in the message.
fn assert_error(r: &HttpResponse, status: u16, error_type: &str, needles: &[&str]) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.error_type(), error_type, "{}", r.text());
    let msg = r.message();
    for n in needles {
        assert!(msg.contains(n), "message {msg:?} should mention {n:?}");
    }
}

/// Nothing was stored: no function and no stored code.
fn assert_nothing_stored(d: &Daemon) {
    let list = d.http("GET", "/2015-03-31/functions/", None, &[]).json();
    assert_eq!(list["Functions"], json!([]), "no function was created");
    for sub in ["packages/blobs", "packages/code"] {
        let dir = d.data_dir.join(sub);
        let n = std::fs::read_dir(&dir).map(|r| r.count()).unwrap_or(0);
        assert_eq!(n, 0, "{} holds leftovers", dir.display());
    }
}

#[test]
fn hostile_and_oversized_zips_are_refused_and_leave_nothing_behind() {
    let d = Daemon::start();
    let app: &[u8] = b"def handler(e, c):\n    return 1\n";
    let slip = build_zip(&[Entry::File("app.py", app), Entry::File("../evil.py", b"x")]);
    assert_error(
        &create_with_zip(&d, "slip", &slip),
        400,
        "InvalidParameterValueException",
        &["../evil.py"],
    );
    let abs = build_zip(&[Entry::File("app.py", app), Entry::File("/etc/evil", b"x")]);
    assert_error(
        &create_with_zip(&d, "abs", &abs),
        400,
        "InvalidParameterValueException",
        &["/etc/evil"],
    );
    let link = build_zip(&[
        Entry::File("app.py", app),
        Entry::Link("escape", "../../outside"),
    ]);
    assert_error(
        &create_with_zip(&d, "link", &link),
        400,
        "InvalidParameterValueException",
        &["escape"],
    );
    assert_error(
        &create_with_zip(&d, "notzip", b"this is not a zip"),
        400,
        "InvalidParameterValueException",
        &["unzip"],
    );

    // 260 MB of zeros compresses to well under the upload limit but unpacks past 250 MB.
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("app.py", opts).expect("start");
    zip.write_all(app).expect("write");
    zip.start_file("zeros.bin", opts).expect("start");
    let mb = vec![0u8; 1 << 20];
    for _ in 0..260 {
        zip.write_all(&mb).expect("write");
    }
    let bomb = zip.finish().expect("finish").into_inner();
    assert!(bomb.len() < 2 << 20);
    assert_error(
        &create_with_zip(&d, "bomb", &bomb),
        400,
        "InvalidParameterValueException",
        &["262144000"],
    );

    // Over 50 MB zipped: incompressible bytes.
    let mut noise = vec![0u8; 51 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let huge = build_zip(&[Entry::File("app.py", app), Entry::File("noise.bin", &noise)]);
    assert!(huge.len() > 50 << 20);
    let r = create_with_zip(&d, "huge", &huge);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.error_type(), "RequestTooLargeException");

    assert_nothing_stored(&d);
    let ok = create_with_zip(&d, "fine", &build_zip(&[Entry::File("app.py", app)]));
    assert_eq!(ok.status, 201, "{}", ok.text());
}

#[test]
fn configuration_limits_name_the_limit_and_the_value() {
    let d = Daemon::start();
    let zip = base64::engine::general_purpose::STANDARD.encode(zip_bytes(&fixture("py-basic")));
    let base = json!({"FunctionName": "cfg", "Runtime": "python3.11", "Handler": "app.handler", "Role": "r", "Code": {"ZipFile": zip}});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(serde_json::Value, &[&str])> = vec![
        (with("Timeout", json!(0)), &["Timeout", "0"]),
        (with("Timeout", json!(901)), &["Timeout", "901"]),
        (with("MemorySize", json!(64)), &["MemorySize", "64"]),
        (with("MemorySize", json!(10241)), &["MemorySize", "10241"]),
        (
            with(
                "Environment",
                json!({"Variables": {"BIG": "x".repeat(4100)}}),
            ),
            &["4103", "4 KB"],
        ),
        (
            with(
                "Environment",
                json!({"Variables": {"AWS_REGION": "eu-west-1"}}),
            ),
            &["AWS_REGION", "reserved"],
        ),
        (
            with(
                "Environment",
                json!({"Variables": {"LAMBDALET_ZYGOTE": "enabled"}}),
            ),
            &["LAMBDALET_ZYGOTE", "on or off"],
        ),
        (with("FunctionName", json!("a".repeat(65))), &["1 to 64"]),
        (with("FunctionName", json!("bad/name")), &["bad/name"]),
        (
            with("Runtime", json!("cobol85")),
            &["cobol85", "python3.11"],
        ),
        (with("Handler", json!("")), &["Handler"]),
        (
            with(
                "Layers",
                json!(["arn:aws:lambda:us-east-1:000000000000:layer:x:1"]),
            ),
            &["layers"],
        ),
    ];
    for (body, needles) in cases {
        let r = create_raw(&d, &body);
        assert_error(&r, 400, "InvalidParameterValueException", needles);
    }
    let mut no_handler = base.clone();
    no_handler
        .as_object_mut()
        .expect("object")
        .remove("Handler");
    assert_error(
        &create_raw(&d, &no_handler),
        400,
        "InvalidParameterValueException",
        &["Handler is required"],
    );
    assert_nothing_stored(&d);

    // The same limits on UpdateFunctionConfiguration, and the function is unchanged after.
    assert_eq!(create_raw(&d, &base).status, 201);
    let r = d.http(
        "PUT",
        "/2015-03-31/functions/cfg/configuration",
        Some(br#"{"Timeout": 1000}"#),
        &[],
    );
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        &["Timeout", "1000"],
    );
    let cfg = d
        .http("GET", "/2015-03-31/functions/cfg/configuration", None, &[])
        .json();
    assert_eq!(cfg["Timeout"], 3);
    let dup = create_raw(&d, &base);
    assert_error(&dup, 409, "ResourceConflictException", &["cfg"]);
}

#[test]
fn malformed_requests_unknown_functions_and_big_payloads() {
    let d = Daemon::start();
    d.create(
        "known",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    let r = d.http("POST", "/2015-03-31/functions", Some(b"{not json"), &[]);
    assert_error(&r, 400, "InvalidRequestContentException", &["json"]);
    let r = d.invoke("known", "{\"unterminated\": ");
    assert_error(&r, 400, "InvalidRequestContentException", &["JSON"]);
    let r = d.invoke("nope", "{}");
    assert_error(&r, 404, "ResourceNotFoundException", &["nope", "known"]);
    let r = d.invoke("known:99", "{}");
    assert_error(&r, 404, "ResourceNotFoundException", &["known:99"]);
    let r = d.invoke("known:no-such-alias", "{}");
    assert_error(&r, 404, "ResourceNotFoundException", &["no-such-alias"]);
    let r = d.http(
        "POST",
        "/2015-03-31/functions/known:1/invocations?Qualifier=2",
        Some(b"{}"),
        &[],
    );
    assert_error(&r, 400, "InvalidParameterValueException", &["Qualifier"]);
    let big = format!("{{\"x\": \"{}\"}}", "y".repeat(6 * 1024 * 1024));
    let r = d.invoke("known", &big);
    assert_error(&r, 413, "RequestTooLargeException", &["6291456"]);
    let r = d.http(
        "POST",
        "/2015-03-31/functions/known/invocations",
        Some(b"{}"),
        &[("X-Amz-Invocation-Type", "Sometimes")],
    );
    assert_error(&r, 400, "InvalidParameterValueException", &["Sometimes"]);
    let r = d.http(
        "POST",
        "/2015-03-31/functions/known/invocations",
        Some(b"{}"),
        &[("X-Amz-Client-Context", "%%%")],
    );
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        &["X-Amz-Client-Context"],
    );
    let r = d.http(
        "POST",
        "/2015-03-31/functions/known/invocations",
        Some(b"{}"),
        &[("X-Amz-Invocation-Type", "DryRun")],
    );
    assert_eq!(r.status, 204);
    let r = d.http("GET", "/2015-03-31/nothing-here", None, &[]);
    assert_error(
        &r,
        404,
        "UnknownOperationException",
        &["/2015-03-31/nothing-here"],
    );
    // The daemon is unharmed by all of it.
    assert_eq!(d.invoke("known", "{}").json()["count"], 1);
}

#[test]
fn a_runtime_the_host_lacks_is_refused_at_deploy_with_what_to_install() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A host without interpreters: lambdalet looks only in an empty directory.
    let none = tempfile::tempdir().expect("tempdir");
    let only = format!("--interpreter-path={}", none.path().display());
    let d = Daemon::start_env(
        tmp.path(),
        "serve",
        &[&only],
        &[("PATH", "/nonexistent-bin")],
    );
    let zip = base64::engine::general_purpose::STANDARD.encode(zip_bytes(&fixture("py-basic")));
    let body = json!({"FunctionName": "nopy", "Runtime": "python3.11", "Handler": "app.handler", "Role": "r", "Code": {"ZipFile": zip}});
    assert_error(
        &create_raw(&d, &body),
        400,
        "InvalidParameterValueException",
        &["python3.11", "install Python 3.11"],
    );
    let zip = base64::engine::general_purpose::STANDARD.encode(zip_bytes(&fixture("node-esm")));
    let body = json!({"FunctionName": "nonode", "Runtime": "nodejs20.x", "Handler": "index.handler", "Role": "r", "Code": {"ZipFile": zip}});
    assert_error(
        &create_raw(&d, &body),
        400,
        "InvalidParameterValueException",
        &["nodejs20.x", "install Node.js 20"],
    );
    assert_nothing_stored(&d);
}
