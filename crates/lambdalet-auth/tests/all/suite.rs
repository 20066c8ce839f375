//! The official SigV4 test suite (tests/vectors, from awslabs/aws-c-auth): for every
//! case and both mechanisms, the canonical request, the string to sign and the verdict
//! must be AWS's, and a wrong secret or signature must be refused.

use std::path::{Path, PathBuf};

use lambdalet_auth::{
    AuthError, Request, Service, canonical_request, credential, presign, string_to_sign, verify,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Every case of the suite, named so a missing directory fails the test.
const CASES: &[&str] = &[
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-relative-relative-unnormalized",
    "get-relative-unnormalized",
    "get-slash-dot-slash-normalized",
    "get-slash-dot-slash-unnormalized",
    "get-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-slash-pointless-dot-unnormalized",
    "get-slash-unnormalized",
    "get-slashes-normalized",
    "get-slashes-unnormalized",
    "get-space-normalized",
    "get-space-unnormalized",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-with-session-token",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-header-after",
    "post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
];

/// Cases whose presigned form lambdalet does not verify: the session token is added
/// to the query after signing (an AWS IoT quirk), so the signed query is not the sent one.
const QUERY_SKIPPED: &[&str] = &["post-sts-header-after"];

fn dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(case)
}

fn read(case: &str, file: &str) -> String {
    let path = dir(case).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request parsed from a `*-signed-request.txt`.
struct Raw {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_request(text: &str) -> Raw {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().expect("request line");
    let (method, rest) = first.split_once(' ').expect("method");
    let target = rest.strip_suffix(" HTTP/1.1").expect("HTTP/1.1").to_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // An obsolete folded line continues the previous value (RFC 7230 3.2.4).
            let last = headers.last_mut().expect("a header to continue");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("name:value");
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    Raw {
        method: method.to_owned(),
        target,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// How a client puts a raw path on the wire for S3 (encoded once, '/' kept).
const PATH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

fn check_case(case: &str, mode: &str) -> Result<(), String> {
    let context: serde_json::Value =
        serde_json::from_str(&read(case, "context.json")).map_err(|e| e.to_string())?;
    let now = OffsetDateTime::parse(context["timestamp"].as_str().unwrap_or(""), &Rfc3339)
        .map_err(|e| e.to_string())?;
    // The suite's "normalize: false" cases are S3's rules; the others every other service's.
    let service = if context["normalize"].as_bool() == Some(false) {
        Service::S3
    } else {
        Service::Lambda
    };
    let raw = parse_request(&read(case, &format!("{mode}-signed-request.txt")));
    let (raw_path, query) = raw.target.split_once('?').unwrap_or((&raw.target, ""));
    // The suite's paths are the unencoded resource. Under the double-encoding rule the
    // verifier's one encoding of it is the suite's; an S3 client sends it encoded once.
    let path = match service {
        Service::Lambda => raw_path.to_owned(),
        Service::S3 => utf8_percent_encode(raw_path, PATH_ENCODE).to_string(),
    };
    let body_sha256 = hex::encode(Sha256::digest(&raw.body));
    let mut headers: Vec<(&str, &str)> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if service == Service::S3 && mode == "query" {
        // The suite's signer signs the body's hash in presigned URLs, where S3 signs
        // UNSIGNED-PAYLOAD; a client says which with this (unsigned) header.
        headers.push(("x-amz-content-sha256", &body_sha256));
    }
    let req = Request {
        method: &raw.method,
        path: &path,
        query,
        headers: &headers,
        body_sha256: &body_sha256,
    };

    let cred = credential(&req).map_err(|e| format!("credential: {e}"))?;
    let canonical = canonical_request(&req, &cred, service).map_err(|e| e.to_string())?;
    let want = read(case, &format!("{mode}-canonical-request.txt"));
    if canonical != want {
        return Err(format!(
            "canonical request\n--- got\n{canonical}\n--- want\n{want}"
        ));
    }
    let sts = string_to_sign(&cred, &canonical);
    let want = read(case, &format!("{mode}-string-to-sign.txt"));
    if sts != want {
        return Err(format!("string to sign\n--- got\n{sts}\n--- want\n{want}"));
    }
    let verified = verify(&req, &cred, SECRET, service, now).map_err(|e| format!("verify: {e}"))?;
    if verified.access_key_id != "AKIDEXAMPLE" || verified.service != "service" {
        return Err(format!("verified as {verified:?}"));
    }
    let token = context["credentials"]["token"].as_str();
    if token.is_some() && verified.session_token.as_deref() != token {
        return Err(format!("session token {:?}", verified.session_token));
    }
    // Must be able to fail: another secret, or one changed hex digit of the signature.
    if verify(
        &req,
        &cred,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ",
        service,
        now,
    ) != Err(AuthError::SignatureMismatch)
    {
        return Err("accepted with the wrong secret".into());
    }
    let signature = read(case, &format!("{mode}-signature.txt"));
    let flipped = signature.trim().replacen(
        &signature[..1],
        if &signature[..1] == "0" { "1" } else { "0" },
        1,
    );
    let forged: Vec<(String, String)> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.replace(signature.trim(), &flipped)))
        .collect();
    let forged_headers: Vec<(&str, &str)> = forged
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let forged_query = query.replace(signature.trim(), &flipped);
    let req = Request {
        query: &forged_query,
        headers: &forged_headers,
        ..req
    };
    let cred = credential(&req).map_err(|e| e.to_string())?;
    if verify(&req, &cred, SECRET, service, now) != Err(AuthError::SignatureMismatch) {
        return Err("accepted with a changed signature".into());
    }
    Ok(())
}

#[test]
fn every_case_of_the_suite_verifies() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in CASES {
        for mode in ["header", "query"] {
            if mode == "query" && QUERY_SKIPPED.contains(case) {
                continue;
            }
            checked += 1;
            if let Err(why) = check_case(case, mode) {
                failures.push(format!("{case} ({mode}): {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(checked, 2 * CASES.len() - QUERY_SKIPPED.len());
}

#[test]
fn presign_matches_the_suite() {
    let now = OffsetDateTime::parse("2015-08-30T12:36:00Z", &Rfc3339).expect("date");
    for (case, path) in [
        ("get-vanilla", "/"),
        ("get-utf8", "/ሴ"),
        (
            "get-unreserved",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        ),
    ] {
        let query = presign(
            "GET",
            "example.amazonaws.com",
            path,
            "AKIDEXAMPLE",
            SECRET,
            "us-east-1",
            "service",
            now,
            3600,
        );
        let want = read(case, "query-signature.txt");
        assert!(
            query.ends_with(&format!("&X-Amz-Signature={}", want.trim())),
            "{case}: {query}"
        );
        assert!(query.contains(
            "X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
        ));
    }
}
