//! The API's HTTP/1.1 server loop, in place of `axum::serve`: it accepts on the listener, serves
//! each connection with hyper and the axum router, and keeps careless or hostile clients from
//! holding the daemon:
//!
//! - at most `max_connections` are open at once; one more is closed as soon as it is accepted
//!   (and counted), so a flood of idle connections costs a bounded number of descriptors and
//!   tasks, and the API is back as soon as they go (the timeouts below make them go);
//! - a request's head (request line and headers) must arrive within `header_timeout`, counted
//!   from the connection's start for its first request and from the head's first byte after
//!   that: a client that sends its headers a byte at a time is cut off;
//! - a connection with no request for `keepalive_timeout` after its last response is closed;
//! - shutdown stops accepting, closes idle connections and lets requests in flight finish.
//!
//! hyper's own `header_read_timeout` starts whenever hyper waits for a head, right after each
//! response too, so it would close every keep-alive connection once the (short) header timeout
//! has passed. The two deadlines are therefore kept here (`server/connection.rs`), and hyper's
//! is set to their sum, a backstop that never fires first.
//!
//! Every request carries [`ConnectInfo`] with the peer's address, and what the
//! [`ConnectionHook`] found out about its connection. This module knows nothing of the routes.

mod activity;
mod connection;

pub(crate) use connection::HEAD_BUFFER_BYTES;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use http::Extensions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Limits of the API listener (`serve --max-connections`, `--header-timeout`,
/// `--keepalive-timeout`).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Time a client has to send a request's line and headers: from the connection's start for
    /// its first request, from the head's first byte for the next ones.
    pub header_timeout: Duration,
    /// Time a connection may stay open after a response without a new request starting.
    pub keepalive_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
        }
    }
}

/// Called once per accepted connection, on that connection's own task before its first request
/// is read; what it returns is added to the extensions of every request on the connection (after
/// [`ConnectInfo`], which is always there). A hook may look the peer up (say, which sandbox a
/// loopback connection comes from) but should not block for long: the connection's first
/// request waits for it.
pub type ConnectionHook = Arc<dyn Fn(&TcpStream) -> Extensions + Send + Sync>;

/// What `/metrics` shows of the listener.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicU64,
    refused: AtomicU64,
    head_timeouts: AtomicU64,
    idle_closed: AtomicU64,
}

impl ConnectionStats {
    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections closed at once because `max_connections` were open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections closed because a request's head did not arrive in time.
    pub fn head_timeouts(&self) -> u64 {
        self.head_timeouts.load(Ordering::Relaxed)
    }

    /// Connections closed after `keepalive_timeout` without a request.
    pub fn idle_closed(&self) -> u64 {
        self.idle_closed.load(Ordering::Relaxed)
    }
}

/// The API's listener and what it serves, until [`Server::serve`]'s shutdown future resolves.
pub struct Server {
    listener: TcpListener,
    app: Router,
    config: ServerConfig,
    hook: Option<ConnectionHook>,
    stats: Arc<ConnectionStats>,
}

impl Server {
    pub fn new(listener: TcpListener, app: Router, config: ServerConfig) -> Self {
        Self {
            listener,
            app,
            config,
            hook: None,
            stats: Arc::default(),
        }
    }

    /// Counts into `stats` (the same the API's `/metrics` shows).
    pub fn with_stats(mut self, stats: Arc<ConnectionStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Calls `hook` for every accepted connection (see [`ConnectionHook`]).
    pub fn on_connection(mut self, hook: ConnectionHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Serves until `shutdown` resolves, then stops accepting, closes idle connections and
    /// returns once the requests in flight have finished.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            app,
            config,
            hook,
            stats,
        } = self;
        let permits = Arc::new(Semaphore::new(config.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        if accept_failed(&e) {
                            tokio::select! {
                                () = &mut shutdown => break,
                                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                refuse(stream, peer, &stats, config.max_connections);
                continue;
            };
            let mut extensions = Extensions::new();
            extensions.insert(ConnectInfo(peer));
            let connection = connection::Connection {
                stream,
                extensions,
                hook: hook.clone(),
                app: app.clone(),
                config: config.clone(),
                stats: Arc::clone(&stats),
                stop: stop_rx.clone(),
                permit,
            };
            tasks.spawn(connection.serve());
        }
        drop(listener);
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
    }
}

/// Logs a failed `accept`; true when the listener itself is in trouble (out of descriptors,
/// say) and the loop should pause, false when only that one connection failed.
fn accept_failed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(error = %e, "api.accept");
        return false;
    }
    tracing::warn!(error = %e, "cannot accept API connections; trying again in a second");
    true
}

/// Closes a connection beyond the cap at once. The first refusal, and then every power of two,
/// is logged as a warning.
fn refuse(stream: TcpStream, peer: SocketAddr, stats: &ConnectionStats, max: usize) {
    drop(stream);
    let n = stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        tracing::warn!(%peer, refused = n, "closed an API connection at once: {max} are open (--max-connections)");
    } else {
        tracing::debug!(%peer, refused = n, "api.connection_refused");
    }
}

#[cfg(test)]
mod tests;
