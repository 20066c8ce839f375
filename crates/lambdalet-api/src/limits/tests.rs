//! The guard on a small router: refusals before the handler, axum's own answers reshaped,
//! everything else untouched.

#![allow(
    clippy::unwrap_used,
    reason = "a failing unwrap is how a test reports failure"
)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::routing::{get, post};
use bytes::Bytes;
use http::HeaderMap;

use super::*;

fn app() -> Router {
    Router::new()
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/named/{name}",
            get(|Path(name): Path<String>| async move { name }),
        )
        .route(
            "/count",
            get(|Query(q): Query<HashMap<String, u32>>| async move { format!("{q:?}") }),
        )
        .route(
            "/conflict",
            get(|| async { ApiError::new(ErrorCode::ResourceConflict, "taken") }),
        )
        .layer(DefaultBodyLimit::max(16))
        .layer(axum::middleware::from_fn(guard))
}

async fn call(req: Request) -> (StatusCode, HeaderMap, Bytes) {
    let response = tower_service::Service::call(&mut app(), req).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn request(method: &str, uri: &str, body: impl Into<Body>) -> Request {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .body(body.into())
        .unwrap()
}

/// Asserts AWS's error shape with `status` and `error_type`; returns the message.
async fn refused(req: Request, status: StatusCode, error_type: &str) -> String {
    let (got, headers, body) = call(req).await;
    assert_eq!(got, status, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["x-amzn-errortype"], error_type);
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["errorType"], error_type);
    assert_eq!(json["Type"], "User");
    assert_eq!(json["message"], json["errorMessage"]);
    json["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_long_uri_and_big_headers_are_refused_before_the_handler() {
    let uri = format!("/named/{}", "a".repeat(MAX_URI_BYTES));
    let msg = refused(
        request("GET", &uri, Body::empty()),
        StatusCode::URI_TOO_LONG,
        "RequestTooLargeException",
    )
    .await;
    assert!(msg.contains(&MAX_URI_BYTES.to_string()), "{msg}");

    let mut req = request("GET", "/named/x", Body::empty());
    for i in 0..20 {
        let value = http::HeaderValue::from_str(&"v".repeat(4000)).unwrap();
        req.headers_mut().insert(
            http::HeaderName::try_from(format!("x-big-{i}")).unwrap(),
            value,
        );
    }
    let msg = refused(
        req,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "RequestTooLargeException",
    )
    .await;
    assert!(msg.contains(&MAX_HEADER_BYTES.to_string()), "{msg}");
}

#[tokio::test]
async fn bodies_over_the_limit_get_a_413_declared_or_not() {
    let mut req = request("POST", "/echo", Body::empty());
    req.headers_mut()
        .insert(header::CONTENT_LENGTH, (MAX_BODY_BYTES + 1).into());
    let msg = refused(
        req,
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLargeException",
    )
    .await;
    assert!(msg.contains(&(MAX_BODY_BYTES + 1).to_string()), "{msg}");

    // Over the router's own limit while being read: axum's 413, reshaped.
    let stream = http_body_util::StreamBody::new(tokio_stream::iter((0..4).map(|_| {
        Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from_static(b"0123456789")))
    })));
    refused(
        request("POST", "/echo", Body::new(stream)),
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLargeException",
    )
    .await;
}

#[tokio::test]
async fn axum_rejections_get_the_aws_shape_with_their_status() {
    let msg = refused(
        request("GET", "/named/%FF", Body::empty()),
        StatusCode::BAD_REQUEST,
        "InvalidRequestContentException",
    )
    .await;
    assert!(!msg.is_empty());
    refused(
        request("GET", "/count?n=many", Body::empty()),
        StatusCode::BAD_REQUEST,
        "InvalidRequestContentException",
    )
    .await;
    let (status, headers, _) = call(request("GET", "/echo", Body::empty())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    let msg = refused(
        request("GET", "/echo", Body::empty()),
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequestContentException",
    )
    .await;
    assert!(msg.starts_with("GET /echo"), "{msg}");
}

#[tokio::test]
async fn answers_of_handlers_pass_unchanged() {
    let (status, headers, body) = call(request("GET", "/conflict", Body::empty())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers["x-amzn-errortype"], "ResourceConflictException");
    assert!(String::from_utf8_lossy(&body).contains("taken"));
    let (status, _, body) = call(request("POST", "/echo", "hello")).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
}
