//! What the API asks of an unsigned request, now that a browser may be the one sending it.
//!
//! - A console session cookie stands for its key (see [`super::session`]); a change made with
//!   it must carry `X-Lambdalet-Console: 1` and come from the daemon's own origin.
//! - Without one, an unsigned request acts as an administrator only with `--auth none`. A web
//!   page the user happens to visit could send such requests to `127.0.0.1:9001` from the
//!   user's browser, so requests that change something and that a browser marks as coming
//!   from another site (`Origin` of another host, `Sec-Fetch-Site: cross-site` or
//!   `same-site`) are refused (a page of another site cannot read what a `GET` returns), and
//!   so are browser requests whose `Host` is a name other than `localhost` (a DNS-rebinding
//!   page reaches the daemon under its own name, and could read the answers). The AWS CLI, the SDKs and curl send none of these
//!   headers and are not affected.

use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode};
use lambdalet_core::{ErrorCode, Principal};

use super::session;
use crate::error::ApiError;
use crate::state::ApiState;

/// What an unsigned request turned out to be.
pub(crate) enum Unsigned {
    /// A console session of this principal.
    Session(Principal),
    /// No session: an anonymous request (an administrator with `--auth none`).
    Anonymous,
    /// Refused, with this answer.
    Refused(Response),
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn refused(message: &str) -> Response {
    ApiError::new(ErrorCode::AccessDenied, message).into_response()
}

/// Whether a browser says the request comes from a page of another origin.
pub(crate) fn cross_site(h: &HeaderMap) -> bool {
    if matches!(
        header(h, "sec-fetch-site"),
        Some("cross-site" | "same-site")
    ) {
        return true;
    }
    match (header(h, "origin"), header(h, "host")) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            !authority.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Whether a browser reached the daemon under a host name other than `localhost` (or an
/// address): what a DNS-rebinding page does.
fn rebound(h: &HeaderMap) -> bool {
    let from_browser = h.contains_key("sec-fetch-mode") || h.contains_key("origin");
    let Some(host) = header(h, "host") else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    let literal = name.parse::<std::net::IpAddr>().is_ok();
    let local = name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost");
    from_browser && !literal && !local
}

fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Sorts out an unsigned request.
pub(crate) fn unsigned(s: &ApiState, parts: &Parts) -> Unsigned {
    let h = &parts.headers;
    if let Some(principal) =
        session::cookie_of(h).and_then(|v| session::verify(&s.control, v, now_secs()))
    {
        if !safe(&parts.method) && (header(h, session::CSRF_HEADER) != Some("1") || cross_site(h)) {
            return Unsigned::Refused(refused(
                "a console session may change things only from the console's own pages (the request lacks X-Lambdalet-Console: 1 or comes from another site)",
            ));
        }
        return Unsigned::Session(principal);
    }
    if !safe(&parts.method) && cross_site(h) {
        return Unsigned::Refused(refused(
            "refused a request a browser sent from another site: lambdalet's API takes unsigned requests only from the host's own tools and the console's own pages",
        ));
    }
    if rebound(h) {
        return Unsigned::Refused(refused(
            "refused a browser request addressed to a host name: open the console at http://127.0.0.1:<port>/console or http://localhost:<port>/console, or run the daemon with --auth sigv4 and sign in",
        ));
    }
    Unsigned::Anonymous
}

/// Where an anonymous browser asking for a console page goes when the API needs signatures:
/// the login form, coming back to the page after.
pub(crate) fn login_redirect(parts: &Parts) -> Option<Response> {
    let path = parts.uri.path();
    let page = path == "/console" || path.starts_with("/console/");
    if !page || parts.method != Method::GET {
        return None;
    }
    let next = percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC);
    Some(
        (
            StatusCode::SEE_OTHER,
            [(
                http::header::LOCATION,
                format!("/console/login?next={next}"),
            )],
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn tools_without_browser_headers_pass() {
        let h = headers(&[("host", "device.lan:9001")]);
        assert!(!cross_site(&h));
        assert!(!rebound(&h));
    }

    #[test]
    fn another_origin_is_cross_site() {
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:9001"),
            ("origin", "http://evil.example")
        ])));
        assert!(cross_site(&headers(&[("origin", "null")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:9001"),
            ("origin", "http://127.0.0.1:9001"),
            ("sec-fetch-site", "same-origin")
        ])));
    }

    #[test]
    fn a_browser_on_a_host_name_is_rebinding_but_not_on_an_address() {
        let b = |host: &'static str| headers(&[("host", host), ("sec-fetch-mode", "cors")]);
        assert!(rebound(&b("evil.example:9001")));
        assert!(!rebound(&b("127.0.0.1:9001")));
        assert!(!rebound(&b("[::1]:9001")));
        assert!(!rebound(&b("localhost:9001")));
        assert!(!rebound(&b("fn.lambda-url.us-east-1.localhost")));
    }
}
