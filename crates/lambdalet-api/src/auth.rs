//! Who is calling, and whether they may: every request but `/lambdalet/v1/health` passes here.
//!
//! 1. Where the connection comes from ([`ConnectionInfo`], once per connection): a sandbox of
//!    some function, or the host (its users, or another machine). See
//!    `lambdalet_invoker::Caller`.
//! 2. Who signed it: a request carrying AWS Signature Version 4 is verified against
//!    lambdalet's keys (`lambdalet keys create`, and each function's own). With
//!    `--auth sigv4` every request must be signed by a known key; with `--auth none` unsigned
//!    requests and unknown keys ("any credentials do") act as an administrator, but a known key
//!    with a bad signature is still refused.
//! 3. The principal: a request from a sandbox is that function, whatever key signed it (a
//!    function's sandbox using another function's key is refused); otherwise the key's owner.
//! 4. What it may do: a function may invoke and publish/subscribe (checked by those handlers
//!    against its `accessControl`); every other route needs management rights
//!    (`Control::authorize_management`).
//!
//! A request without a signature may carry a web console session instead (a cookie; see
//! `console/session.rs`), and browsers' unsigned requests are checked for cross-site use
//! (`console/guard.rs`).
//!
//! `/lambdalet/v1/code/{file}` takes only a presigned URL (GetFunction's `Code.Location`), and
//! `/lambdalet/v1/greengrass/invocations` its own per-function token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use lambdalet_auth::AuthError;
use lambdalet_core::{ErrorCode, Principal};
use lambdalet_invoker::Caller;
use sha2::{Digest, Sha256};

use crate::console::guard::Unsigned;
use crate::error::{ApiError, shaped};
use crate::state::ApiState;

/// How requests are authenticated (`serve --auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every request signed with a lambdalet key.
    SigV4,
    /// Unsigned requests act as an administrator (a loopback listen's default).
    None,
}

/// Where a connection comes from; the server inserts one into each request's extensions.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    caller: Arc<tokio::sync::OnceCell<Caller>>,
}

impl ConnectionInfo {
    pub fn new(local: SocketAddr, peer: SocketAddr) -> Self {
        Self {
            local,
            peer,
            caller: Arc::default(),
        }
    }

    /// Who holds the other end, found once per connection.
    async fn caller(&self, s: &ApiState) -> Caller {
        self.caller
            .get_or_init(|| async {
                let (invoker, local, peer) = (s.invoker.clone(), self.local, self.peer);
                tokio::task::spawn_blocking(move || invoker.caller_of(local, peer))
                    .await
                    .unwrap_or(Caller::UnknownSandbox { uid: u32::MAX })
            })
            .await
            .clone()
    }
}

impl ConnectionInfo {
    /// The [`crate::Server`] hook that gives every request of a connection its
    /// `ConnectionInfo`.
    pub fn hook() -> crate::ConnectionHook {
        Arc::new(|stream: &tokio::net::TcpStream| {
            let mut ext = http::Extensions::new();
            if let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) {
                ext.insert(Self::new(local, peer));
            }
            ext
        })
    }
}

/// The largest body verified (a signed payload hash covers the whole body).
const MAX_SIGNED_BODY: usize = crate::limits::MAX_BODY_BYTES;

/// Routes a function may call without management rights; their handlers check the rest.
fn function_route(method: &http::Method, path: &str) -> bool {
    let invoke = matches!(
        path.split('/').collect::<Vec<_>>()[..],
        ["", "2015-03-31", "functions", name, "invocations"] if !name.is_empty()
    );
    let s3_events = matches!(
        path.split('/').collect::<Vec<_>>()[..],
        ["", "lambdalet", "v1", "functions", name, "s3-events"] if !name.is_empty()
    );
    (method == http::Method::POST && (invoke || s3_events || path == "/lambdalet/v1/publish"))
        || (method == http::Method::GET && path == "/lambdalet/v1/subscribe")
}

pub(crate) async fn authenticate(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/lambdalet/v1/health" || path == "/lambdalet/v1/greengrass/invocations" {
        return next.run(req).await;
    }
    // The console's login form and its static files: the login checks the key itself.
    if path == "/console/login" || path == "/console/logout" || path.starts_with("/console/assets/")
    {
        return next.run(req).await;
    }
    // An S3 webhook with its token: the handler checks the token.
    if path.starts_with("/lambdalet/v1/functions/")
        && path.ends_with("/s3-events")
        && crate::s3_events::token_of(req.uri().query()).is_some()
    {
        return next.run(req).await;
    }
    if path.starts_with("/lambdalet/v1/code/") {
        return match check_code_url(&s, &req) {
            Ok(()) => next.run(req).await,
            Err(e) => auth_error(&e),
        };
    }
    let Some(conn) = req.extensions().get::<ConnectionInfo>().cloned() else {
        return ApiError::new(
            ErrorCode::Service,
            "the server did not say where this connection comes from; refusing it",
        )
        .into_response();
    };
    let caller = conn.caller(&s).await;
    if let Caller::UnknownSandbox { uid } = caller {
        tracing::warn!(peer = %conn.peer, uid, "refused a request from a sandbox user's socket that belongs to no live sandbox");
        return denied("this connection comes from a sandbox user that runs no live sandbox");
    }
    let (mut parts, body) = req.into_parts();
    let signed = parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts
            .uri
            .query()
            .is_some_and(|q| q.contains("X-Amz-Algorithm="));
    let mut key_principal = None;
    let mut session = false;
    // A body the signature does not cover (`UNSIGNED-PAYLOAD`, for uploads streamed from a
    // file) is not read here: it goes to the handler as it comes.
    let unsigned_payload = parts
        .headers
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes() == lambdalet_auth::UNSIGNED_PAYLOAD.as_bytes());
    let body = if signed && unsigned_payload {
        match verify(&s.control, &parts, &[]) {
            Ok(p) => key_principal = Some(p),
            Err(Refused::Unknown(_)) if s.auth == AuthMode::None => {}
            Err(Refused::Unknown(e) | Refused::Bad(e)) => {
                tracing::info!(peer = %conn.peer, path = %parts.uri.path(), error_type = e.error_type(), "api.unauthenticated");
                return auth_error(&e);
            }
        }
        body
    } else if signed {
        let bytes = match axum::body::to_bytes(body, MAX_SIGNED_BODY).await {
            Ok(b) => b,
            Err(e) => {
                return ApiError::new(
                    ErrorCode::RequestTooLarge,
                    format!("the request body could not be read whole (at most {MAX_SIGNED_BODY} bytes): {e}"),
                )
                .into_response();
            }
        };
        match verify(&s.control, &parts, &bytes) {
            Ok(p) => key_principal = Some(p),
            Err(Refused::Unknown(_)) if s.auth == AuthMode::None => {}
            Err(Refused::Unknown(e) | Refused::Bad(e)) => {
                tracing::info!(peer = %conn.peer, path = %parts.uri.path(), error_type = e.error_type(), "api.unauthenticated");
                return auth_error(&e);
            }
        }
        Body::from(bytes)
    } else {
        match crate::console::guard::unsigned(&s, &parts) {
            Unsigned::Session(p) => {
                key_principal = Some(p);
                session = true;
            }
            Unsigned::Refused(answer) => {
                tracing::info!(peer = %conn.peer, path = %parts.uri.path(), "api.browser_refused");
                return answer;
            }
            Unsigned::Anonymous if s.auth == AuthMode::SigV4 => {
                if let Some(to_login) = crate::console::guard::login_redirect(&parts) {
                    return to_login;
                }
                tracing::info!(peer = %conn.peer, path = %parts.uri.path(), "api.unsigned");
                return auth_error(&AuthError::Missing);
            }
            Unsigned::Anonymous => {}
        }
        body
    };
    let principal = match (caller, key_principal) {
        (Caller::Function(f), Some(Principal::Function(g))) if f != g => {
            tracing::warn!(function = %f, key_of = %g, "a sandbox used another function's credentials");
            return denied(&format!(
                "a sandbox of function {f} may not use function {g}'s credentials"
            ));
        }
        (Caller::Function(f), _) => Principal::Function(f),
        (_, Some(p)) => p,
        (_, None) => Principal::Admin,
    };
    if !function_route(&parts.method, parts.uri.path()) {
        let action = format!("{} {}", parts.method, parts.uri.path());
        if let Err(e) = s.control.authorize_management(&principal, &action) {
            tracing::info!(%principal, %action, "api.denied");
            return ApiError::from(e).into_response();
        }
    }
    parts.extensions.insert(principal);
    if session {
        parts.extensions.insert(crate::console::SessionMark);
    }
    next.run(Request::from_parts(parts, body)).await
}

pub(crate) enum Refused {
    /// No signature lambdalet can check: an unknown key, or not SigV4 at all.
    Unknown(AuthError),
    /// A known key whose signature does not hold.
    Bad(AuthError),
}

fn header_pairs(parts: &Parts) -> Vec<(&str, &str)> {
    parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect()
}

/// Checks a signed request against lambdalet's keys (also used by the function URL listener).
pub(crate) fn verify(
    control: &lambdalet_control::Control,
    parts: &Parts,
    body: &[u8],
) -> Result<Principal, Refused> {
    let headers = header_pairs(parts);
    let body_sha256 = hex::encode(Sha256::digest(body));
    let req = lambdalet_auth::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body_sha256: &body_sha256,
    };
    let credential = lambdalet_auth::credential(&req).map_err(Refused::Unknown)?;
    let Some((secret, principal)) = control.secret_of(&credential.access_key_id) else {
        return Err(Refused::Unknown(AuthError::UnknownAccessKey {
            access_key_id: credential.access_key_id,
        }));
    };
    let now = time::OffsetDateTime::now_utc();
    let verified = lambdalet_auth::verify(
        &req,
        &credential,
        &secret,
        lambdalet_auth::Service::Lambda,
        now,
    )
    .map_err(Refused::Bad)?;
    // A function's key comes with a session token (AWS_SESSION_TOKEN); one sent must be it.
    // Administrators' keys have none, and a stray one is ignored.
    if matches!(principal, Principal::Function(_))
        && let Some(token) = &verified.session_token
        && *token != lambdalet_auth::session_token(&secret)
    {
        return Err(Refused::Bad(AuthError::UnknownAccessKey {
            access_key_id: verified.access_key_id,
        }));
    }
    Ok(principal)
}

fn check_code_url(s: &ApiState, req: &Request) -> Result<(), AuthError> {
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let r = lambdalet_auth::Request {
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query().unwrap_or(""),
        headers: &headers,
        body_sha256: "",
    };
    s.control.verify_code_url(&r)
}

fn auth_error(e: &AuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
    let fault = if status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    shaped(status, e.error_type(), fault, &e.to_string(), None)
}

fn denied(message: &str) -> Response {
    ApiError::new(ErrorCode::AccessDenied, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invoke_and_pubsub_are_function_routes() {
        let post = http::Method::POST;
        assert!(function_route(&post, "/2015-03-31/functions/f/invocations"));
        assert!(function_route(&post, "/lambdalet/v1/publish"));
        assert!(function_route(
            &http::Method::GET,
            "/lambdalet/v1/subscribe"
        ));
        assert!(!function_route(
            &http::Method::GET,
            "/2015-03-31/functions/f/invocations"
        ));
        assert!(!function_route(
            &http::Method::DELETE,
            "/2015-03-31/functions/f"
        ));
        assert!(!function_route(&post, "/2015-03-31/functions/"));
        assert!(!function_route(&http::Method::GET, "/metrics"));
    }
}
