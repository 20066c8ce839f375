//! Who a request acts for, and the credentials a function gets.

use std::fmt;

use crate::ids::FunctionName;

/// The identity behind a request to the Lambda API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An administrator: a key from `lambdalet keys create`, or any local caller outside a
    /// sandbox when the daemon runs with `--auth none`.
    Admin,
    /// A function, by its own credentials or because the request came from one of its
    /// sandboxes. It may invoke functions; it may manage them only when its configuration
    /// says so (`allowManagement`).
    Function(FunctionName),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Admin => f.write_str("an administrator"),
            Self::Function(name) => write!(f, "function {name}"),
        }
    }
}

/// A function's own AWS-style credentials, given to its sandboxes as `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Derived from the secret (`lambdalet_auth::session_token`); checked when sent.
    pub session_token: String,
}

impl fmt::Debug for Credentials {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Credentials {
            access_key_id: "LKIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: "token".into(),
        };
        let text = format!("{c:?}");
        assert!(
            text.contains("LKIAEXAMPLE") && !text.contains("very-secret"),
            "{text}"
        );
    }
}
