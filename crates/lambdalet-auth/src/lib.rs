//! Authentication for lambdalet's AWS-compatible APIs: verifying AWS Signature
//! Version 4 (the `Authorization` header and presigned URLs), presigning URLs, making
//! access keys and sealing their secrets for storage.
//!
//! A server verifies a request in two steps, so keys can be looked up in between:
//!
//! ```
//! use lambdalet_auth::{Request, Service, credential, verify};
//! # fn secret_of(_id: &str) -> Option<String> { None }
//! # fn check(req: &Request) -> Result<(), lambdalet_auth::AuthError> {
//! let cred = credential(req)?;
//! let secret = secret_of(&cred.access_key_id).ok_or_else(|| {
//!     lambdalet_auth::AuthError::UnknownAccessKey { access_key_id: cred.access_key_id.clone() }
//! })?;
//! let who = verify(req, &cred, &secret, Service::Lambda, time::OffsetDateTime::now_utc())?;
//! # let _ = who; Ok(()) }
//! ```
//!
//! Pure code: no I/O but the OS random source (for keys and nonces), no clock (the
//! caller passes `now`), no HTTP types (the caller fills [`Request`]). It must stay
//! that way so it can be checked against the official test vectors byte for byte.

mod canonical;
mod credential;
mod error;
mod keys;
mod presign;
mod sign;
mod sigv4;
mod timestamp;

pub use credential::Credential;
pub use error::AuthError;
pub use keys::{
    ACCESS_KEY_PREFIX, MasterKey, console_session_mac, new_access_key, session_token, webhook_token,
};
pub use presign::presign;
pub use sign::{Outgoing, sign, sign_unsigned_payload};
pub use sigv4::{
    Request, Service, UNSIGNED_PAYLOAD, Verified, canonical_request, credential, string_to_sign,
    verify,
};
