//! `inputPayloadEncodingType`: json events must be JSON; binary events reach the handler as
//! raw bytes.

use serde_json::json;

use crate::harness::{Daemon, fixture};

#[test]
fn binary_functions_get_raw_bytes_and_json_functions_refuse_non_json() {
    let d = Daemon::start();
    let dir = fixture("py-basic");
    let o = d.cli(&[
        "deploy",
        dir.to_str().expect("utf-8"),
        "--name",
        "raw",
        "--runtime",
        "python3.11",
        "--handler",
        "app.binary_echo",
        "--encoding",
        "binary",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let payload = [0u8, 1, 2, 0xff, b'{'];
    let r = d.http(
        "POST",
        "/2015-03-31/functions/raw/invocations",
        Some(&payload),
        &[("content-type", "application/octet-stream")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"type": "bytes", "hex": "000102ff7b"}));
    assert_eq!(d.lifecycle("raw")["inputPayloadEncodingType"], "binary");

    d.create("js", &dir, "python3.11", "app.binary_echo", &[]);
    let r = d.http(
        "POST",
        "/2015-03-31/functions/js/invocations",
        Some(&payload),
        &[],
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "InvalidRequestContentException")
    );
    let r = d.invoke("js", r#"{"a": 1}"#);
    assert_eq!(r.json(), json!({"type": "dict", "event": {"a": 1}}));

    let o = d.cli(&[
        "deploy",
        fixture("node-basic").to_str().expect("utf-8"),
        "--name",
        "nraw",
        "--runtime",
        "nodejs20.x",
        "--handler",
        "index.binaryEcho",
        "--encoding",
        "binary",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = d.http(
        "POST",
        "/2015-03-31/functions/nraw/invocations",
        Some(&payload),
        &[],
    );
    assert_eq!(r.json(), json!({"type": "buffer", "hex": "000102ff7b"}));

    // Binary events can be asynchronous too.
    let id = d.invoke_async("raw", "plain text, not JSON");
    assert!(!id.is_empty());
    let bad = d.http(
        "PUT",
        "/lambdalet/v1/functions/raw/configuration",
        Some(br#"{"inputPayloadEncodingType": "xml"}"#),
        &[],
    );
    assert_eq!(
        (bad.status, bad.error_type().as_str()),
        (400, "InvalidParameterValueException")
    );
    let typo = d.http(
        "PUT",
        "/lambdalet/v1/functions/raw/configuration",
        Some(br#"{"pinnned": true}"#),
        &[],
    );
    assert_eq!(
        typo.status,
        400,
        "unknown settings are refused: {}",
        typo.text()
    );
}
