//! Cross-origin resource sharing for a URL with `Cors` configured, as Lambda does it: a
//! preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
//! without invoking the function, and every response to an allowed origin gets the
//! configured `Access-Control-*` headers, which replace any the function set. A URL without
//! `Cors` leaves all of that to the function (an `OPTIONS` request invokes it).

use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use lambdalet_control::Cors;

/// Whether `parts` is a CORS preflight request.
pub(crate) fn is_preflight(parts: &Parts) -> bool {
    parts.method == Method::OPTIONS
        && parts.headers.contains_key(http::header::ORIGIN)
        && parts
            .headers
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The `Access-Control-Allow-Origin` for the request's origin, if it is allowed.
fn allowed_origin(cors: &Cors, request: &HeaderMap) -> Option<HeaderValue> {
    let origin = request.get(http::header::ORIGIN)?;
    let origins = cors.allow_origins.as_deref().unwrap_or_default();
    let credentials = cors.allow_credentials == Some(true);
    if origins.iter().any(|o| o == "*") {
        // A browser refuses `*` with credentials: the origin itself is named then.
        return Some(if credentials {
            origin.clone()
        } else {
            HeaderValue::from_static("*")
        });
    }
    let o = origin.to_str().ok()?;
    origins
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(o))
        .then(|| origin.clone())
}

fn joined(list: Option<&Vec<String>>) -> Option<HeaderValue> {
    let list = list.filter(|l| !l.is_empty())?;
    HeaderValue::from_str(&list.join(",")).ok()
}

/// The answer to a preflight: 200, with the configured headers when the origin is allowed.
pub(crate) fn preflight(cors: &Cors, parts: &Parts) -> Response {
    let mut resp = super::response::plain(StatusCode::OK, "application/json", Bytes::new());
    let h = resp.headers_mut();
    h.insert(http::header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = allowed_origin(cors, &parts.headers) else {
        return resp;
    };
    use http::header as n;
    h.insert(n::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    if let Some(v) = joined(cors.allow_methods.as_ref()) {
        h.insert(n::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if let Some(v) = joined(cors.allow_headers.as_ref()) {
        h.insert(n::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    if let Some(v) = joined(cors.expose_headers.as_ref()) {
        h.insert(n::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    if let Some(age) = cors.max_age {
        h.insert(n::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    if cors.allow_credentials == Some(true) {
        h.insert(
            n::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    resp
}

/// Adds the configured headers to the response of an actual (not preflight) request.
pub(crate) fn decorate(cors: &Cors, request: &HeaderMap, resp: &mut Response) {
    let Some(origin) = allowed_origin(cors, request) else {
        return;
    };
    use http::header as n;
    let h = resp.headers_mut();
    h.insert(n::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(n::VARY, HeaderValue::from_static("Origin"));
    if let Some(v) = joined(cors.expose_headers.as_ref()) {
        h.insert(n::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    if cors.allow_credentials == Some(true) {
        h.insert(
            n::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: &str) -> Parts {
        http::Request::builder()
            .method("OPTIONS")
            .uri("/")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(())
            .expect("request")
            .into_parts()
            .0
    }

    fn cors(origins: &[&str], credentials: bool) -> Cors {
        Cors {
            allow_origins: Some(origins.iter().map(|s| (*s).to_owned()).collect()),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_headers: Some(vec!["x-a".into(), "content-type".into()]),
            max_age: Some(300),
            allow_credentials: Some(credentials),
            ..Cors::default()
        }
    }

    #[test]
    fn preflights_name_allowed_origins_only() {
        let p = request("https://app.example");
        assert!(is_preflight(&p));
        let r = preflight(&cors(&["https://app.example"], false), &p);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert_eq!(h["access-control-allow-methods"], "GET,POST");
        assert_eq!(h["access-control-allow-headers"], "x-a,content-type");
        assert_eq!(h["access-control-max-age"], "300");
        assert!(h.get("access-control-allow-credentials").is_none());

        let r = preflight(&cors(&["https://other.example"], false), &p);
        assert!(r.headers().get("access-control-allow-origin").is_none());

        let r = preflight(&cors(&["*"], false), &p);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let r = preflight(&cors(&["*"], true), &p);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example"
        );
        assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    }
}
