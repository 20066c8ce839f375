//! The HTTP side of the Runtime API: routes, headers, status codes and error bodies exactly as
//! the Runtime Interface Emulator serves them (spec digest §1.2–1.5).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambdalet_core::limits::MAX_RESPONSE_BYTES;
use lambdalet_sandbox::Sandbox;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::channel::{Event, InitFailure, NextEvent, Refusal, RuntimeChannel, RuntimeOutcome};
use super::ext_http::{self, ExtApis};

const PREFIX: &str = "/2018-06-01";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
const ERROR_CAUSE_CONTENT_TYPE: &str = "application/vnd.aws.lambda.error.cause+json";

/// A running Runtime API listener. Dropping it stops the listener and every connection.
pub struct RuntimeApiServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    owner: Option<watch::Sender<Option<Arc<dyn Sandbox>>>>,
}

/// Which connections a listener serves.
#[derive(Clone)]
enum Gate {
    /// Only connections from the sandbox's own processes: its loopback port is reachable from
    /// the whole host, so each connection is checked (`Sandbox::owns_connection`) once the
    /// sandbox is known.
    Owner(watch::Receiver<Option<Arc<dyn Sandbox>>>),
    /// Every connection: the listener lives in the sandbox's own network namespace.
    Inside,
}

/// How long a connection waits for its sandbox to be known before it is dropped.
const ADMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl RuntimeApiServer {
    /// Binds `127.0.0.1:<free port>` and serves `channel` on it, to the processes of the
    /// sandbox given to [`Self::admit`] only.
    pub async fn start(channel: Arc<RuntimeChannel>, ext: Arc<ExtApis>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (owner, rx) = watch::channel(None);
        let task = tokio::spawn(accept_loop(listener, channel, ext, Gate::Owner(rx)));
        Ok(Self {
            addr,
            task,
            owner: Some(owner),
        })
    }

    /// The sandbox whose processes may use this listener (connections wait for it).
    pub fn admit(&self, sandbox: Arc<dyn Sandbox>) {
        if let Some(owner) = &self.owner {
            owner.send_replace(Some(sandbox));
        }
    }

    /// Serves on a listener made elsewhere (inside a sandbox's own network namespace).
    pub fn serve(
        listener: std::net::TcpListener,
        channel: Arc<RuntimeChannel>,
        ext: Arc<ExtApis>,
    ) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, channel, ext, Gate::Inside));
        Ok(Self {
            addr,
            task,
            owner: None,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RuntimeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a connection from `peer` may be served.
async fn admitted(gate: &Gate, stream: &tokio::net::TcpStream, refused: &AtomicBool) -> bool {
    let Gate::Owner(rx) = gate else { return true };
    let mut rx = rx.clone();
    let sandbox = match tokio::time::timeout(ADMIT_WAIT, rx.wait_for(Option::is_some)).await {
        Ok(Ok(s)) => s.clone(),
        _ => None,
    };
    let (Some(sandbox), Ok(local), Ok(peer)) = (sandbox, stream.local_addr(), stream.peer_addr())
    else {
        return false;
    };
    let id = sandbox.id().to_owned();
    let ok = tokio::task::spawn_blocking(move || sandbox.owns_connection(local, peer))
        .await
        .unwrap_or(false);
    if !ok {
        // The first refusal of a sandbox is worth a warning; a process that keeps trying gets
        // only debug lines.
        if refused.swap(true, Ordering::Relaxed) {
            tracing::debug!(sandbox = %id, %peer, "runtime_api.refused");
        } else {
            tracing::warn!(sandbox = %id, %peer, "refused a Runtime API connection from a process outside the sandbox");
        }
    }
    ok
}

async fn accept_loop(
    listener: TcpListener,
    channel: Arc<RuntimeChannel>,
    ext: Arc<ExtApis>,
    gate: Gate,
) {
    let mut connections = JoinSet::new();
    let refused = Arc::new(AtomicBool::new(false));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "runtime API accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (channel, ext) = (channel.clone(), ext.clone());
        let (gate, refused) = (gate.clone(), refused.clone());
        connections.spawn(async move {
            if !admitted(&gate, &stream, &refused).await {
                return;
            }
            let service = service_fn(move |req| handle(channel.clone(), ext.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(
    channel: Arc<RuntimeChannel>,
    ext: Arc<ExtApis>,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    if ext_http::owns(&path) {
        return Ok(ext_http::handle(&ext, req).await);
    }
    let Some(route) = path.strip_prefix(PREFIX) else {
        return Ok(not_found(&path));
    };
    let reply = match (req.method(), route) {
        (&Method::GET, "/runtime/invocation/next") => next(&channel).await,
        (&Method::POST, "/runtime/init/error") => init_error(&channel, req).await,
        (&Method::GET, "/ping") => plain(StatusCode::OK, "pong"),
        (&Method::POST, r) if r.starts_with("/runtime/invocation/") => {
            let rest = &r["/runtime/invocation/".len()..];
            match rest.rsplit_once('/') {
                Some((id, "response")) => {
                    let id = id.to_owned();
                    response(&channel, &id, req).await
                }
                Some((id, "error")) => {
                    let id = id.to_owned();
                    error(&channel, &id, req).await
                }
                _ => not_found(&path),
            }
        }
        _ => not_found(&path),
    };
    Ok(reply)
}

async fn next(channel: &RuntimeChannel) -> Reply {
    let event = match channel.next() {
        Ok(NextEvent::Now(e)) => e,
        Ok(NextEvent::Later(rx)) => match rx.await {
            Ok(e) => e,
            Err(_) => {
                return error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "the sandbox is shutting down",
                );
            }
        },
        Err(refusal) => return refused(refusal),
    };
    event_response(event)
}

fn event_response(event: Event) -> Reply {
    let mut resp = Response::new(Full::new(event.payload));
    let h = resp.headers_mut();
    set(h, "lambda-runtime-aws-request-id", &event.request_id);
    set(
        h,
        "lambda-runtime-deadline-ms",
        &event.deadline_ms.to_string(),
    );
    set(h, "lambda-runtime-invoked-function-arn", &event.invoked_arn);
    set(h, "lambda-runtime-trace-id", &event.trace_id);
    if let Some(cc) = &event.client_context {
        set(h, "lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &event.cognito_identity {
        set(h, "lambda-runtime-cognito-identity", ci);
    }
    set(h, "content-type", &event.content_type);
    resp
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if value.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

async fn response(channel: &RuntimeChannel, id: &str, req: Request<Incoming>) -> Reply {
    let content_type = header(req.headers(), "content-type");
    if let Some(mode) = header(req.headers(), "lambda-runtime-function-response-mode")
        && mode != "streaming"
    {
        let _ = channel.complete(
            id,
            RuntimeOutcome::Error {
                body: Bytes::from(
                    r#"{"errorType":"Runtime.InvalidResponseModeHeader","errorMessage":"the runtime sent an invalid Lambda-Runtime-Function-Response-Mode header"}"#,
                ),
                error_type: Some("Runtime.InvalidResponseModeHeader".to_owned()),
            },
        );
        return error_body(
            StatusCode::BAD_REQUEST,
            "InvalidFunctionResponseMode",
            &format!("response mode {mode:?} is not valid: the only accepted value is streaming"),
        );
    }
    if header(req.headers(), "lambda-runtime-function-response-mode").is_some() {
        return match super::stream::receive(channel, id, content_type, req).await {
            Ok(received) => match super::stream::answer(&received) {
                None => accepted(Ok(())),
                Some((status, error_type, message)) => error_body(status, error_type, &message),
            },
            Err(refusal) => refused(refusal),
        };
    }
    match read_body(req).await {
        Ok(body) => accepted(channel.complete(id, RuntimeOutcome::Response { body, content_type })),
        Err(BodyError::TooLarge) => {
            let _ = channel.complete(id, RuntimeOutcome::ResponseTooLarge);
            error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            )
        }
        Err(BodyError::Truncated) => truncated(),
    }
}

async fn error(channel: &RuntimeChannel, id: &str, req: Request<Incoming>) -> Reply {
    let (error_type, is_cause) = error_headers(req.headers());
    match read_body(req).await {
        Ok(body) => {
            let body = if is_cause { strip_cause(body) } else { body };
            accepted(channel.complete(id, RuntimeOutcome::Error { body, error_type }))
        }
        Err(BodyError::TooLarge) => {
            let _ = channel.complete(id, RuntimeOutcome::ResponseTooLarge);
            error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            )
        }
        Err(BodyError::Truncated) => truncated(),
    }
}

async fn init_error(channel: &RuntimeChannel, req: Request<Incoming>) -> Reply {
    let (error_type, is_cause) = error_headers(req.headers());
    match read_body(req).await {
        Ok(body) => {
            let body = if is_cause { strip_cause(body) } else { body };
            accepted(channel.init_error(InitFailure { body, error_type }))
        }
        Err(BodyError::TooLarge) => error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        ),
        Err(BodyError::Truncated) => truncated(),
    }
}

fn error_headers(headers: &HeaderMap) -> (Option<String>, bool) {
    let error_type = header(headers, ERROR_TYPE_HEADER).filter(|t| !t.is_empty());
    let is_cause = header(headers, "content-type").is_some_and(|c| c == ERROR_CAUSE_CONTENT_TYPE);
    (error_type, is_cause)
}

/// With the error-cause content type the body is `{"error": {...}, "cause": {...}}`; the caller
/// gets the `error` part.
fn strip_cause(body: Bytes) -> Bytes {
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .and_then(|e| serde_json::to_vec(&e).ok())
        .map(Bytes::from)
        .unwrap_or(body)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

enum BodyError {
    TooLarge,
    Truncated,
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, BodyError> {
    match Limited::new(req.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Truncated),
    }
}

fn accepted(result: Result<(), Refusal>) -> Reply {
    match result {
        Ok(()) => json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned()),
        Err(r) => refused(r),
    }
}

fn refused(r: Refusal) -> Reply {
    match r {
        Refusal::InvalidRequestId => error_body(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        ),
        Refusal::AlreadyWaiting => error_body(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "another /runtime/invocation/next of this sandbox is already waiting for the event: one runtime loop per sandbox; close that connection first",
        ),
        Refusal::InvalidState { from, to } => error_body(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            &format!(
                "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
            ),
        ),
    }
}

fn truncated() -> Reply {
    error_body(
        StatusCode::BAD_REQUEST,
        "TruncatedHTTPRequest",
        "the request body ended before its declared length",
    )
}

fn not_found(path: &str) -> Reply {
    error_body(
        StatusCode::NOT_FOUND,
        "InvalidRequestFormat",
        &format!("{path} is not a Runtime API 2018-06-01 path this server provides"),
    )
}

fn error_body(status: StatusCode, error_type: &str, message: &str) -> Reply {
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

fn plain(status: StatusCode, body: &'static str) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp
}
