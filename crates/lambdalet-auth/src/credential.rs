//! Reads who claims to have signed a request, and how, from the `Authorization` header
//! or a presigned URL's `X-Amz-*` query parameters.
//!
//! This is the first step of verification: the caller needs the access key id to look
//! up its secret. Parsing here checks the form only; it must not trust anything it
//! returns (no key is known and no signature is checked until `sigv4::verify`).

use crate::canonical::query_params;
use crate::error::{AuthError, clip};
use crate::sigv4::{ALGORITHM, Request};

/// The longest lifetime of a presigned URL AWS allows: 7 days.
pub(crate) const MAX_EXPIRES_SECS: u32 = 604_800;

/// Who claims to have signed a request, and the parts of the signature to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id, to look the secret up with.
    pub access_key_id: String,
    /// The credential scope's date, `YYYYMMDD`.
    pub scope_date: String,
    /// The credential scope's region, e.g. `us-east-1` (not checked against anything).
    pub region: String,
    /// The credential scope's service, e.g. `lambda` (the caller checks it if it cares).
    pub service: String,
    /// The request's timestamp (`X-Amz-Date`) as received.
    pub(crate) amz_date: String,
    /// The signed header names, lower case and sorted.
    pub(crate) signed_headers: Vec<String>,
    /// The signature as received (lower-case hex).
    pub(crate) signature: String,
    /// `X-Amz-Security-Token`, header or query.
    pub(crate) session_token: Option<String>,
    /// `Some(X-Amz-Expires)` for a presigned URL, `None` for header authentication.
    pub(crate) presigned_expires: Option<u32>,
}

/// Finds the credential in `req`; see [`crate::credential`].
pub(crate) fn parse(req: &Request) -> Result<Credential, AuthError> {
    let mut authorizations = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    let authorization = authorizations.next().map(|(_, value)| *value);
    if authorization.is_some() && authorizations.next().is_some() {
        return Err(incomplete("Only one Authorization header is allowed."));
    }
    let params = query_params(req.query);
    let presigned = params.iter().any(|(name, _)| name == "X-Amz-Algorithm");
    match (authorization, presigned) {
        (Some(_), true) => Err(AuthError::TwoMechanisms),
        (Some(value), false) => from_header(value, req.headers),
        (None, true) => from_query(&params),
        (None, false) => Err(AuthError::Missing),
    }
}

fn incomplete(detail: &str) -> AuthError {
    AuthError::Incomplete {
        detail: detail.to_owned(),
    }
}

fn from_header(value: &str, headers: &[(&str, &str)]) -> Result<Credential, AuthError> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm {
            algorithm: clip(algorithm, 40),
        });
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((key, val)) = part.trim().split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(val.trim()).is_some() {
            return Err(incomplete(&format!(
                "Authorization header has '{}' more than once.",
                key.trim()
            )));
        }
    }
    let mut amz_dates = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-amz-date"))
        .map(|(_, value)| value.trim());
    let amz_date = amz_dates.next();
    let mut missing = String::new();
    for (present, name) in [
        (credential.is_some(), "Credential"),
        (signature.is_some(), "Signature"),
        (signed.is_some(), "SignedHeaders"),
    ] {
        if !present {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if amz_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of a 'X-Amz-Date' header (lambdalet does \
             not read 'Date'). ",
        );
    }
    let (Some(credential), Some(signed), Some(signature), Some(amz_date)) =
        (credential, signed, signature, amz_date)
    else {
        return Err(incomplete(missing.trim_end()));
    };
    if amz_dates.next().is_some() {
        return Err(incomplete("Only one X-Amz-Date header is allowed."));
    }
    let session_token = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-security-token"))
        .map(|(_, value)| value.trim().to_owned());
    build(credential, amz_date, signed, signature, session_token, None).map_err(incomplete_from)
}

fn incomplete_from(detail: String) -> AuthError {
    AuthError::Incomplete { detail }
}

fn from_query(params: &[(String, String)]) -> Result<Credential, AuthError> {
    let one = |name: &str| -> Result<Option<&str>, AuthError> {
        let mut found = params
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(bad_query(format!("{name} must appear only once.")));
        }
        Ok(first)
    };
    let algorithm = one("X-Amz-Algorithm")?.unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm {
            algorithm: clip(algorithm, 40),
        });
    }
    let (Some(credential), Some(amz_date), Some(expires), Some(signed), Some(signature)) = (
        one("X-Amz-Credential")?,
        one("X-Amz-Date")?,
        one("X-Amz-Expires")?,
        one("X-Amz-SignedHeaders")?,
        one("X-Amz-Signature")?,
    ) else {
        return Err(bad_query(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters."
                .to_owned(),
        ));
    };
    let expires = match expires.parse::<u32>() {
        Ok(secs) if (1..=MAX_EXPIRES_SECS).contains(&secs) => secs,
        Ok(0) => {
            return Err(bad_query(
                "X-Amz-Expires must be at least 1 second".to_owned(),
            ));
        }
        Ok(_) => {
            return Err(bad_query(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800".to_owned(),
            ));
        }
        Err(_) => {
            return Err(bad_query(format!(
                "X-Amz-Expires should be a number, not '{}'",
                clip(expires, 20)
            )));
        }
    };
    let session_token = one("X-Amz-Security-Token")?.map(str::to_owned);
    build(
        credential,
        amz_date,
        signed,
        signature,
        session_token,
        Some(expires),
    )
    .map_err(bad_query)
}

fn bad_query(detail: String) -> AuthError {
    AuthError::BadPresignedQuery { detail }
}

/// Checks the form of the parts common to both mechanisms; the error is AWS's sentence.
fn build(
    credential: &str,
    amz_date: &str,
    signed: &str,
    signature: &str,
    session_token: Option<String>,
    presigned_expires: Option<u32>,
) -> Result<Credential, String> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, region, service, terminator] = parts[..] else {
        return Err(format!(
            "Credential should be 'ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request', not \
             {} parts separated by '/'.",
            parts.len()
        ));
    };
    if terminator != "aws4_request" {
        return Err(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            clip(terminator, 40)
        ));
    }
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return Err("Credential has an empty access key id, region or service.".to_owned());
    }
    if scope_date.len() != 8 || !scope_date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Credential should be scoped to a valid date (YYYYMMDD), not '{}'.",
            clip(scope_date, 20)
        ));
    }
    if crate::timestamp::parse(amz_date).is_none() {
        return Err(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
            clip(amz_date, 40)
        ));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
    let well_formed = signed_headers.iter().all(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    }) && signed_headers.windows(2).all(|w| w[0] < w[1]);
    if !well_formed {
        return Err(
            "SignedHeaders must be lower-case header names, sorted, without \
                    repeats, separated by ';'."
                .to_owned(),
        );
    }
    if signature.is_empty() {
        return Err("Signature must not be empty.".to_owned());
    }
    Ok(Credential {
        access_key_id: access_key_id.to_owned(),
        scope_date: scope_date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        amz_date: amz_date.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
        session_token,
        presigned_expires,
    })
}

#[cfg(test)]
#[path = "credential_tests.rs"]
mod tests;
