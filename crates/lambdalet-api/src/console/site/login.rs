//! `/console/login` (the form, and signing in with an access key) and `/console/logout`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use std::collections::HashMap;

use super::html::{Nav, esc, page};
use crate::auth::AuthMode;
use crate::console::session;
use crate::state::ApiState;

/// Where to go after signing in: a console page, nothing else (no open redirect).
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n) if (n == "/console" || n.starts_with("/console/")) && !n.contains("//") => {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

fn form(s: &ApiState, next: &str, error: Option<&str>) -> Response {
    let note = if s.auth == AuthMode::None {
        "<p class=\"muted\">This daemon takes unsigned requests here (<code>--auth none</code>): the console needs no sign-in. <a href=\"/console\">Open it</a>.</p>"
    } else {
        ""
    };
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"login-error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in</h1>
{note}{error}
<form method="post" action="/console/login" class="login">
<input type="hidden" name="next" value="{next}">
<label for="login-key-id">Access key id</label>
<input id="login-key-id" name="key_id" autocomplete="username" required>
<label for="login-secret">Secret access key</label>
<input id="login-secret" name="secret" type="password" autocomplete="current-password" required>
<button id="login-submit" type="submit">Sign in</button>
</form>
<p class="muted">A key from <code>lambdalet keys create</code> (saved in <code>~/.config/lambdalet/keys</code> on the machine that made it). The console then has exactly that key's rights.</p>"#,
        next = esc(next),
    );
    page("Sign in", Nav::None, &body, false)
}

/// `GET /console/login?next=PAGE`.
pub async fn show(State(s): State<ApiState>, Query(q): Query<HashMap<String, String>>) -> Response {
    form(&s, &next_page(q.get("next").map(String::as_str)), None)
}

/// The fields of a form body (`application/x-www-form-urlencoded`).
fn fields(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |x: &str| {
                percent_encoding::percent_decode_str(&x.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (!k.is_empty()).then(|| (decode(k), decode(v)))
        })
        .collect()
}

/// `POST /console/login`: checks the key and sets the session cookie.
pub async fn submit(State(s): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    if crate::console::guard::cross_site(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "refused a sign-in sent from another site",
        )
            .into_response();
    }
    let f = fields(&body);
    let next = next_page(f.get("next").map(String::as_str));
    let (key_id, secret) = (
        f.get("key_id").map(|k| k.trim()).unwrap_or_default(),
        f.get("secret").map(|k| k.trim()).unwrap_or_default(),
    );
    if s.control.check_secret(key_id, secret).is_none() {
        tracing::info!(key_id, "console.login_refused");
        let mut r = form(
            &s,
            &next,
            Some("That access key id and secret do not match a key of this daemon."),
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let value = session::issue(key_id, secret, now);
    tracing::info!(key_id, "console.login");
    (
        StatusCode::SEE_OTHER,
        [
            (http::header::SET_COOKIE, session::set_cookie(Some(&value))),
            (http::header::LOCATION, next),
        ],
    )
        .into_response()
}

/// `POST /console/logout`: forgets the session in this browser.
pub async fn logout() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (http::header::SET_COOKIE, session::set_cookie(None)),
            (http::header::LOCATION, "/console/login".to_owned()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_pages_are_followed_after_signing_in() {
        assert_eq!(
            next_page(Some("/console/functions/f")),
            "/console/functions/f"
        );
        assert_eq!(next_page(Some("https://evil.example/")), "/console");
        assert_eq!(next_page(Some("/console//evil.example")), "/console");
        assert_eq!(next_page(None), "/console");
    }

    #[test]
    fn form_fields_are_decoded() {
        let f = fields(b"key_id=LKIA1&secret=a%2Bb+c&next=%2Fconsole");
        assert_eq!(f["key_id"], "LKIA1");
        assert_eq!(f["secret"], "a+b c");
        assert_eq!(f["next"], "/console");
    }
}
