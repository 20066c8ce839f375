//! Unit tests of reading credentials: both mechanisms, and the errors AWS gives for
//! each malformed part.

use super::*;

fn req<'a>(query: &'a str, headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
    Request {
        method: "GET",
        path: "/",
        query,
        headers,
        body_sha256: "",
    }
}

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/\
                    aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa3";

#[test]
fn reads_the_header() {
    let headers = [
        ("Host", "h"),
        ("Authorization", AUTH),
        ("X-Amz-Date", "20150830T123600Z"),
    ];
    let c = parse(&req("", &headers)).expect("valid header");
    assert_eq!(c.access_key_id, "AKIDEXAMPLE");
    assert_eq!(
        (c.scope_date.as_str(), c.region.as_str()),
        ("20150830", "us-east-1")
    );
    assert_eq!(c.service, "service");
    assert_eq!(c.signed_headers, ["host", "x-amz-date"]);
    assert_eq!(c.signature, "5fa00fa3");
    assert_eq!(c.presigned_expires, None);
}

#[test]
fn reads_the_query() {
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2F\
                 us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60\
                 &X-Amz-SignedHeaders=host&X-Amz-Signature=ab&X-Amz-Security-Token=t%2Bk";
    let c = parse(&req(query, &[])).expect("valid query");
    assert_eq!(
        (c.access_key_id.as_str(), c.service.as_str()),
        ("AKID", "s3")
    );
    assert_eq!(c.presigned_expires, Some(60));
    assert_eq!(c.session_token.as_deref(), Some("t+k"));
}

#[test]
fn says_what_is_missing() {
    assert_eq!(
        parse(&req("a=1", &[("Host", "h")])),
        Err(AuthError::Missing)
    );
    let headers = [(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request",
    )];
    let Err(AuthError::Incomplete { detail }) = parse(&req("", &headers)) else {
        panic!("expected Incomplete");
    };
    assert!(
        detail.contains("requires 'Signature' parameter"),
        "{detail}"
    );
    assert!(
        detail.contains("requires 'SignedHeaders' parameter"),
        "{detail}"
    );
    assert!(detail.contains("'X-Amz-Date'"), "{detail}");
    assert!(!detail.contains("'Credential'"), "{detail}");
    let e = parse(&req("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=x", &[]));
    assert!(
        matches!(e, Err(AuthError::BadPresignedQuery { .. })),
        "{e:?}"
    );
}

#[test]
fn refuses_other_algorithms_and_both_mechanisms() {
    let e = parse(&req("", &[("Authorization", "Bearer secret-token-value")]));
    assert_eq!(
        e,
        Err(AuthError::UnsupportedAlgorithm {
            algorithm: "Bearer".into()
        })
    );
    let e = parse(&req(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        &[("Authorization", AUTH)],
    ));
    assert_eq!(e, Err(AuthError::TwoMechanisms));
}

#[test]
fn checks_the_form() {
    let date = ("X-Amz-Date", "20150830T123600Z");
    for (auth, needle) in [
        (
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws5_request, SignedHeaders=host, Signature=a",
            "terminator",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, Signature=a",
            "valid date",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=A/r/s/aws4_request, SignedHeaders=host, Signature=a",
            "4 parts",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=x-amz-date;host, Signature=a",
            "sorted",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=Host, Signature=a",
            "lower-case",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, Credential=B, SignedHeaders=host, Signature=a",
            "more than once",
        ),
    ] {
        let Err(AuthError::Incomplete { detail }) =
            parse(&req("", &[("Authorization", auth), date]))
        else {
            panic!("expected Incomplete for {auth}");
        };
        assert!(detail.contains(needle), "{detail}");
    }
    let query = |expires: &str| {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A/20150830/r/s/aws4_request\
                 &X-Amz-Date=20150830T123600Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host\
                 &X-Amz-Signature=a"
        )
    };
    assert!(parse(&req(&query("604800"), &[])).is_ok());
    for (expires, needle) in [
        ("604801", "less than a week"),
        ("0", "at least"),
        ("-1", "number"),
    ] {
        let Err(AuthError::BadPresignedQuery { detail }) = parse(&req(&query(expires), &[])) else {
            panic!("expected BadPresignedQuery for {expires}");
        };
        assert!(detail.contains(needle), "{detail}");
    }
}
