//! The HTTP side of the Extensions API (`/2020-01-01/extension/...`), the Telemetry API
//! (`PUT /2022-07-01/telemetry`) and the Logs API (`PUT /2020-08-15/logs`), served on the
//! sandbox's Runtime API listener next to the Runtime API, with Lambda's headers, status codes
//! and error types.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Deserialize;

use super::extensions::{ExtNext, ExtRefusal, Extensions};
use crate::telemetry::{Telemetry, subscription};

type Reply = Response<Full<Bytes>>;

const ID_HEADER: &str = "lambda-extension-identifier";
/// Largest request body these APIs read (registrations, error reports, subscriptions).
const MAX_BODY: usize = 64 * 1024;

/// What a sandbox's Runtime API listener serves besides the Runtime API.
pub struct ExtApis {
    pub extensions: Arc<Extensions>,
    pub telemetry: Arc<Telemetry>,
}

/// Whether `path` belongs to these APIs.
pub(super) fn owns(path: &str) -> bool {
    path.starts_with("/2020-01-01/")
        || path.starts_with("/2022-07-01/")
        || path.starts_with("/2020-08-15/")
}

pub(super) async fn handle(apis: &ExtApis, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/2020-01-01/extension/register") => register(apis, req).await,
        (&Method::GET, "/2020-01-01/extension/event/next") => next(apis, &req).await,
        (
            &Method::POST,
            "/2020-01-01/extension/init/error" | "/2020-01-01/extension/exit/error",
        ) => report_error(apis, req).await,
        (&Method::PUT, "/2022-07-01/telemetry") => subscribe(apis, req, false).await,
        (&Method::PUT, "/2020-08-15/logs") => subscribe(apis, req, true).await,
        _ => error(
            StatusCode::NOT_FOUND,
            "InvalidRequestFormat",
            &format!(
                "{} {path} is not an Extensions, Telemetry or Logs API call this server provides",
                req.method()
            ),
        ),
    }
}

#[derive(Deserialize)]
struct RegisterBody {
    #[serde(default)]
    events: Vec<String>,
}

async fn register(apis: &ExtApis, req: Request<Incoming>) -> Reply {
    let name = header(&req, "lambda-extension-name").unwrap_or_default();
    let account = header(&req, "lambda-extension-accept-feature")
        .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"));
    let Some(body) = read(req).await else {
        return too_large();
    };
    let parsed: RegisterBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::FORBIDDEN,
                "InvalidRequestFormat",
                &e.to_string(),
            );
        }
    };
    let id = match apis.extensions.register(&name, &parsed.events) {
        Ok(id) => id,
        Err(r) => return refused(r),
    };
    tracing::debug!(extension = %name, events = ?parsed.events, "extension.registered");
    let meta = &apis.extensions.meta;
    let mut out = serde_json::json!({
        "functionName": meta.function_name,
        "functionVersion": meta.function_version,
        "handler": meta.handler,
    });
    if account {
        out["accountId"] = serde_json::Value::String(meta.account_id.clone());
    }
    let mut resp = json(StatusCode::OK, out.to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(ID_HEADER, v);
    }
    resp
}

/// The extension's identifier, checked as Lambda checks it.
fn identifier<B>(req: &Request<B>) -> Result<String, Box<Reply>> {
    let Some(id) = req.headers().get(ID_HEADER) else {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        )));
    };
    match id.to_str().ok().and_then(|s| uuid::Uuid::parse_str(s).ok()) {
        Some(u) => Ok(u.to_string()),
        None => Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "Extension.InvalidExtensionIdentifier",
            "Invalid Lambda-Extension-Identifier",
        ))),
    }
}

async fn next(apis: &ExtApis, req: &Request<Incoming>) -> Reply {
    let id = match identifier(req) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let event = match apis.extensions.next(&id) {
        Ok(ExtNext::Now(e)) => e,
        Ok(ExtNext::Later(rx)) => match rx.await {
            Ok(e) => e,
            Err(_) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "the extension has no more events: the sandbox is stopping",
                );
            }
        },
        Err(r) => return refused(r),
    };
    let mut resp = Response::new(Full::new(event));
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("lambda-extension-event-identifier", v);
    }
    resp
}

async fn report_error(apis: &ExtApis, req: Request<Incoming>) -> Reply {
    let id = match identifier(&req) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let Some(error_type) = header(&req, "lambda-extension-function-error-type") else {
        return error(
            StatusCode::FORBIDDEN,
            "Extension.MissingHeader",
            "Missing Lambda-Extension-Function-Error-Type header",
        );
    };
    if read(req).await.is_none() {
        return too_large();
    }
    match apis.extensions.report_error(&id, &error_type) {
        Ok(()) => json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned()),
        Err(r) => refused(r),
    }
}

async fn subscribe(apis: &ExtApis, req: Request<Incoming>, logs: bool) -> Reply {
    let id = match identifier(&req) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let Some(name) = apis.extensions.name_of(&id) else {
        return error(
            StatusCode::FORBIDDEN,
            "Extension.UnknownExtensionIdentifier",
            &format!("Unknown extension {id}"),
        );
    };
    let Some(body) = read(req).await else {
        return too_large();
    };
    if !apis.extensions.in_init() {
        let (t, m) = if logs {
            ("Logs.SubscriptionClosed", "Logs API subscription is closed")
        } else {
            (
                "Telemetry.SubscriptionClosed",
                "Telemetry API subscription is closed",
            )
        };
        return error(
            StatusCode::FORBIDDEN,
            t,
            &format!("{m}: extensions subscribe during init"),
        );
    }
    let result = subscription::parse(&body, logs).and_then(|s| apis.telemetry.subscribe(&name, s));
    match result {
        Ok(()) => {
            tracing::debug!(extension = %name, logs, "telemetry.subscribed");
            let mut r = Response::new(Full::new(Bytes::from_static(b"OK")));
            *r.status_mut() = StatusCode::OK;
            r
        }
        Err(subscription::Invalid(message)) => {
            error(StatusCode::BAD_REQUEST, "ValidationError", &message)
        }
    }
}

fn header<B>(req: &Request<B>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn read(req: Request<Incoming>) -> Option<Bytes> {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

fn too_large() -> Reply {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("the request body is over {MAX_BODY} bytes (or was cut short)"),
    )
}

fn refused(r: ExtRefusal) -> Reply {
    error(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN),
        r.error_type,
        &r.message,
    )
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    json(status, body.to_string())
}

fn json(status: StatusCode, body: String) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}
