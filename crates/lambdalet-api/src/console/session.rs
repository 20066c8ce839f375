//! Signing in to the web console. A browser cannot sign requests with SigV4, so the console's
//! login form takes an access key id and its secret once, checks them, and sets a cookie
//! `lambdalet_console=<key id>.<expiry>.<HMAC under the secret>`: HttpOnly, SameSite=Lax (a
//! link from elsewhere opens the console signed in; other sites' requests that change
//! something do not carry it), twelve hours. Every request that carries it acts as the key's principal, with exactly the
//! rights a signed request of that key has. Requests that change something must also carry
//! `X-Lambdalet-Console: 1` (the console's script sets it; a form or image on another site
//! cannot), so a session cannot be used across sites.

use http::HeaderMap;
use lambdalet_control::Control;
use lambdalet_core::Principal;

/// The cookie's name.
pub const COOKIE: &str = "lambdalet_console";
/// The header a cookie-authenticated change must carry.
pub const CSRF_HEADER: &str = "x-lambdalet-console";
/// How long a session lasts, in seconds.
pub const LIFETIME_SECS: u64 = 12 * 3600;

/// The cookie value of a new session of `key_id` (made by the console's login form).
#[cfg(feature = "console")]
pub fn issue(key_id: &str, secret: &str, now_secs: u64) -> String {
    let expires = now_secs + LIFETIME_SECS;
    let mac = lambdalet_auth::console_session_mac(secret, key_id, expires);
    format!("{key_id}.{expires}.{mac}")
}

/// The session cookie's value, if the request has one.
pub fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

/// Who a session cookie stands for: `None` if it is malformed, expired, forged, or its key is
/// gone.
pub fn verify(control: &Control, value: &str, now_secs: u64) -> Option<Principal> {
    let mut parts = value.splitn(3, '.');
    let (key_id, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
    let expires: u64 = expires.parse().ok()?;
    if expires <= now_secs || expires > now_secs + LIFETIME_SECS {
        return None;
    }
    let (secret, principal) = control.secret_of(key_id)?;
    let expected = lambdalet_auth::console_session_mac(&secret, key_id, expires);
    constant_time_eq(expected.as_bytes(), mac.as_bytes()).then_some(principal)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Set-Cookie` value of a new session (`value`) or of signing out (`None`).
#[cfg(feature = "console")]
pub fn set_cookie(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{COOKIE}={v}; Path=/; Max-Age={LIFETIME_SECS}; HttpOnly; SameSite=Lax"),
        None => format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; lambdalet_console=K.2.m; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_of(&h), Some("K.2.m"));
        assert_eq!(cookie_of(&HeaderMap::new()), None);
    }

    #[test]
    #[cfg(feature = "console")]
    fn a_session_value_names_its_key_and_expiry() {
        let v = issue("LKIAXYZ", "secret", 1000);
        let parts: Vec<&str> = v.splitn(3, '.').collect();
        assert_eq!(parts[0], "LKIAXYZ");
        assert_eq!(parts[1], (1000 + LIFETIME_SECS).to_string());
        assert_eq!(
            parts[2],
            lambdalet_auth::console_session_mac("secret", "LKIAXYZ", 1000 + LIFETIME_SECS)
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
