//! One API connection: hyper serving the router on it, and the watch that closes it when a
//! request's head is too slow or the connection sits idle too long.
//!
//! The connection is always in one phase: waiting for a request's first byte (since it opened,
//! or since the last response ended), reading a head (since its first byte; on a fresh
//! connection, since it opened), or busy with requests (no deadline: a handler or a response
//! body may take as long as it takes). The socket's reads move it from waiting to reading a
//! head; the service moves it to busy when hyper hands it a request, and back to waiting when
//! hyper drops the response body, sent or not.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Extensions, Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, watch};
use tokio::time::Instant;

use super::{ConnectionHook, ConnectionStats, ServerConfig};

/// hyper's read buffer: a request's head must fit in it, or hyper answers 431 itself, with
/// an empty body. Room for the largest head the router accepts (see `limits.rs`), and more.
pub(crate) const HEAD_BUFFER_BYTES: usize = 128 * 1024;

pub(super) struct Connection {
    pub stream: TcpStream,
    pub extensions: Extensions,
    pub hook: Option<ConnectionHook>,
    pub app: Router,
    pub config: ServerConfig,
    pub stats: Arc<ConnectionStats>,
    pub stop: watch::Receiver<bool>,
    /// Its place under `max_connections`, given back when the connection ends.
    pub permit: OwnedSemaphorePermit,
}

/// Why the watch closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    Head,
    Idle,
}

impl Connection {
    pub(super) async fn serve(self) {
        let Self {
            stream,
            mut extensions,
            hook,
            app,
            config,
            stats,
            mut stop,
            permit,
        } = self;
        let _permit = permit;
        stats.open.fetch_add(1, Ordering::Relaxed);
        let _open = Open(&stats);
        let _ = stream.set_nodelay(true);
        if let Some(hook) = &hook {
            extensions.extend(hook(&stream));
        }
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            stream,
            activity: Arc::clone(&activity),
        });
        let service = Service {
            app,
            extensions,
            activity: Arc::clone(&activity),
        };
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout + config.keepalive_timeout)
            .max_buf_size(HEAD_BUFFER_BYTES)
            .serve_connection(io, service);
        let mut conn = std::pin::pin!(conn);
        let mut draining = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "api.connection_error");
                    }
                    break;
                }
                expired = activity.expired(&config) => {
                    let counter = match expired {
                        Expired::Head => &stats.head_timeouts,
                        Expired::Idle => &stats.idle_closed,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(?expired, "api.connection_timeout");
                    break;
                }
                _ = stop.wait_for(|stop| *stop), if !draining => {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
    }
}

/// Counts a connection as open while it lives.
struct Open<'a>(&'a ConnectionStats);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Waiting { since: Instant, first: bool },
    Head { since: Instant },
    Busy(usize),
}

/// The connection's phase, and a wake-up for the watch when it changes.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                first: true,
            }),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        // A phase is a plain value, consistent after any panic.
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = f(*phase);
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: a head has begun, unless a request is being served.
    fn read(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Waiting { since, first } = *phase {
            let since = if first { since } else { Instant::now() };
            *phase = Phase::Head { since };
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        Busy(Arc::clone(self))
    }

    fn end(&self) {
        self.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Waiting {
                since: Instant::now(),
                first: false,
            },
        });
    }

    fn deadline(&self, config: &ServerConfig) -> Option<(Instant, Expired)> {
        match self.phase() {
            Phase::Waiting { since, first: true } | Phase::Head { since } => {
                Some((since + config.header_timeout, Expired::Head))
            }
            Phase::Waiting { since, .. } => Some((since + config.keepalive_timeout, Expired::Idle)),
            Phase::Busy(_) => None,
        }
    }

    /// Resolves when the current phase's deadline passes.
    async fn expired(&self, config: &ServerConfig) -> Expired {
        loop {
            // Made before the phase is read, so a change in between is not missed.
            let changed = self.changed.notified();
            match self.deadline(config) {
                None => changed.await,
                Some((at, why)) => tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep_until(at) => {
                        if self.deadline(config).is_some_and(|(at, _)| at <= Instant::now()) {
                            return why;
                        }
                    }
                },
            }
        }
    }
}

/// A request being served; its end is when this is dropped (with the response body).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The socket, telling the activity when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router as hyper's service: adds the connection's extensions, marks the connection busy
/// until the response body is dropped.
#[derive(Clone)]
struct Service {
    app: Router,
    extensions: Extensions,
    activity: Arc<Activity>,
}

type Reply = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Reply;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let busy = self.activity.begin();
        req.extensions_mut().extend(self.extensions.clone());
        let mut app = self.app.clone();
        Box::pin(async move {
            // A Router is always ready (its `poll_ready` returns at once), so no `poll_ready`.
            let response = match tower_service::Service::call(&mut app, req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| Tracked { body, _busy: busy }))
        })
    }
}

/// A response body that keeps its connection busy until hyper drops it.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
