//! What stops a web page from using lambdalet's API through a visitor's browser, and what a
//! console session may do: cross-site changes and DNS-rebound requests are refused; a session
//! cookie acts as its key, changes with it need `X-Lambdalet-Console: 1`, a forged or signed-out
//! cookie is nothing. Plain HTTP with curl: the browser's part is in `console.rs`.

use crate::auth::Key;
use crate::harness::{Daemon, curl, fixture};

fn invoke_path(d: &Daemon, name: &str) -> String {
    format!("{}/2015-03-31/functions/{name}/invocations", d.url)
}

#[test]
fn without_auth_other_sites_cannot_change_things_or_read_through_a_rebound_name() {
    let d = Daemon::start();
    d.deploy_python(&fixture("py-basic"), "guarded", "app.handler", &[]);
    let host = d.url.trim_start_matches("http://").to_owned();

    // A page of another site posting to the API: refused, and the function never runs.
    let r = curl(
        "POST",
        &invoke_path(&d, "guarded"),
        Some(b"{}"),
        &[
            ("Origin", "http://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.error_type(), "AccessDeniedException");
    assert!(r.message().contains("another site"), "{}", r.text());
    assert!(d.logs("guarded").is_empty(), "the function ran");

    // The console's own page (same origin) may.
    let origin = format!("http://{host}");
    let r = curl(
        "POST",
        &invoke_path(&d, "guarded"),
        Some(b"{}"),
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // A cross-site GET is harmless (the page cannot read the answer) and allowed: a link to
    // the console from elsewhere opens it.
    let r = curl(
        "GET",
        &format!("{}/console", d.url),
        None,
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "navigate"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // A browser that reached the daemon under another name (DNS rebinding) reads nothing.
    let rebound = format!("evil.example:{}", host.rsplit(':').next().unwrap_or("9001"));
    let r = curl(
        "GET",
        &format!("{}/2015-03-31/functions", d.url),
        None,
        &[("Host", &rebound), ("Sec-Fetch-Mode", "cors")],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.message().contains("127.0.0.1"), "{}", r.text());
    // Tools send no browser headers and may use any name.
    let r = curl(
        "GET",
        &format!("{}/2015-03-31/functions", d.url),
        None,
        &[("Host", &rebound)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A daemon with `--auth sigv4`, a function, and an administrator's key.
fn signed_daemon() -> (Daemon, Key) {
    let tmp = tempfile::tempdir().expect("tempdir");
    Daemon::start_in(tmp.path()).stop();
    let key = crate::auth::new_key(tmp.path());
    let mut d = Daemon::start_with(tmp.path(), "serve", &["--auth", "sigv4"]);
    d.keep(tmp);
    (d, key)
}

/// The cookie header, with more headers.
fn with<'a>(cookie: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![("Cookie", cookie)];
    h.extend_from_slice(extra);
    h
}

fn login(d: &Daemon, body: &str) -> crate::harness::HttpResponse {
    curl(
        "POST",
        &format!("{}/console/login", d.url),
        Some(body.as_bytes()),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
}

#[test]
fn a_console_session_acts_as_its_key_and_changes_need_the_consoles_header() {
    let (d, key) = signed_daemon();

    // A wrong secret: the form again, saying so, as a page (not an API error).
    let r = login(
        &d,
        &format!("key_id={}&secret=wrong&next=%2Fconsole", key.id),
    );
    assert_eq!(r.status, 401);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{}",
        r.head
    );
    assert!(r.text().contains("id=\"login-error\""), "{}", r.text());
    assert!(r.header("set-cookie").is_none());

    // The right one: a cookie, and back to the page asked for (only a console page).
    let r = login(
        &d,
        &format!(
            "key_id={}&secret={}&next=https%3A%2F%2Fevil.example%2F",
            key.id, key.secret
        ),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/console"));
    let set = r.header("set-cookie").expect("a session cookie").to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap_or_default().to_owned();
    assert!(cookie.starts_with("lambdalet_console="), "{cookie}");

    // The cookie reads what the key may read, and the console's pages.
    let r = curl(
        "GET",
        &format!("{}/2015-03-31/functions", d.url),
        None,
        &with(&cookie, &[]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = curl(
        "GET",
        &format!("{}/console", d.url),
        None,
        &with(&cookie, &[]),
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Sign out"), "{}", r.text());

    // A change with the cookie alone (what a form on another site could send) is refused;
    // with the console's header it goes through.
    let create = format!("{}/2015-03-31/functions/nobody/invocations", d.url);
    let r = curl("POST", &create, Some(b"{}"), &with(&cookie, &[]));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.message().contains("X-Lambdalet-Console"), "{}", r.text());
    let r = curl(
        "POST",
        &create,
        Some(b"{}"),
        &with(&cookie, &[("X-Lambdalet-Console", "1")]),
    );
    assert_eq!(r.status, 404, "past the guard to the API: {}", r.text());
    assert_eq!(r.error_type(), "ResourceNotFoundException");

    // A forged cookie (another MAC) is no session.
    let forged = format!("{}x", &cookie[..cookie.len() - 1]);
    let r = curl(
        "GET",
        &format!("{}/2015-03-31/functions", d.url),
        None,
        &[("Cookie", forged.as_str())],
    );
    assert_eq!(r.status, 403, "{}", r.text());

    // Signing out clears the cookie in the browser.
    let r = curl(
        "POST",
        &format!("{}/console/logout", d.url),
        None,
        &with(&cookie, &[]),
    );
    assert_eq!(r.status, 303);
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "{}",
        r.head
    );
}
