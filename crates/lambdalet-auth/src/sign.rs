//! Signing a request with the `Authorization` header, as an AWS SDK does: what the
//! `lambdalet` client commands send. The request is signed with the same canonical
//! request `sigv4::verify` checks, over `host`, `x-amz-content-sha256` and `x-amz-date`.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::credential::Credential;
use crate::sigv4::{
    ALGORITHM, Request, Service, canonical_request_with, signature, string_to_sign,
};
use crate::timestamp;

/// A request to sign: the parts of it SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: &'a str,
    /// `host[:port]` as the client will send it in `Host`.
    pub host: &'a str,
    /// The path as it will be sent (percent-encoded).
    pub path: &'a str,
    /// The query string as it will be sent, without '?' ("" if none).
    pub query: &'a str,
    pub body: &'a [u8],
}

/// The headers to add to `req`: `x-amz-date`, `x-amz-content-sha256` and `authorization`.
pub fn sign(
    req: &Outgoing,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> [(&'static str, String); 3] {
    let payload = hex::encode(Sha256::digest(req.body));
    sign_payload(req, payload, access_key_id, secret, region, service, now)
}

/// As [`sign`], with `x-amz-content-sha256: UNSIGNED-PAYLOAD`: for a body streamed from a
/// file, which the signature then does not cover (`req.body` is ignored).
pub fn sign_unsigned_payload(
    req: &Outgoing,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> [(&'static str, String); 3] {
    let payload = crate::sigv4::UNSIGNED_PAYLOAD.to_owned();
    sign_payload(req, payload, access_key_id, secret, region, service, now)
}

#[allow(
    clippy::too_many_arguments,
    reason = "sign's arguments and the payload line"
)]
fn sign_payload(
    req: &Outgoing,
    payload: String,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> [(&'static str, String); 3] {
    let amz_date = timestamp::format(now);
    let scope_date = amz_date.get(..8).unwrap_or_default().to_owned();
    let signed_headers = vec![
        "host".to_owned(),
        "x-amz-content-sha256".to_owned(),
        "x-amz-date".to_owned(),
    ];
    let credential = Credential {
        access_key_id: access_key_id.to_owned(),
        scope_date,
        region: region.to_owned(),
        service: service.to_owned(),
        amz_date: amz_date.clone(),
        signed_headers,
        signature: String::new(),
        session_token: None,
        presigned_expires: None,
    };
    let headers = [
        ("host", req.host),
        ("x-amz-content-sha256", payload.as_str()),
        ("x-amz-date", amz_date.as_str()),
    ];
    let request = Request {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: &headers,
        body_sha256: &payload,
    };
    let rules = if service == "s3" {
        Service::S3
    } else {
        Service::Lambda
    };
    let canonical = canonical_request_with(&request, &credential, rules, &payload);
    let sig = signature(
        secret,
        &credential,
        &string_to_sign(&credential, &canonical),
    );
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id}/{}/{region}/{service}/aws4_request, \
         SignedHeaders={}, Signature={sig}",
        credential.scope_date,
        credential.signed_headers.join(";")
    );
    [
        ("x-amz-date", amz_date),
        ("x-amz-content-sha256", payload),
        ("authorization", authorization),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_signed(
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<crate::Verified, crate::AuthError> {
        let now = time::macros::datetime!(2026-12-04 12:00:00 UTC);
        let out = Outgoing {
            method: "POST",
            host: "127.0.0.1:9001",
            path,
            query,
            body,
        };
        let signed = sign(&out, "LKIATEST", "secret", "us-east-1", "lambda", now);
        let mut headers: Vec<(&str, &str)> = vec![("Host", "127.0.0.1:9001")];
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        let body_sha = hex::encode(Sha256::digest(body));
        let req = Request {
            method: "POST",
            path,
            query,
            headers: &headers,
            body_sha256: &body_sha,
        };
        let cred = crate::credential(&req)?;
        crate::verify(&req, &cred, "secret", Service::Lambda, now)
    }

    #[test]
    fn what_sign_makes_verify_accepts() {
        let ok = verify_signed(
            "/2015-03-31/functions/f%3A1/invocations",
            "Qualifier=1&a=b",
            b"{}",
        )
        .expect("verifies");
        assert_eq!(ok.access_key_id, "LKIATEST");
        assert!(ok.payload_signed);
    }

    #[test]
    fn signing_covers_the_body() {
        let now = time::macros::datetime!(2026-12-04 12:00:00 UTC);
        let out = Outgoing {
            method: "POST",
            host: "h",
            path: "/",
            query: "",
            body: b"one",
        };
        let signed = sign(&out, "LKIATEST", "secret", "us-east-1", "lambda", now);
        let mut headers: Vec<(&str, &str)> = vec![("Host", "h")];
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        let other = hex::encode(Sha256::digest(b"two"));
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body_sha256: &other,
        };
        let cred = crate::credential(&req).expect("credential");
        assert!(crate::verify(&req, &cred, "secret", Service::Lambda, now).is_err());
    }

    #[test]
    fn an_unsigned_payload_signs_the_head_only() {
        let now = time::macros::datetime!(2026-12-04 12:00:00 UTC);
        let out = Outgoing {
            method: "PUT",
            host: "127.0.0.1:9001",
            path: "/lambdalet/v1/images",
            query: "name=x",
            body: b"ignored",
        };
        let signed = sign_unsigned_payload(&out, "LKIATEST", "secret", "us-east-1", "lambda", now);
        assert_eq!(
            signed[1],
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".to_owned())
        );
        let mut headers: Vec<(&str, &str)> = vec![("Host", "127.0.0.1:9001")];
        headers.extend(signed.iter().map(|(k, v)| (*k, v.as_str())));
        let req = Request {
            method: "PUT",
            path: "/lambdalet/v1/images",
            query: "name=x",
            headers: &headers,
            body_sha256: "",
        };
        let cred = crate::credential(&req).unwrap();
        let v = crate::verify(&req, &cred, "secret", Service::Lambda, now).unwrap();
        assert!(!v.payload_signed);
        // The head is still covered: another query fails.
        let tampered = Request {
            query: "name=y",
            ..req
        };
        assert!(crate::verify(&tampered, &cred, "secret", Service::Lambda, now).is_err());
    }
}
