//! Unit tests of `verify`'s rules (dates, host, payload) on requests signed here; the
//! signature arithmetic itself is pinned by the official vectors and botocore in
//! `tests/all`.

use super::*;
use crate::presign::presign;
use time::macros::datetime;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const AT: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);

/// Signs `headers` (all of them) at `at` the way a client does, returning the
/// Authorization header value.
fn authorization(
    path: &str,
    headers: &[(&str, &str)],
    at: OffsetDateTime,
    payload: &str,
) -> String {
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let amz_date = timestamp::format(at);
    let credential = Credential {
        access_key_id: "AKIDEXAMPLE".into(),
        scope_date: amz_date[..8].into(),
        region: "us-east-1".into(),
        service: "lambda".into(),
        amz_date,
        signed_headers: signed.clone(),
        signature: String::new(),
        session_token: None,
        presigned_expires: None,
    };
    let req = Request {
        method: "POST",
        path,
        query: "",
        headers,
        body_sha256: "",
    };
    let canonical = canonical_request_with(&req, &credential, Service::Lambda, payload);
    let sig = signature(
        SECRET,
        &credential,
        &string_to_sign(&credential, &canonical),
    );
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/us-east-1/lambda/aws4_request, \
         SignedHeaders={}, Signature={sig}",
        &credential.scope_date,
        signed.join(";")
    )
}

fn check(
    headers: &[(&str, &str)],
    body_sha256: &str,
    now: OffsetDateTime,
) -> Result<Verified, AuthError> {
    let req = Request {
        method: "POST",
        path: "/f%3Ax",
        query: "",
        headers,
        body_sha256,
    };
    let credential = credential(&req)?;
    verify(&req, &credential, SECRET, Service::Lambda, now)
}

#[test]
fn accepts_within_fifteen_minutes_either_way() {
    let auth = authorization(
        "/f%3Ax",
        &[("Host", "h"), ("X-Amz-Date", "20150830T123600Z")],
        AT,
        EMPTY_SHA256,
    );
    let headers = [
        ("Host", "h"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", auth.as_str()),
    ];
    for now in [AT, AT + MAX_SKEW, AT - MAX_SKEW] {
        let v = check(&headers, EMPTY_SHA256, now).expect("in the window");
        assert_eq!(v.access_key_id, "AKIDEXAMPLE");
        assert_eq!(
            (v.region.as_str(), v.service.as_str()),
            ("us-east-1", "lambda")
        );
        assert!(v.payload_signed);
    }
    let late = check(&headers, EMPTY_SHA256, AT + MAX_SKEW + Duration::seconds(1));
    assert!(matches!(late, Err(AuthError::Expired { .. })), "{late:?}");
    let early = check(&headers, EMPTY_SHA256, AT - MAX_SKEW - Duration::seconds(1));
    assert!(
        matches!(early, Err(AuthError::NotYetCurrent { .. })),
        "{early:?}"
    );
}

#[test]
fn refuses_a_changed_body_path_or_signature() {
    let auth = authorization(
        "/f%3Ax",
        &[("Host", "h"), ("X-Amz-Date", "20150830T123600Z")],
        AT,
        EMPTY_SHA256,
    );
    let headers = [
        ("Host", "h"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", auth.as_str()),
    ];
    let other_body = hex::encode(Sha256::digest(b"x"));
    assert_eq!(
        check(&headers, &other_body, AT),
        Err(AuthError::SignatureMismatch)
    );
    let req = Request {
        method: "POST",
        path: "/f%3Ay",
        query: "",
        headers: &headers,
        body_sha256: EMPTY_SHA256,
    };
    let c = credential(&req).expect("parses");
    assert_eq!(
        verify(&req, &c, SECRET, Service::Lambda, AT),
        Err(AuthError::SignatureMismatch)
    );
    let req = Request {
        path: "/f%3Ax",
        ..req
    };
    assert_eq!(
        verify(&req, &c, "wrong", Service::Lambda, AT),
        Err(AuthError::SignatureMismatch)
    );
    assert!(verify(&req, &c, SECRET, Service::Lambda, AT).is_ok());
    // The same request under S3's path rule signs a different canonical path.
    assert_eq!(
        verify(&req, &c, SECRET, Service::S3, AT),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn checks_the_content_sha256_header() {
    let body = hex::encode(Sha256::digest(b"{}"));
    let signed = [
        ("Host", "h"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("x-amz-content-sha256", body.as_str()),
    ];
    let auth = authorization("/f%3Ax", &signed, AT, &body);
    let mut headers = signed.to_vec();
    headers.push(("Authorization", &auth));
    assert!(check(&headers, &body, AT).is_ok());
    assert_eq!(
        check(&headers, EMPTY_SHA256, AT),
        Err(AuthError::PayloadHashMismatch)
    );

    let signed = [
        ("Host", "h"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD),
    ];
    let auth = authorization("/f%3Ax", &signed, AT, UNSIGNED_PAYLOAD);
    let mut headers = signed.to_vec();
    headers.push(("Authorization", &auth));
    let v = check(&headers, EMPTY_SHA256, AT).expect("unsigned payload is allowed");
    assert!(!v.payload_signed);

    let streaming = [
        ("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        headers[3],
    ];
    let e = check(
        &[headers[0], headers[1], streaming[0], streaming[1]],
        EMPTY_SHA256,
        AT,
    );
    assert!(
        matches!(e, Err(AuthError::UnsupportedPayload { .. })),
        "{e:?}"
    );
}

#[test]
fn requires_host_and_matching_scope_date() {
    let auth = authorization(
        "/f%3Ax",
        &[("X-Amz-Date", "20150830T123600Z")],
        AT,
        EMPTY_SHA256,
    );
    let headers = [
        ("Host", "h"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", auth.as_str()),
    ];
    assert_eq!(
        check(&headers, EMPTY_SHA256, AT),
        Err(AuthError::HostNotSigned)
    );

    let auth = authorization(
        "/f%3Ax",
        &[("Host", "h"), ("X-Amz-Date", "20150830T123600Z")],
        AT,
        EMPTY_SHA256,
    )
    .replace("/20150830/", "/20150831/");
    let headers = [
        ("Host", "h"),
        ("X-Amz-Date", "20150830T123600Z"),
        ("Authorization", auth.as_str()),
    ];
    let e = check(&headers, EMPTY_SHA256, AT);
    assert!(
        matches!(e, Err(AuthError::ScopeDateMismatch { .. })),
        "{e:?}"
    );
}

#[test]
fn presigned_urls_verify_until_they_expire() {
    for (service, rules) in [("s3", Service::S3), ("lambda", Service::Lambda)] {
        let path = "/code/sha256%3Aab%20c.zip";
        let query = presign(
            "GET",
            "127.0.0.1:9001",
            path,
            "LKIAEXAMPLE",
            SECRET,
            "us-east-1",
            service,
            AT,
            600,
        );
        let headers = [("Host", "127.0.0.1:9001"), ("User-Agent", "curl")];
        let req = Request {
            method: "GET",
            path,
            query: &query,
            headers: &headers,
            body_sha256: EMPTY_SHA256,
        };
        let c = credential(&req).expect("parses");
        assert_eq!(c.access_key_id, "LKIAEXAMPLE");
        let at_end = AT + Duration::seconds(600);
        let v = verify(&req, &c, SECRET, rules, at_end).expect("valid until the end");
        assert_eq!(v.payload_signed, service != "s3");
        let e = verify(&req, &c, SECRET, rules, at_end + Duration::seconds(1));
        assert!(
            matches!(e, Err(AuthError::PresignedExpired { .. })),
            "{e:?}"
        );
        let moved = Request {
            path: "/code/other.zip",
            ..req
        };
        assert_eq!(
            verify(&moved, &c, SECRET, rules, AT),
            Err(AuthError::SignatureMismatch)
        );
        let host = [("Host", "evil:9001")];
        let rehosted = Request {
            headers: &host,
            ..req
        };
        assert_eq!(
            verify(&rehosted, &c, SECRET, rules, AT),
            Err(AuthError::SignatureMismatch)
        );
    }
}

#[test]
fn presign_keeps_expiry_within_limits() {
    let q = presign("GET", "h", "/", "K", SECRET, "r", "s3", AT, 0);
    assert!(q.contains("X-Amz-Expires=1&"), "{q}");
    let q = presign("GET", "h", "/", "K", SECRET, "r", "s3", AT, u32::MAX);
    assert!(q.contains("X-Amz-Expires=604800&"), "{q}");
}

#[test]
fn dates_at_the_end_of_time_do_not_overflow() {
    let max = datetime!(9999-12-31 23:59:59 UTC);
    let min = datetime!(-9999-01-01 00:00:00 UTC);
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F99991231%2Fr%2Fs3%2Faws4_request\
                 &X-Amz-Date=99991231T235959Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host\
                 &X-Amz-Signature=00";
    let headers = [("Host", "h")];
    let req = Request {
        method: "GET",
        path: "/",
        query,
        headers: &headers,
        body_sha256: EMPTY_SHA256,
    };
    let c = credential(&req).expect("parses");
    assert_eq!(
        verify(&req, &c, SECRET, Service::S3, max),
        Err(AuthError::SignatureMismatch)
    );
    let e = verify(&req, &c, SECRET, Service::S3, min);
    assert!(matches!(e, Err(AuthError::NotYetCurrent { .. })), "{e:?}");
}
