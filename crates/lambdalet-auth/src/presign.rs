//! Presigning URLs: a GET anyone holding the URL may make until it expires (the
//! function code download URL of GetFunction).
//!
//! It signs with the same canonical request `sigv4::verify` checks, so a URL made here
//! verifies there. It must not read the clock or the key store: `now` and the secret
//! come from the caller.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::credential::{Credential, MAX_EXPIRES_SECS};
use crate::sigv4::{
    ALGORITHM, Request, Service, UNSIGNED_PAYLOAD, canonical_request_with, signature,
    string_to_sign,
};
use crate::timestamp;

/// Presigns a request without a body (the function code download URL): returns the
/// query string to append to `path` after '?'. `path` is the path as it will be sent
/// (percent-encoded, without a query); `host` is the `Host` the client will send. The
/// payload is `UNSIGNED-PAYLOAD` when `service` is "s3" (as S3 expects), else the hash
/// of an empty body. `expires_secs` is kept within 1..=604800 (AWS's limits).
#[allow(
    clippy::too_many_arguments,
    reason = "each input is independent and named by AWS: method, host, path, key, secret, scope, time, expiry"
)]
pub fn presign(
    method: &str,
    host: &str,
    path: &str,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: OffsetDateTime,
    expires_secs: u32,
) -> String {
    let amz_date = timestamp::format(now);
    let expires = expires_secs.clamp(1, MAX_EXPIRES_SECS);
    let scope_date = amz_date.get(..8).unwrap_or_default().to_owned();
    let enc = |s: &str| crate::canonical::uri_encode(s.as_bytes());
    let query = format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}&X-Amz-Date={amz_date}&X-Amz-Expires={expires}\
         &X-Amz-SignedHeaders=host",
        enc(&format!(
            "{access_key_id}/{scope_date}/{region}/{service}/aws4_request"
        ))
    );
    let credential = Credential {
        access_key_id: access_key_id.to_owned(),
        scope_date,
        region: region.to_owned(),
        service: service.to_owned(),
        amz_date,
        signed_headers: vec!["host".to_owned()],
        signature: String::new(),
        session_token: None,
        presigned_expires: Some(expires),
    };
    let (rules, payload) = if service == "s3" {
        (Service::S3, UNSIGNED_PAYLOAD.to_owned())
    } else {
        (Service::Lambda, hex::encode(Sha256::digest(b"")))
    };
    let headers = [("host", host)];
    let req = Request {
        method,
        path,
        query: &query,
        headers: &headers,
        body_sha256: "",
    };
    let canonical = canonical_request_with(&req, &credential, rules, &payload);
    let sig = signature(
        secret,
        &credential,
        &string_to_sign(&credential, &canonical),
    );
    format!("{query}&X-Amz-Signature={sig}")
}
