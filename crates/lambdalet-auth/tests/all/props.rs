//! `credential` and `verify` take every byte from the network: whatever the headers,
//! query, path and clock, they answer Ok or an AuthError, and never panic.

use lambdalet_auth::{Request, Service, credential, verify};
use proptest::prelude::*;
use time::OffsetDateTime;

/// Any instant `time` can hold (years -9999..=9999 without its large-dates feature).
/// The edges of that range come often: that is where date arithmetic overflows.
fn any_now() -> impl Strategy<Value = OffsetDateTime> {
    const MIN: i64 = -377_705_116_800;
    const MAX: i64 = 253_402_300_799;
    prop_oneof![
        MIN..=MAX,
        MIN..MIN + 3600,
        MAX - 3600..=MAX,
        Just(1_440_938_160), // 2015-08-30T12:36:00Z
    ]
    .prop_map(|secs| OffsetDateTime::from_unix_timestamp(secs).expect("within time's range"))
}

/// Dates near the edges and plausible ones, well formed or not.
fn amz_date() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("99991231T235959Z".to_owned()),
        Just("00000101T000000Z".to_owned()),
        Just("20150830T123600Z".to_owned()),
        "[0-9]{8}T[0-9]{6}Z",
        "\\PC{0,20}",
    ]
}

/// Pieces that look like SigV4's, so parsing gets past the first check often.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        "[a-z0-9;=/,%-]{0,24}",
        Just("host".to_owned()),
        Just("host;x-amz-date".to_owned()),
        Just("aws4_request".to_owned()),
        Just("UNSIGNED-PAYLOAD".to_owned()),
        "[0-9]{1,7}",
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let well_formed = amz_date().prop_map(|date| {
        let day = date.get(..8).unwrap_or("").to_owned();
        vec![
            ("X-Amz-Date".to_owned(), date),
            ("Host".to_owned(), "h".to_owned()),
            (
                "Authorization".to_owned(),
                format!(
                    "AWS4-HMAC-SHA256 Credential=K/{day}/r/lambda/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=00"
                ),
            ),
        ]
    });
    let auth = (piece(), amz_date(), piece(), piece(), piece(), piece()).prop_map(
        |(id, date, region, service, signed, sig)| {
            let day = date.get(..8).unwrap_or("").to_owned();
            format!(
                "AWS4-HMAC-SHA256 Credential={id}/{day}/{region}/{service}/aws4_request, \
                 SignedHeaders={signed}, Signature={sig}"
            )
        },
    );
    let header = prop_oneof![
        (Just("Authorization".to_owned()), auth),
        (Just("authorization".to_owned()), "\\PC{0,60}"),
        (Just("X-Amz-Date".to_owned()), amz_date()),
        (Just("x-amz-content-sha256".to_owned()), piece()),
        (Just("X-Amz-Security-Token".to_owned()), piece()),
        (Just("Host".to_owned()), "\\PC{0,20}"),
        ("\\PC{0,12}", "\\PC{0,30}"),
    ];
    (
        prop::collection::vec(header, 0..8),
        prop::option::of(well_formed),
    )
        .prop_map(|(mut headers, well_formed)| {
            headers.extend(well_formed.into_iter().flatten());
            headers
        })
}

/// A presigned query of the right shape, with any date and expiry.
fn presigned_query() -> impl Strategy<Value = String> {
    (amz_date(), piece(), "\\PC{0,20}").prop_map(|(date, expires, extra)| {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F{}%2Fr%2Fs3%2Faws4_request\
             &X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=00&{extra}",
            date.get(..8).unwrap_or("")
        )
    })
}

fn query() -> impl Strategy<Value = String> {
    let param = prop_oneof![
        Just("X-Amz-Algorithm=AWS4-HMAC-SHA256".to_owned()),
        (piece(), amz_date()).prop_map(|(id, d)| format!(
            "X-Amz-Credential={id}%2F{}%2Fus-east-1%2Fs3%2Faws4_request",
            d.get(..8).unwrap_or("")
        )),
        amz_date().prop_map(|d| format!("X-Amz-Date={d}")),
        piece().prop_map(|e| format!("X-Amz-Expires={e}")),
        piece().prop_map(|s| format!("X-Amz-SignedHeaders={s}")),
        piece().prop_map(|s| format!("X-Amz-Signature={s}")),
        "\\PC{0,20}",
    ];
    prop_oneof![
        prop::collection::vec(param, 0..8).prop_map(|params| params.join("&")),
        presigned_query(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn never_panics(
        method in "\\PC{0,8}",
        path in "\\PC{0,40}",
        query in query(),
        headers in headers(),
        body_sha256 in "\\PC{0,64}",
        secret in "\\PC{0,40}",
        now in any_now(),
        s3 in any::<bool>(),
    ) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let req = Request { method: &method, path: &path, query: &query, headers: &headers, body_sha256: &body_sha256 };
        if let Ok(cred) = credential(&req) {
            let service = if s3 { Service::S3 } else { Service::Lambda };
            let _ = verify(&req, &cred, &secret, service, now);
        }
    }
}
