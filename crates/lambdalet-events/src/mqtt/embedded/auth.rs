//! Who may connect to the embedded broker: the decision the front door takes on each CONNECT
//! before the broker sees it, and the rate-limited warnings about the clients it refuses.
//!
//! The check itself is the caller's ([`MqttAuthenticator`]: the daemon looks the username up
//! as a lambdalet access key id and the password as its secret). This module must not know
//! about keys.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::connect::Connect;

/// Checks a username and password from a CONNECT packet: true lets the client in. Called on
/// a blocking thread (never on the async executor), once per connection that gives a
/// username and password.
pub type MqttAuthenticator = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// How a client was let in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// No authentication is required.
    Anonymous,
    /// With a client certificate the operator's CA signed (checked in the TLS handshake).
    Certificate,
    /// With a valid username and password; the username.
    Login(String),
}

/// Why a client was refused: the CONNACK return code and a sentence for the log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: u8,
    pub reason: &'static str,
}

/// CONNACK return code 4: bad user name or password.
const BAD_LOGIN: u8 = 4;
/// CONNACK return code 5: not authorized.
const NOT_AUTHORIZED: u8 = 5;

/// Decides whether the client that sent `connect` may use the broker; `certified`: it
/// presented a client certificate the operator's CA signed.
pub(crate) async fn decide(
    auth: Option<&MqttAuthenticator>,
    connect: &Connect,
    certified: bool,
) -> Result<Admitted, Refusal> {
    if certified {
        return Ok(Admitted::Certificate);
    }
    let Some(auth) = auth else {
        return Ok(Admitted::Anonymous);
    };
    let Some(username) = connect.username.clone() else {
        return Err(Refusal {
            code: NOT_AUTHORIZED,
            reason: "it gave no username and password (this broker takes a lambdalet access key: username = the access key id, password = the secret access key)",
        });
    };
    let Some(password) = connect.password.clone() else {
        return Err(Refusal {
            code: BAD_LOGIN,
            reason: "it gave a username but no password (the password is the secret access key)",
        });
    };
    let Ok(password) = String::from_utf8(password) else {
        return Err(Refusal {
            code: BAD_LOGIN,
            reason: "its password is not text, so it is no secret access key",
        });
    };
    let auth = auth.clone();
    let user = username.clone();
    let ok = tokio::task::spawn_blocking(move || auth(&user, &password))
        .await
        .unwrap_or(false);
    if ok {
        Ok(Admitted::Login(username))
    } else {
        Err(Refusal {
            code: BAD_LOGIN,
            reason: "no access key has this id and secret",
        })
    }
}

/// Logs refused clients: at most [`RefusalLog::PER_MINUTE`] warnings a minute, so that a
/// client knocking in a loop cannot fill the daemon's log; the next warning after a quiet
/// spell says how many were left out.
pub(crate) struct RefusalLog {
    /// Start of the current minute, warnings logged in it, refusals not logged since the last
    /// warning.
    state: Mutex<(Instant, u32, u64)>,
}

impl RefusalLog {
    const PER_MINUTE: u32 = 20;

    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new((Instant::now(), 0, 0)),
        }
    }

    /// Logs that `peer` was refused, unless the minute's warnings are spent.
    pub(crate) fn refused(&self, peer: SocketAddr, connect: Option<&Connect>, why: &str) {
        let Some(unlogged) = self.admit(Instant::now()) else {
            return;
        };
        let more = if unlogged > 0 {
            format!(" ({unlogged} earlier refusals were not logged)")
        } else {
            String::new()
        };
        let client_id = connect.map(|c| short(&c.client_id));
        match connect.and_then(|c| c.username.as_deref()) {
            Some(username) => tracing::warn!(
                client = %peer,
                client_id = ?client_id.unwrap_or_default(),
                username = ?short(username),
                "MQTT client refused: {why}{more}"
            ),
            None if client_id.is_some() => tracing::warn!(
                client = %peer,
                client_id = ?client_id.unwrap_or_default(),
                "MQTT client refused: {why}{more}"
            ),
            None => tracing::warn!(client = %peer, "MQTT client refused: {why}{more}"),
        }
    }

    /// Whether a warning may be logged at `now`, and how many went unlogged before it.
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock();
        if now.duration_since(s.0) >= Duration::from_secs(60) {
            s.0 = now;
            s.1 = 0;
        }
        if s.1 >= Self::PER_MINUTE {
            s.2 += 1;
            return None;
        }
        s.1 += 1;
        Some(std::mem::take(&mut s.2))
    }
}

/// At most 64 characters of a client-chosen string, for the log.
fn short(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect(login: Option<(&str, Option<&str>)>) -> Connect {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c'];
        if let Some((u, p)) = login {
            body[7] |= 0x80;
            body.extend_from_slice(&(u.len() as u16).to_be_bytes());
            body.extend_from_slice(u.as_bytes());
            if let Some(p) = p {
                body[7] |= 0x40;
                body.extend_from_slice(&(p.len() as u16).to_be_bytes());
                body.extend_from_slice(p.as_bytes());
            }
        }
        let mut p = vec![0x10, body.len() as u8];
        p.extend_from_slice(&body);
        super::super::connect::read(&mut &p[..], 1000)
            .await
            .expect("valid")
            .0
    }

    #[tokio::test]
    async fn decisions() {
        let auth: MqttAuthenticator = Arc::new(|u, p| u == "LKIAKEY" && p == "secret");
        let anonymous = connect(None).await;
        assert_eq!(
            decide(None, &anonymous, false).await,
            Ok(Admitted::Anonymous)
        );
        let refused =
            |code| move |r: Result<Admitted, Refusal>| r.expect_err("refused").code == code;
        assert!(refused(5)(decide(Some(&auth), &anonymous, false).await));
        let no_password = connect(Some(("LKIAKEY", None))).await;
        assert!(refused(4)(decide(Some(&auth), &no_password, false).await));
        let wrong = connect(Some(("LKIAKEY", Some("guess")))).await;
        assert!(refused(4)(decide(Some(&auth), &wrong, false).await));
        let right = connect(Some(("LKIAKEY", Some("secret")))).await;
        assert_eq!(
            decide(Some(&auth), &right, false).await,
            Ok(Admitted::Login("LKIAKEY".to_owned()))
        );
        // Without authentication a login is not checked.
        assert_eq!(decide(None, &wrong, false).await, Ok(Admitted::Anonymous));
        // A client certificate stands for a login.
        assert_eq!(
            decide(Some(&auth), &anonymous, true).await,
            Ok(Admitted::Certificate)
        );
    }

    #[test]
    fn refusals_are_logged_twenty_a_minute_then_counted() {
        let log = RefusalLog::new();
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(log.admit(t0), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(log.admit(t0 + Duration::from_secs(30)), None);
        }
        assert_eq!(log.admit(t0 + Duration::from_secs(61)), Some(5));
        assert_eq!(log.admit(t0 + Duration::from_secs(62)), Some(0));
    }

    #[test]
    fn long_names_are_cut_for_the_log() {
        assert_eq!(short("abc"), "abc");
        assert_eq!(short(&"é".repeat(100)).chars().count(), 64);
    }
}
