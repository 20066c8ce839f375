//! `Code.Location`: the function code download URL GetFunction returns, presigned like an S3
//! URL (`X-Amz-Signature`, 10 minutes) with a key the daemon makes at start and never hands
//! out, so the URL is the only way in and it expires. The daemon's restart ends every URL.

use lambdalet_auth::{AuthError, Request, Service};
use time::OffsetDateTime;

use crate::control::Control;

/// How long a code URL works.
pub const CODE_URL_SECONDS: u32 = 600;
/// The access key id code URLs are signed as (not a key anyone can sign requests with).
pub(crate) const CODE_URL_KEY_ID: &str = "LKIACODELOCATION";

impl Control {
    /// The query string that presigns `GET path` for `host` (the `Host` the client sends).
    pub fn presign_code_url(&self, host: &str, path: &str) -> String {
        lambdalet_auth::presign(
            "GET",
            host,
            path,
            CODE_URL_KEY_ID,
            &self.code_url_secret,
            &self.account.region,
            "s3",
            OffsetDateTime::now_utc(),
            CODE_URL_SECONDS,
        )
    }

    /// Checks a code download request's presigned query.
    pub fn verify_code_url(&self, req: &Request) -> Result<(), AuthError> {
        let credential = lambdalet_auth::credential(req)?;
        if credential.access_key_id != CODE_URL_KEY_ID {
            return Err(AuthError::UnknownAccessKey {
                access_key_id: credential.access_key_id,
            });
        }
        lambdalet_auth::verify(
            req,
            &credential,
            &self.code_url_secret,
            Service::S3,
            OffsetDateTime::now_utc(),
        )
        .map(drop)
    }
}
