//! Why a request's signature was refused, as the AWS error type, HTTP status and
//! message a client expects.
//!
//! Messages keep AWS's own wording where AWS has one (people and tools search for
//! those exact sentences), followed by a lambdalet hint where AWS's words do not say
//! what to do. This module must not echo secrets or whole headers into messages: only
//! the key id, dates and the algorithm name, which are not secret.

/// A request that could not be authenticated, or a stored secret that could not be
/// opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor an `X-Amz-Algorithm` query parameter.
    #[error(
        "Missing Authentication Token. lambdalet needs requests signed with AWS Signature \
         Version 4: give the AWS CLI or SDK a key from `lambdalet keys create`"
    )]
    Missing,

    /// The `Authorization` header lacks a part or has one in the wrong form; the
    /// message lists what (in AWS's words).
    #[error("{detail}")]
    Incomplete {
        /// AWS's sentences, e.g. "Authorization header requires 'Signature' parameter."
        detail: String,
    },

    /// An algorithm other than `AWS4-HMAC-SHA256` (SigV2, SigV4a, a bearer token).
    #[error(
        "Unsupported AWS 'algorithm': '{algorithm}'. lambdalet accepts only AWS4-HMAC-SHA256 \
         (Signature Version 4); configure the client to sign with it"
    )]
    UnsupportedAlgorithm {
        /// The first word of the header or the `X-Amz-Algorithm` value, cut to 40 chars.
        algorithm: String,
    },

    /// Both an `Authorization` header and a presigned query.
    #[error(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the \
         Authorization header should be specified"
    )]
    TwoMechanisms,

    /// A presigned URL lacks a parameter or has one in the wrong form.
    #[error("{detail}")]
    BadPresignedQuery {
        /// AWS's sentence, e.g. "X-Amz-Expires must be less than a week ...".
        detail: String,
    },

    /// The access key id is not one lambdalet knows (the caller looked it up).
    #[error(
        "The security token included in the request is invalid. lambdalet has no access key \
         '{access_key_id}': list keys with `lambdalet keys list`, create one with \
         `lambdalet keys create`"
    )]
    UnknownAccessKey {
        /// The id from the credential.
        access_key_id: String,
    },

    /// The signature does not match the one computed with the key's secret.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service \
         documentation for details."
    )]
    SignatureMismatch,

    /// `X-Amz-Date` is more than 15 minutes before now.
    #[error(
        "Signature expired: {signed} is now earlier than {earliest} ({now} - 15 min.) \
         Check the clock of the machine that signed the request."
    )]
    Expired {
        /// The request's `X-Amz-Date`.
        signed: String,
        /// The earliest date accepted now.
        earliest: String,
        /// Now, on lambdalet's clock.
        now: String,
    },

    /// `X-Amz-Date` is more than 15 minutes after now.
    #[error(
        "Signature not yet current: {signed} is still later than {latest} ({now} + 15 min.) \
         Check the clock of the machine that signed the request."
    )]
    NotYetCurrent {
        /// The request's `X-Amz-Date`.
        signed: String,
        /// The latest date accepted now.
        latest: String,
        /// Now, on lambdalet's clock.
        now: String,
    },

    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    #[error(
        "Request has expired: the presigned URL was valid until {expired_at} and it is now \
         {now}; ask for a new URL"
    )]
    PresignedExpired {
        /// `X-Amz-Date + X-Amz-Expires`.
        expired_at: String,
        /// Now, on lambdalet's clock.
        now: String,
    },

    /// The credential scope's date is not the date of `X-Amz-Date`.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '{scope_date}' != '{request_date}', from '{amz_date}'."
    )]
    ScopeDateMismatch {
        /// The date in `Credential=.../YYYYMMDD/...`.
        scope_date: String,
        /// The date part of `X-Amz-Date`.
        request_date: String,
        /// `X-Amz-Date` itself.
        amz_date: String,
    },

    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,

    /// `x-amz-content-sha256` is not the SHA-256 of the body received.
    #[error(
        "The provided 'x-amz-content-sha256' header does not match what was computed. \
         The body was changed after signing, or the client hashed another body"
    )]
    PayloadHashMismatch,

    /// A payload mode lambdalet does not verify (aws-chunked streaming).
    #[error(
        "x-amz-content-sha256 '{value}' is not supported by lambdalet: sign the whole body \
         (its SHA-256 in hex) or send UNSIGNED-PAYLOAD"
    )]
    UnsupportedPayload {
        /// The header's value, cut to 64 chars.
        value: String,
    },

    /// A sealed secret could not be opened (lambdalet's own store, not a client error).
    #[error(
        "stored secret cannot be opened ({reason}): the master key is not the one it was \
         sealed with, or the stored data is damaged"
    )]
    Sealed {
        /// What failed: base64, length or authentication.
        reason: &'static str,
    },
}

impl AuthError {
    /// The AWS error type (Lambda's `x-amzn-ErrorType`, S3's `Code`).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Incomplete { .. } | Self::UnsupportedAlgorithm { .. } | Self::HostNotSigned => {
                "IncompleteSignatureException"
            }
            Self::TwoMechanisms => "InvalidArgument",
            Self::BadPresignedQuery { .. } => "AuthorizationQueryParametersError",
            Self::UnknownAccessKey { .. } => "UnrecognizedClientException",
            Self::SignatureMismatch
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::ScopeDateMismatch { .. } => "InvalidSignatureException",
            Self::PresignedExpired { .. } => "AccessDenied",
            Self::PayloadHashMismatch => "XAmzContentSHA256Mismatch",
            Self::UnsupportedPayload { .. } => "NotImplemented",
            Self::Sealed { .. } => "ServiceException",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::TwoMechanisms | Self::BadPresignedQuery { .. } | Self::PayloadHashMismatch => 400,
            Self::UnsupportedPayload { .. } => 501,
            Self::Sealed { .. } => 500,
            _ => 403,
        }
    }
}

/// Cuts untrusted text to `max` characters for a message.
pub(crate) fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_aws_types() {
        assert_eq!(
            AuthError::SignatureMismatch.error_type(),
            "InvalidSignatureException"
        );
        assert_eq!(AuthError::SignatureMismatch.status(), 403);
        let unknown = AuthError::UnknownAccessKey {
            access_key_id: "LKIAX".into(),
        };
        assert_eq!(unknown.error_type(), "UnrecognizedClientException");
        assert!(
            unknown
                .to_string()
                .starts_with("The security token included in the request is invalid.")
        );
        assert!(unknown.to_string().contains("lambdalet keys create"));
        assert_eq!(
            AuthError::Missing.error_type(),
            "MissingAuthenticationTokenException"
        );
        assert_eq!(AuthError::PayloadHashMismatch.status(), 400);
        assert_eq!(AuthError::Sealed { reason: "x" }.status(), 500);
    }

    #[test]
    fn expired_reads_like_aws() {
        let e = AuthError::Expired {
            signed: "20150830T120000Z".into(),
            earliest: "20150830T122100Z".into(),
            now: "20150830T123600Z".into(),
        };
        assert!(e.to_string().starts_with(
            "Signature expired: 20150830T120000Z is now earlier than 20150830T122100Z \
             (20150830T123600Z - 15 min.)"
        ));
    }

    #[test]
    fn clips_by_characters() {
        assert_eq!(clip("ሴሴሴ", 2), "ሴሴ");
        assert_eq!(clip("ab", 5), "ab");
    }
}
