//! A minimal Lambda Runtime API (2018-06-01) that hands out a fixed number of events and
//! records when each was handed out and when its response arrived. With one event it is the
//! Rust cold-start baseline (the bootstrap run directly); with many, it measures a runtime's own
//! event loop without a daemon.

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

struct State {
    events: usize,
    /// When each event was handed out (the `next` answer was built).
    sent: Vec<Instant>,
    /// When each response had been read.
    responded: Vec<Instant>,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// When events went out and responses came back, in order.
#[derive(Debug, Default)]
pub struct Timeline {
    pub sent: Vec<Instant>,
    pub responded: Vec<Instant>,
}

/// A Runtime API with `events` events to give; stops listening when dropped.
pub struct Stub {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    done: oneshot::Receiver<Result<(), String>>,
    accept: JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Stub {
    pub async fn start(events: usize) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, done) = oneshot::channel();
        let state = Arc::new(Mutex::new(State {
            events,
            sent: Vec::with_capacity(events),
            responded: Vec::with_capacity(events),
            done: Some(tx),
        }));
        let shared = state.clone();
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
        Ok(Self {
            addr,
            state: shared,
            done,
            accept,
        })
    }

    /// Waits for the responses to every event (read to the end).
    pub async fn finished(mut self, limit: Duration) -> anyhow::Result<Timeline> {
        match tokio::time::timeout(limit, &mut self.done).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => bail!("the runtime reported an error: {e}"),
            Ok(Err(_)) => bail!("the Runtime API stub stopped"),
            Err(_) => bail!("the runtime did not answer every event within {limit:?}"),
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Timeline {
            sent: std::mem::take(&mut st.sent),
            responded: std::mem::take(&mut st.responded),
        })
    }
}

fn finish(st: &mut State, result: Result<(), String>) {
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
        let (n, more) = {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            let n = st.sent.len();
            let more = n < st.events;
            if more {
                st.sent.push(Instant::now());
            }
            (n, more)
        };
        if !more {
            // No more events: the runtime waits here until the bench kills it.
            std::future::pending::<()>().await;
        }
        let deadline = SystemTime::now() + Duration::from_secs(30);
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let resp = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", format!("bench-{n}"))
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
        let now = Instant::now();
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.responded.push(now);
        if st.responded.len() >= st.events {
            finish(&mut st, Ok(()));
        }
        return reply(StatusCode::ACCEPTED);
    }
    if method == Method::POST && path.ends_with("/error") {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        finish(&mut st, Err(String::from_utf8_lossy(&body).into_owned()));
        return reply(StatusCode::ACCEPTED);
    }
    reply(StatusCode::NOT_FOUND)
}
