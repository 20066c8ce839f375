//! A connection's phase, the deadline each phase has, and what moves it between them.
//!
//! The connection is always in one phase: waiting for a request's first byte (since it opened,
//! or since the last response ended), reading a head (since its first byte; on a fresh
//! connection, since it opened), or busy with requests (no deadline: a handler or a response
//! body may take as long as it takes). The socket's reads ([`Watched`]) move it from waiting to
//! reading a head; the service moves it to busy when hyper hands it a request ([`Activity::begin`])
//! and back to waiting when hyper drops the response body, sent or not ([`Busy`]).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::ServerConfig;

/// Why the watch closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    Head,
    Idle,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Waiting { since: Instant, first: bool },
    Head { since: Instant },
    Busy(usize),
}

/// The connection's phase, and a wake-up for the watch when it changes.
pub(super) struct Activity {
    phase: Mutex<Phase>,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                first: true,
            }),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        // A phase is a plain value, consistent after any panic.
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = f(*phase);
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
        }
    }

    pub(super) fn begin(self: &Arc<Self>) -> Busy {
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

    /// Resolves once the connection is past its phase's deadline. Nothing wakes it when the
    /// phase changes (that would cost every request a wake-up and a new timer): it looks again
    /// at least every `header_timeout` (or `keepalive_timeout`, if shorter), which is soon
    /// enough, since a deadline a change brings is one of those after the change, and so never
    /// before the next look.
    pub(super) async fn expired(&self, config: &ServerConfig) -> Expired {
        loop {
            let now = Instant::now();
            let next_look = now + config.header_timeout.min(config.keepalive_timeout);
            match self.deadline(config) {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => tokio::time::sleep_until(at.min(next_look)).await,
                None => tokio::time::sleep_until(next_look).await,
            }
        }
    }
}

pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The socket, telling the activity when bytes arrive.
pub(super) struct Watched {
    pub stream: TcpStream,
    pub activity: Arc<Activity>,
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
