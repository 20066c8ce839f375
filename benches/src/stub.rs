//! The Rust cold-start baseline: a minimal Lambda Runtime API (2018-06-01) that hands one event
//! to a `provided` bootstrap run directly, and says when its response arrived.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

struct State {
    served: bool,
    done: Option<oneshot::Sender<Result<Instant, String>>>,
}

/// A Runtime API with one event to give; stops listening when dropped.
pub struct Stub {
    pub addr: SocketAddr,
    done: oneshot::Receiver<Result<Instant, String>>,
    accept: JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Stub {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, done) = oneshot::channel();
        let state = Arc::new(Mutex::new(State {
            served: false,
            done: Some(tx),
        }));
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self { addr, done, accept })
    }

    /// When the runtime's response to the event arrived (read to the end).
    pub async fn response(self, limit: Duration) -> anyhow::Result<Instant> {
        let mut this = self;
        match tokio::time::timeout(limit, &mut this.done).await {
            Ok(Ok(Ok(at))) => Ok(at),
            Ok(Ok(Err(e))) => bail!("the runtime reported an error: {e}"),
            Ok(Err(_)) => bail!("the Runtime API stub stopped"),
            Err(_) => bail!("no response from the runtime within {limit:?}"),
        }
    }
}

fn finish(state: &Mutex<State>, result: Result<Instant, String>) {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(tx) = st.done.take() {
        let _ = tx.send(result);
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = |code: StatusCode| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = code;
        Ok(r)
    };
    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        let first = {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            !std::mem::replace(&mut st.served, true)
        };
        if !first {
            // One event only: the runtime waits here until the bench kills it.
            std::future::pending::<()>().await;
        }
        let deadline = SystemTime::now() + Duration::from_secs(30);
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let resp = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", REQUEST_ID)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0",
            )
            .body(Full::new(Bytes::from_static(br#"{"name":"bench"}"#)));
        return Ok(resp.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))));
    }
    if method == Method::POST && path.ends_with("/response") {
        finish(&state, Ok(Instant::now()));
        return reply(StatusCode::ACCEPTED);
    }
    if method == Method::POST && path.ends_with("/error") {
        finish(&state, Err(String::from_utf8_lossy(&body).into_owned()));
        return reply(StatusCode::ACCEPTED);
    }
    reply(StatusCode::NOT_FOUND)
}
