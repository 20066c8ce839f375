//! Verifying AWS Signature Version 4: the `Authorization` header and presigned URLs.
//!
//! The api crate hands a received request here, once as [`crate::credential`] to learn
//! the access key id, then with the key's secret to [`verify`]. This module must not
//! look keys up, read clocks or touch the network: the secret and `now` come from the
//! caller, so every rule here is testable with fixed inputs.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::canonical::{canonical_headers, canonical_path, canonical_query};
use crate::credential::{Credential, MAX_EXPIRES_SECS};
use crate::error::{AuthError, clip};
use crate::timestamp;

/// The only algorithm accepted.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload line of a request whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a request's date may be from now, either way.
const MAX_SKEW: Duration = Duration::minutes(15);

/// A request as received: what SigV4 signs.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, e.g. "POST".
    pub method: &'a str,
    /// The path exactly as received (still percent-encoded), e.g.
    /// "/2015-03-31/functions/my%3Afn/invocations".
    pub path: &'a str,
    /// The raw query string without '?', as received ("" if none).
    pub query: &'a str,
    /// Every header (name case as received; values as received). Over HTTP/2 the
    /// caller adds `host` from `:authority`.
    pub headers: &'a [(&'a str, &'a str)],
    /// SHA-256 of the body, lower-case hex.
    pub body_sha256: &'a str,
}

/// Which service's rules apply to the canonical path and the presigned payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The Lambda API, and the rule of every AWS service but S3: the received path is
    /// normalized and URI-encoded a second time.
    Lambda,
    /// S3: the path is signed as received, and presigned URLs sign `UNSIGNED-PAYLOAD`.
    S3,
}

/// Who signed, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id whose secret signed the request.
    pub access_key_id: String,
    /// The region of the credential scope (not checked: lambdalet answers any region).
    pub region: String,
    /// The service of the credential scope (not checked here; compare it if it matters).
    pub service: String,
    /// `X-Amz-Security-Token`, when sent.
    pub session_token: Option<String>,
    /// Whether the body is covered by the signature. False when the client sent
    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD` (which Lambda and S3 both accept) or for
    /// an S3 presigned URL; a caller that needs the body's integrity checks this.
    pub payload_signed: bool,
}

/// Reads the credential from the `Authorization` header or a presigned URL's query,
/// without checking it: the access key id comes first, so the caller can look the
/// secret up. No header and no `X-Amz-Algorithm` parameter → [`AuthError::Missing`].
pub fn credential(req: &Request) -> Result<Credential, AuthError> {
    crate::credential::parse(req)
}

/// Verifies `req` with the secret of `credential.access_key_id`, at `now`: the
/// credential scope's date is `X-Amz-Date`'s date, `host` is signed, the date is within
/// 15 minutes of `now` (header) or the URL has not expired (presigned), the signature
/// matches (compared in constant time), and a signed payload hash is the body's.
pub fn verify(
    req: &Request,
    credential: &Credential,
    secret: &str,
    service: Service,
    now: OffsetDateTime,
) -> Result<Verified, AuthError> {
    let signed_at =
        timestamp::parse(&credential.amz_date).ok_or_else(|| AuthError::Incomplete {
            detail: "Date must be in ISO-8601 'basic format'.".to_owned(),
        })?;
    let request_date = credential.amz_date.get(..8).unwrap_or_default();
    if credential.scope_date != request_date {
        return Err(AuthError::ScopeDateMismatch {
            scope_date: credential.scope_date.clone(),
            request_date: request_date.to_owned(),
            amz_date: credential.amz_date.clone(),
        });
    }
    if !credential.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::HostNotSigned);
    }
    check_time(credential, signed_at, now)?;
    let payload = payload_line(req, credential, service)?;
    let canonical = canonical_request_with(req, credential, service, &payload);
    let expected = signature(secret, credential, &string_to_sign(credential, &canonical));
    if !bool::from(expected.as_bytes().ct_eq(credential.signature.as_bytes())) {
        return Err(AuthError::SignatureMismatch);
    }
    let payload_signed = payload != UNSIGNED_PAYLOAD;
    if payload_signed && !payload.eq_ignore_ascii_case(req.body_sha256) {
        return Err(AuthError::PayloadHashMismatch);
    }
    Ok(Verified {
        access_key_id: credential.access_key_id.clone(),
        region: credential.region.clone(),
        service: credential.service.clone(),
        session_token: credential.session_token.clone(),
        payload_signed,
    })
}

/// Checks the dates. Every sum is checked: `signed_at` is the client's and may sit at
/// the end of what `time` can hold.
fn check_time(
    credential: &Credential,
    signed_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let fmt = timestamp::format;
    if let Some(latest) = now.checked_add(MAX_SKEW)
        && signed_at > latest
    {
        return Err(AuthError::NotYetCurrent {
            signed: credential.amz_date.clone(),
            latest: fmt(latest),
            now: fmt(now),
        });
    }
    match credential.presigned_expires {
        None => match now.checked_sub(MAX_SKEW) {
            Some(earliest) if signed_at < earliest => Err(AuthError::Expired {
                signed: credential.amz_date.clone(),
                earliest: fmt(earliest),
                now: fmt(now),
            }),
            _ => Ok(()),
        },
        Some(expires) => {
            let lifetime = Duration::seconds(i64::from(expires.min(MAX_EXPIRES_SECS)));
            match signed_at.checked_add(lifetime) {
                Some(expired_at) if now > expired_at => Err(AuthError::PresignedExpired {
                    expired_at: fmt(expired_at),
                    now: fmt(now),
                }),
                _ => Ok(()),
            }
        }
    }
}

/// The last line of the canonical request: `x-amz-content-sha256` when sent, else
/// `UNSIGNED-PAYLOAD` for an S3 presigned URL, else the body's hash.
fn payload_line(
    req: &Request,
    credential: &Credential,
    service: Service,
) -> Result<String, AuthError> {
    let header = req
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-content-sha256"))
        .map(|(_, value)| value.trim());
    match header {
        Some(value) if value == UNSIGNED_PAYLOAD => Ok(value.to_owned()),
        Some(value) if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(value.to_owned())
        }
        Some(value) => Err(AuthError::UnsupportedPayload {
            value: clip(value, 64),
        }),
        None if service == Service::S3 && credential.presigned_expires.is_some() => {
            Ok(UNSIGNED_PAYLOAD.to_owned())
        }
        None => Ok(req.body_sha256.to_owned()),
    }
}

/// The canonical request `verify` signs for `req` as `credential` describes it.
/// Public for debugging a mismatch: log it at debug level and compare it with the
/// client's (botocore logs its own with `--debug`).
pub fn canonical_request(
    req: &Request,
    credential: &Credential,
    service: Service,
) -> Result<String, AuthError> {
    let payload = payload_line(req, credential, service)?;
    Ok(canonical_request_with(req, credential, service, &payload))
}

/// The canonical request with `payload` as its last line.
pub(crate) fn canonical_request_with(
    req: &Request,
    credential: &Credential,
    service: Service,
    payload: &str,
) -> String {
    let query = if credential.presigned_expires.is_some() {
        canonical_query(req.query, &["X-Amz-Signature"])
    } else {
        canonical_query(req.query, &[])
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_path(req.path, service == Service::Lambda),
        query,
        canonical_headers(req.headers, &credential.signed_headers),
        credential.signed_headers.join(";"),
        payload
    )
}

/// The string to sign for a canonical request.
pub fn string_to_sign(credential: &Credential, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/aws4_request\n{}",
        credential.amz_date,
        credential.scope_date,
        credential.region,
        credential.service,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The signature (lower-case hex) of `string_to_sign` with the key derived from
/// `secret` and the credential scope.
pub(crate) fn signature(secret: &str, credential: &Credential, string_to_sign: &str) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), &credential.scope_date);
    let k_region = hmac(&k_date, &credential.region);
    let k_service = hmac(&k_region, &credential.service);
    let k_signing = hmac(&k_service, "aws4_request");
    hex::encode(hmac(&k_signing, string_to_sign))
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
