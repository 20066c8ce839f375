//! What a function returns, as the HTTP response a function URL sends, and the answers the
//! URL listener gives itself (not found, forbidden, throttled, function error).
//!
//! A JSON object with `statusCode` is a response: `statusCode`, `headers`, `cookies` (each
//! its own `Set-Cookie`), `body` (base64-decoded when `isBase64Encoded`). Any other JSON (an
//! object without `statusCode`, a string, a number) is the body of a 200 with
//! `content-type: application/json`, exactly as the function wrote it. Something that is not
//! JSON, or a response Lambda could not map, is a 502, as a function error is.

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// The content type of a streamed function's HTTP response (`awslambda.HttpResponseStream`):
/// a JSON prelude (`statusCode`, `headers`, `cookies`), 8 NUL bytes, then the body.
pub(crate) const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// The response for a function's (successful) result.
pub(crate) fn from_result(payload: &Bytes) -> Result<Response, &'static str> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|_| "the function's response is not JSON")?;
    let Some(obj) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return Ok(plain(StatusCode::OK, "application/json", payload.clone()));
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if obj.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| "body is not base64 though isBase64Encoded is true")?
                .into()
        }
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    respond(obj, Body::from(body))
}

/// The response for a streamed function's whole output in [`HTTP_INTEGRATION`] form.
pub(crate) fn from_http_integration(payload: &Bytes) -> Result<Response, &'static str> {
    let at = payload
        .windows(8)
        .position(|w| w == [0u8; 8])
        .ok_or("no end of the HTTP response prelude (8 NUL bytes)")?;
    from_prelude(&payload[..at], Body::from(payload.slice(at + 8..)))
}

/// The response an HTTP integration prelude (`statusCode`, 200 if absent; `headers`;
/// `cookies`) describes, with `body`.
pub(crate) fn from_prelude(prelude: &[u8], body: Body) -> Result<Response, &'static str> {
    let mut prelude: Map<String, Value> =
        serde_json::from_slice(prelude).map_err(|_| "the prelude is not a JSON object")?;
    prelude
        .entry("statusCode")
        .or_insert_with(|| Value::from(200));
    respond(&prelude, body)
}

/// Status, headers and cookies of a response object, with `body`.
fn respond(obj: &Map<String, Value>, body: Body) -> Result<Response, &'static str> {
    let status = match &obj["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())
    .filter(|s| s.as_u16() >= 100)
    .ok_or("statusCode is not an HTTP status code")?;
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(Value::Object(headers)) = obj.get("headers") {
        for (name, value) in headers {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => continue,
            };
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            // The connection's framing is the listener's; cookies come from `cookies`.
            if is_hop_by_hop(&name) || name == http::header::SET_COOKIE {
                continue;
            }
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            if let Ok(v) = HeaderValue::from_str(c) {
                h.append(http::header::SET_COOKIE, v);
            }
        }
    }
    if !h.contains_key(http::header::CONTENT_TYPE) {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(resp)
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    use http::header::{CONNECTION, CONTENT_LENGTH, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
    [
        CONNECTION,
        CONTENT_LENGTH,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

/// A response with a body and a content type.
pub(crate) fn plain(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}

/// An answer of the URL listener itself: `{"Message": ...}` and `x-amzn-ErrorType`.
pub(crate) fn message(status: StatusCode, error_type: &'static str, text: &str) -> Response {
    let body = serde_json::json!({ "Message": text }).to_string();
    let mut resp = plain(status, "application/json", Bytes::from(body));
    resp.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    resp
}

/// 502 for a function that failed or answered something Lambda cannot map.
pub(crate) fn function_error() -> Response {
    plain(
        StatusCode::BAD_GATEWAY,
        "application/json",
        Bytes::from_static(b"Internal Server Error"),
    )
}

/// 403 as AWS answers a request it does not authorize.
pub(crate) fn forbidden() -> Response {
    message(StatusCode::FORBIDDEN, "AccessDeniedException", "Forbidden")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn parts(payload: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let r = from_result(&Bytes::from(payload.to_owned())).expect("maps");
        let (p, b) = r.into_parts();
        let body = b.collect().await.expect("body").to_bytes().to_vec();
        (p.status, p.headers, body)
    }

    #[tokio::test]
    async fn responses_map_as_lambda_maps_them() {
        let (s, h, b) = parts(
            r#"{"statusCode":201,"headers":{"X-Custom":"v","Content-Length":"99","N":5},"cookies":["a=1; Max-Age=5","b=2"],"body":"hi"}"#,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(h["x-custom"], "v");
        assert_eq!(h["n"], "5");
        assert!(h.get("content-length").is_none());
        assert_eq!(h["content-type"], "application/json");
        let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Max-Age=5", "b=2"]);
        assert_eq!(b, b"hi");

        let (s, h, b) =
            parts(r#"{"statusCode":200,"isBase64Encoded":true,"body":"AJ+S","headers":{"content-type":"image/png"}}"#)
                .await;
        assert_eq!((s, b.as_slice()), (StatusCode::OK, &[0u8, 159, 146][..]));
        assert_eq!(h["content-type"], "image/png");

        for bare in [r#""Hello""#, "42", r#"{"message":"hi"}"#] {
            let (s, h, b) = parts(bare).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(h["content-type"], "application/json");
            assert_eq!(b, bare.as_bytes(), "verbatim");
        }
    }

    #[tokio::test]
    async fn a_streamed_http_response_splits_at_its_prelude() {
        let mut raw =
            br#"{"statusCode":202,"headers":{"content-type":"text/plain"},"cookies":["s=1"]}"#
                .to_vec();
        raw.extend_from_slice(&[0; 8]);
        raw.extend_from_slice(b"streamed\0body");
        let r = from_http_integration(&Bytes::from(raw)).expect("maps");
        let (p, b) = r.into_parts();
        assert_eq!(p.status, StatusCode::ACCEPTED);
        assert_eq!(p.headers["content-type"], "text/plain");
        assert_eq!(p.headers["set-cookie"], "s=1");
        let body = b.collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"streamed\0body");
        assert!(from_http_integration(&Bytes::from_static(b"{}")).is_err());
    }

    #[test]
    fn unmappable_results_are_refused() {
        for bad in [
            "not json",
            r#"{"statusCode":"abc"}"#,
            r#"{"statusCode":99}"#,
            r#"{"statusCode":200,"isBase64Encoded":true,"body":"%%%"}"#,
        ] {
            assert!(from_result(&Bytes::from(bad)).is_err(), "{bad}");
        }
    }
}
