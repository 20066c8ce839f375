//! How an event reaches a framed runtime without another task on the way: when the runtime
//! has asked for the next event, the frame loop leaves the channel a [`Sink`], and the
//! dispatcher (the invocation's own task) writes the event frame to the socket itself, without
//! waiting: what the socket takes at once (all of it, for any event that fits its buffer) is
//! sent there and then; the rest, if any, by a task spawned for it. The frame loop writes its
//! own frames (an event that was pending, a refusal) under the same lock, so frames never
//! interleave.
//!
//! Before, the dispatcher handed the event to the frame loop's task, which woke (often on the
//! other worker thread) only to write it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Mutex, MutexGuard};

use super::channel::{Deliver, Event};
use super::frames::{event_header, frame_head};

/// The daemon's writing end of a framed runtime's socket, shared by its frame loop and the
/// dispatcher.
pub(crate) struct Sink<W> {
    write: Arc<Mutex<W>>,
    closed: AtomicBool,
}

/// Marks the sink closed when the frame loop ends (dropped with it).
pub(crate) struct ClosedOnDrop<W>(Arc<Sink<W>>);

impl<W> Drop for ClosedOnDrop<W> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> Sink<W> {
    pub(crate) fn new(write: W) -> Self {
        Self {
            write: Arc::new(Mutex::new(write)),
            closed: AtomicBool::new(false),
        }
    }

    /// The writing end, for the frame loop's own frames.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, W> {
        self.write.lock().await
    }

    pub(crate) fn closed_on_drop(self: &Arc<Self>) -> ClosedOnDrop<W> {
        ClosedOnDrop(Arc::clone(self))
    }
}

/// An event frame: its lengths and header, then its body (kept apart: a body may be 6 MB).
fn encode(event: &Event) -> (Vec<u8>, Bytes) {
    let head = frame_head(event_header(event).as_bytes(), event.payload.len(), 0);
    (head, event.payload.clone())
}

/// Writes what `w` takes now of `head` then `body`, from byte `at` of the two; returns how
/// far it got. An error with nothing written is returned as such.
fn write_now<W: AsyncWrite + Unpin>(
    w: &mut W,
    head: &[u8],
    body: &[u8],
    mut at: usize,
) -> std::io::Result<usize> {
    let mut cx = Context::from_waker(Waker::noop());
    let total = head.len() + body.len();
    while at < total {
        let piece = if at < head.len() {
            &head[at..]
        } else {
            &body[at - head.len()..]
        };
        match Pin::new(&mut *w).poll_write(&mut cx, piece) {
            Poll::Ready(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(n)) => at += n,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => break,
        }
    }
    Ok(at)
}

async fn write_rest<W: AsyncWrite + Unpin>(w: &mut W, head: &[u8], body: &[u8], at: usize) {
    let result = if at < head.len() {
        match w.write_all(&head[at..]).await {
            Ok(()) => w.write_all(body).await,
            Err(e) => Err(e),
        }
    } else {
        w.write_all(&body[at - head.len()..]).await
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "runtime_frames.write_failed");
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> Deliver for Sink<W> {
    fn deliver(&self, event: Event) -> Result<(), Box<Event>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Box::new(event));
        }
        let (head, body) = encode(&event);
        match Arc::clone(&self.write).try_lock_owned() {
            Ok(mut w) => {
                let at = match write_now(&mut *w, &head, &body, 0) {
                    Ok(at) => at,
                    // Nothing went out: the runtime is gone, the event stays pending.
                    Err(_) => return Err(Box::new(event)),
                };
                if at < head.len() + body.len() {
                    tokio::spawn(async move { write_rest(&mut *w, &head, &body, at).await });
                }
            }
            // The frame loop is writing a frame of its own: the event follows it.
            Err(_) => {
                let write = Arc::clone(&self.write);
                tokio::spawn(async move {
                    let mut w = write.lock().await;
                    write_rest(&mut *w, &head, &body, 0).await;
                });
            }
        }
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn event(payload: Vec<u8>) -> Event {
        Event {
            request_id: "r-1".to_owned(),
            deadline_ms: 1,
            invoked_arn: "arn".to_owned(),
            trace_id: "t".to_owned(),
            client_context: None,
            cognito_identity: None,
            content_type: "application/json".to_owned(),
            payload: Bytes::from(payload),
        }
    }

    async fn read_event(r: &mut tokio::io::DuplexStream) -> (String, Vec<u8>) {
        let mut lengths = [0u8; 8];
        r.read_exact(&mut lengths).await.unwrap();
        let h = u32::from_le_bytes(lengths[..4].try_into().unwrap()) as usize;
        let b = u32::from_le_bytes(lengths[4..].try_into().unwrap()) as usize;
        let mut header = vec![0u8; h];
        r.read_exact(&mut header).await.unwrap();
        let mut body = vec![0u8; b];
        r.read_exact(&mut body).await.unwrap();
        (String::from_utf8(header).unwrap(), body)
    }

    #[tokio::test]
    async fn an_event_that_fits_goes_out_at_once() {
        let (mut runtime, daemon) = tokio::io::duplex(1 << 16);
        let sink = Sink::new(daemon);
        sink.deliver(event(b"{}".to_vec())).unwrap();
        let (header, body) = read_event(&mut runtime).await;
        assert!(header.starts_with("event\0r-1\0"), "{header:?}");
        assert_eq!(body, b"{}");
    }

    #[tokio::test]
    async fn an_event_larger_than_the_pipe_goes_out_whole_later() {
        let (mut runtime, daemon) = tokio::io::duplex(4096);
        let sink = Sink::new(daemon);
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        sink.deliver(event(big.clone())).unwrap();
        let (_, body) = read_event(&mut runtime).await;
        assert_eq!(body, big);
    }

    #[tokio::test]
    async fn frames_do_not_interleave_with_the_loops_own() {
        let (mut runtime, daemon) = tokio::io::duplex(1 << 16);
        let sink = Arc::new(Sink::new(daemon));
        let held = sink.lock().await;
        sink.deliver(event(b"[1]".to_vec())).unwrap();
        drop(held);
        let (_, body) = read_event(&mut runtime).await;
        assert_eq!(body, b"[1]");
    }

    #[tokio::test]
    async fn a_closed_sink_gives_the_event_back() {
        let (_runtime, daemon) = tokio::io::duplex(1 << 16);
        let sink = Arc::new(Sink::new(daemon));
        drop(sink.closed_on_drop());
        assert!(sink.is_closed());
        assert!(sink.deliver(event(b"{}".to_vec())).is_err());
    }

    #[tokio::test]
    async fn a_gone_runtime_gives_the_event_back() {
        let (runtime, daemon) = tokio::io::duplex(1 << 16);
        drop(runtime);
        let sink = Sink::new(daemon);
        assert!(sink.deliver(event(b"{}".to_vec())).is_err());
    }
}
