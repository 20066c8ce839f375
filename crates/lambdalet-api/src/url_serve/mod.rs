//! The function URL listener (`--url-listen`): plain HTTP requests to
//! `http://<url-id>.lambda-url.<region>.localhost:<port>/...` (routed by host name) or to
//! `http://<host>:<port>/url/<url-id>/...` (routed by path; the prefix is not part of the
//! path the function sees) become invocations with API Gateway's payload format 2.0 event,
//! and the function's result becomes the HTTP response, as Lambda's function URLs do.
//!
//! Order of checks: the URL exists (else 404), a CORS preflight is answered at once, the body
//! fits (6 MB), an `AWS_IAM` URL's request carries a valid SigV4 signature by a lambdalet key
//! (else 403), the caller may invoke (`Control::url_invoke_permitted`), then the function runs.

mod cors;
mod event;
mod response;
mod streamed;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use lambdalet_control::{Control, FunctionUrl, InvokeMode, UrlAuthType};
use lambdalet_core::limits::MAX_SYNC_PAYLOAD_BYTES;
use lambdalet_core::{FunctionName, FunctionRef, Qualifier};
use lambdalet_invoker::{Invocation, InvocationResult, InvokeError, Invoker};

use self::event::{EventContext, Signer};
use self::response::{forbidden, function_error, message};

/// What the URL listener needs.
#[derive(Clone)]
struct UrlState {
    control: Arc<Control>,
    invoker: Arc<Invoker>,
}

/// Every request to the URL listener goes to one handler, which routes by host and path.
pub fn url_router(control: Arc<Control>, invoker: Arc<Invoker>) -> Router {
    Router::new()
        .fallback(serve)
        .with_state(UrlState { control, invoker })
}

/// Which URL a request is for, and the path its function sees.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    url_id: String,
    raw_path: String,
}

/// The URL a request names: by host `<id>.lambda-url.<region>.<anything>`, else by a path
/// `/url/<id>[/...]`. `Err` for a URL host of another region.
fn route(parts: &Parts, region: &str) -> Result<Option<Target>, String> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    let labels: Vec<&str> = name.split('.').collect();
    let path = parts.uri.path();
    if let [id, "lambda-url", r, ..] = labels[..] {
        if r != region {
            return Err(format!(
                "this lambdalet serves function URLs of region {region}, not {r}: call http://{id}.lambda-url.{region}.localhost/"
            ));
        }
        return Ok(Some(Target {
            url_id: id.to_owned(),
            raw_path: path.to_owned(),
        }));
    }
    let Some(rest) = path.strip_prefix("/url/") else {
        return Ok(None);
    };
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    Ok(Some(Target {
        url_id: id.to_ascii_lowercase(),
        raw_path: format!("/{tail}"),
    }))
}

async fn serve(State(s): State<UrlState>, req: Request) -> Response {
    let request_id = lambdalet_core::ids::new_request_id();
    let (parts, body) = req.into_parts();
    let trace_id = parts
        .headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .map_or_else(new_trace_id, str::to_owned);
    let mut resp = answer(&s, &parts, body, &request_id, &trace_id).await;
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-amzn-requestid", &request_id),
        ("x-amzn-trace-id", &trace_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    resp
}

async fn answer(
    s: &UrlState,
    parts: &Parts,
    body: Body,
    request_id: &str,
    trace_id: &str,
) -> Response {
    let region = &s.control.account().region;
    let target = match route(parts, region) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return not_found(&format!(
                "no function URL at {}: call http://<url-id>.lambda-url.{region}.localhost:<port>/... or http://<host>:<port>/url/<url-id>/... (GetFunctionUrlConfig gives a function's URL)",
                parts.uri.path()
            ));
        }
        Err(e) => return not_found(&e),
    };
    let Some(u) = s.control.function_url_by_id(&target.url_id) else {
        return not_found(&format!(
            "no function URL has the id {}: it may have been deleted (ListFunctionUrlConfigs lists a function's URLs)",
            target.url_id
        ));
    };
    if let Some(c) = &u.cors
        && cors::is_preflight(parts)
    {
        return cors::preflight(c, parts);
    }
    let mut resp = invoke(s, &u, &target, parts, body, request_id, trace_id).await;
    if let Some(c) = &u.cors {
        cors::decorate(c, &parts.headers, &mut resp);
    }
    resp
}

#[allow(
    clippy::too_many_arguments,
    reason = "one request's parts, each used once"
)]
async fn invoke(
    s: &UrlState,
    u: &FunctionUrl,
    target: &Target,
    parts: &Parts,
    body: Body,
    request_id: &str,
    trace_id: &str,
) -> Response {
    let body = match read_body(parts, body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let signer = match u.auth_type {
        UrlAuthType::None => None,
        UrlAuthType::AwsIam => match signer_of(&s.control, parts, &body) {
            Ok(signer) => Some(signer),
            Err(e) => {
                tracing::info!(path = %parts.uri.path(), error_type = e.error_type(), "url.unauthenticated");
                return match e {
                    lambdalet_auth::AuthError::Missing => forbidden(),
                    e => message(
                        StatusCode::FORBIDDEN,
                        "AccessDeniedException",
                        &e.to_string(),
                    ),
                };
            }
        },
    };
    if let Err(e) = s
        .control
        .url_invoke_permitted(u, signer.as_ref().map(|s| &s.principal))
    {
        tracing::info!(function = %u.function, qualifier = %u.qualifier, reason = %e.message, "url.denied");
        return forbidden();
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let event = event::build(
        parts,
        &body,
        &EventContext {
            account: s.control.account(),
            url_id: &u.url_id,
            raw_path: &target.raw_path,
            request_id,
            trace_id,
            peer,
            port: s.control.url_port().unwrap_or_default(),
            signer: signer.as_ref(),
            now: SystemTime::now(),
        },
    );
    let payload = Bytes::from(event.to_string());
    if payload.len() > MAX_SYNC_PAYLOAD_BYTES {
        return too_large(payload.len());
    }
    let Some(invocation) = invocation(s, u, payload, request_id, trace_id) else {
        return not_found(&format!("function {} no longer exists", u.function));
    };
    match u.invoke_mode {
        InvokeMode::ResponseStream => match s.invoker.invoke_stream(invocation).await {
            Ok(stream) => streamed::respond(stream).await,
            Err(e) => refused(u, e),
        },
        InvokeMode::Buffered => match s.invoker.invoke(invocation).await {
            Ok(result) if result.function_error => function_error(),
            Ok(result) => buffered(&result),
            Err(e) => refused(u, e),
        },
    }
}

/// The HTTP response for a whole result.
fn buffered(result: &InvocationResult) -> Response {
    let mapped = if result.content_type == response::HTTP_INTEGRATION {
        response::from_http_integration(&result.payload)
    } else {
        response::from_result(&result.payload)
    };
    mapped.unwrap_or_else(|why| {
        tracing::info!(request_id = %result.request_id, "url.bad_response: {why}");
        function_error()
    })
}

/// The invocation of the function the URL is for; `None` if the function is gone.
fn invocation(
    s: &UrlState,
    u: &FunctionUrl,
    payload: Bytes,
    request_id: &str,
    trace_id: &str,
) -> Option<Invocation> {
    let name = FunctionName::new(&u.function).ok()?;
    let qualifier =
        (u.qualifier != lambdalet_store::LATEST).then(|| Qualifier::Alias(u.qualifier.clone()));
    let resolved = s.control.resolve(&FunctionRef { name, qualifier }).ok()?;
    Some(Invocation {
        target: resolved.version,
        invoked_arn: resolved.invoked_arn,
        payload,
        client_context: None,
        trace_id: Some(trace_id.to_owned()),
        want_log_tail: false,
        request_id: Some(request_id.to_owned()),
    })
}

/// The answer for an invocation that did not run: 429 when throttled, else 502.
fn refused(u: &FunctionUrl, e: InvokeError) -> Response {
    match e {
        InvokeError::Throttled { message: m, .. } => {
            tracing::info!(function = %u.function, "url.throttled: {m}");
            message(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate Exceeded.",
            )
        }
        e => {
            tracing::warn!(function = %u.function, error = %e, "url.invoke_failed");
            function_error()
        }
    }
}

/// The signer of a request to an `AWS_IAM` URL; unsigned or badly signed requests are
/// refused (by any key, whatever `--auth` says for the Lambda API: unknown keys too).
fn signer_of(
    control: &Control,
    parts: &Parts,
    body: &[u8],
) -> Result<Signer, lambdalet_auth::AuthError> {
    let principal = match crate::auth::verify(control, parts, body) {
        Ok(p) => p,
        Err(crate::auth::Refused::Unknown(e) | crate::auth::Refused::Bad(e)) => return Err(e),
    };
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let credential = lambdalet_auth::credential(&lambdalet_auth::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body_sha256: "",
    })?;
    Ok(Signer {
        access_key_id: credential.access_key_id,
        principal,
    })
}

/// The body, refusing more than 6 MB without reading it all.
async fn read_body(parts: &Parts, body: Body) -> Result<Bytes, Response> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(n) = declared
        && n > MAX_SYNC_PAYLOAD_BYTES
    {
        return Err(too_large(n));
    }
    match Limited::new(body, MAX_SYNC_PAYLOAD_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(too_large(MAX_SYNC_PAYLOAD_BYTES + 1))
        }
        Err(e) => Err(message(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            &format!("the request body could not be read: {e}"),
        )),
    }
}

fn too_large(size: usize) -> Response {
    message(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLargeException",
        &format!(
            "Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation (this one is at least {size} bytes as an event)"
        ),
    )
}

fn not_found(text: &str) -> Response {
    message(StatusCode::NOT_FOUND, "ResourceNotFoundException", text)
}

/// An X-Ray trace header for a request that came without one.
fn new_trace_id() -> String {
    let secs = lambdalet_core::timefmt::epoch_millis(SystemTime::now()) / 1000;
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{secs:08x}-{}", &random[..24])
}

#[cfg(test)]
mod tests;
