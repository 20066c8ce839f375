//! One API connection: hyper serving the router on it, the connection's extensions added to
//! each request, and the watch (`activity.rs`) that closes it when a request's head is too slow
//! or the connection sits idle too long.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Extensions, Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::activity::{Activity, Busy, Expired, Watched};
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
