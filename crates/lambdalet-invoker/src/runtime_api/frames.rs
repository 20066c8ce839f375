//! lambdalet's framed Runtime API: the same state machine as the HTTP Runtime API
//! ([`RuntimeChannel`]), spoken by lambdalet's own Python and Node bootstraps over a connected
//! Unix stream socket that the runtime inherits as descriptor 3 (`LAMBDALET_RUNTIME_FD`).
//!
//! Official runtime clients keep HTTP; the framed form saves what HTTP costs on the warm path:
//! no request line or headers to write and parse on either side, and no 202 answer for a
//! response. A runtime posts its response and asks for the next event in one write, and the
//! daemon answers with the event in one write: two system calls per invocation on each side
//! instead of four. Only the holder of the descriptor can speak it (no port to find, no
//! per-connection owner check). A runtime may still use the HTTP listener alongside (a
//! streamed response goes there), since both serve one channel.
//!
//! A frame is a header length and a body length (each a 32-bit little-endian integer), then
//! the header (UTF-8 fields separated by NUL bytes, the first naming the frame) and the body.
//!
//! | runtime → daemon | header | body |
//! |---|---|---|
//! | next event | `next` | - |
//! | response | `response`, request id, content type | the payload |
//! | error | `error`, request id, error type | the error JSON |
//! | init error | `init-error`, error type | the error JSON |
//!
//! | daemon → runtime | header | body |
//! |---|---|---|
//! | event | `event`, request id, deadline (ms since the epoch), invoked ARN, trace id, client context, Cognito identity, content type | the payload |
//! | refusal of `next` | `refused`, HTTP status, error type | the message |
//!
//! A response over the 6 MB limit ends the invocation with `Function.ResponseSizeTooLarge` and
//! its bytes are read and dropped; a malformed frame or a header over [`MAX_HEADER`] closes
//! the socket (the runtime then fails as it would on a broken connection).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use lambdalet_core::limits::MAX_RESPONSE_BYTES;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;

use super::channel::{Event, InitFailure, Refusal, RuntimeChannel, RuntimeOutcome};
use super::direct::Sink;

/// The environment variable that tells a lambdalet bootstrap which descriptor to speak on.
pub const FD_ENV: &str = "LAMBDALET_RUNTIME_FD";
/// Largest header a runtime may send.
pub const MAX_HEADER: usize = 64 * 1024;
/// Bodies up to this size go out in the same write as their header.
const COALESCE: usize = 64 * 1024;

/// Serves one runtime's framed channel; dropping it stops serving.
pub struct FramesServer {
    task: JoinHandle<()>,
}

impl FramesServer {
    /// Serves `socket` (the daemon's end of the runtime's channel) for `channel`.
    pub fn start(
        socket: std::os::unix::net::UnixStream,
        channel: Arc<RuntimeChannel>,
    ) -> std::io::Result<Self> {
        socket.set_nonblocking(true)?;
        let socket = UnixStream::from_std(socket)?;
        let task = tokio::spawn(async move {
            let (read, write) = socket.into_split();
            let mut read = BufReader::with_capacity(COALESCE, read);
            if let Err(e) = serve(&mut read, write, &channel).await {
                tracing::debug!(error = %e, "runtime_frames.closed");
            }
        });
        Ok(Self { task })
    }
}

impl Drop for FramesServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("the runtime closed its channel")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// The frame loop: reads what the runtime sends and answers `next`: with the event pending,
/// if there is one, or by leaving the channel a [`Sink`] through which the dispatcher writes
/// the next event itself (see `direct.rs`).
pub(crate) async fn serve<R, W>(
    read: &mut R,
    write: W,
    channel: &RuntimeChannel,
) -> Result<(), FrameError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let sink = Arc::new(Sink::new(write));
    let _closed = sink.closed_on_drop();
    loop {
        let Some((header_len, body_len)) = read_lengths(read).await? else {
            return Err(FrameError::Closed);
        };
        if header_len > MAX_HEADER {
            return Err(FrameError::Malformed(format!(
                "a {header_len} byte header is over the {MAX_HEADER} byte limit"
            )));
        }
        let mut header = vec![0u8; header_len];
        read.read_exact(&mut header).await?;
        let header = String::from_utf8(header)
            .map_err(|_| FrameError::Malformed("the header is not UTF-8".to_owned()))?;
        let mut fields = header.split('\0');
        let kind = fields.next().unwrap_or_default();
        let mut field = || fields.next().unwrap_or_default().to_owned();
        match kind {
            "next" => {
                skip(read, body_len).await?;
                match channel.next_direct(sink.clone()) {
                    Ok(Some(event)) => write_event(&mut *sink.lock().await, &event).await?,
                    Ok(None) => {}
                    Err(refusal) => write_refusal(&mut *sink.lock().await, &refusal).await?,
                }
            }
            "response" | "error" => {
                let (id, detail) = (field(), field());
                let outcome = match read_body(read, body_len).await? {
                    None => RuntimeOutcome::ResponseTooLarge,
                    Some(body) if kind == "response" => RuntimeOutcome::Response {
                        body,
                        content_type: Some(detail).filter(|c| !c.is_empty()),
                    },
                    Some(body) => RuntimeOutcome::Error {
                        body,
                        error_type: Some(detail).filter(|t| !t.is_empty()),
                    },
                };
                if let Err(refusal) = channel.complete(&id, outcome) {
                    tracing::debug!(request_id = %id, ?refusal, "runtime_frames.refused");
                }
            }
            "init-error" => {
                let error_type = Some(field()).filter(|t| !t.is_empty());
                let body = read_body(read, body_len).await?.unwrap_or_default();
                if let Err(refusal) = channel.init_error(InitFailure { body, error_type }) {
                    tracing::debug!(?refusal, "runtime_frames.refused");
                }
            }
            other => {
                return Err(FrameError::Malformed(format!(
                    "unknown frame {:?}",
                    other.chars().take(32).collect::<String>()
                )));
            }
        }
    }
}

/// The two lengths of the next frame; `None` at a clean end of the stream.
async fn read_lengths<R: AsyncRead + Unpin>(
    read: &mut R,
) -> Result<Option<(usize, usize)>, FrameError> {
    let mut lengths = [0u8; 8];
    match read.read_exact(&mut lengths).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let h = u32::from_le_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]);
    let b = u32::from_le_bytes([lengths[4], lengths[5], lengths[6], lengths[7]]);
    Ok(Some((h as usize, b as usize)))
}

/// A body of up to the response limit; `None` (its bytes read and dropped) above it.
async fn read_body<R: AsyncRead + Unpin>(
    read: &mut R,
    len: usize,
) -> Result<Option<Bytes>, FrameError> {
    if len > MAX_RESPONSE_BYTES {
        skip(read, len).await?;
        return Ok(None);
    }
    let mut body = BytesMut::zeroed(len);
    read.read_exact(&mut body).await?;
    Ok(Some(body.freeze()))
}

async fn skip<R: AsyncRead + Unpin>(read: &mut R, len: usize) -> Result<(), FrameError> {
    let copied = tokio::io::copy(&mut read.take(len as u64), &mut tokio::io::sink()).await?;
    if copied < len as u64 {
        return Err(FrameError::Closed);
    }
    Ok(())
}

/// The header fields of an event, NUL-separated; a NUL inside a value (none can come from a
/// valid request) becomes a space.
pub(super) fn event_header(event: &Event) -> String {
    let deadline = event.deadline_ms.to_string();
    let fields: [&str; 8] = [
        "event",
        &event.request_id,
        &deadline,
        &event.invoked_arn,
        &event.trace_id,
        event.client_context.as_deref().unwrap_or_default(),
        event.cognito_identity.as_deref().unwrap_or_default(),
        &event.content_type,
    ];
    join(&fields)
}

fn join(fields: &[&str]) -> String {
    let mut out = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\0');
        }
        out.extend(f.chars().map(|c| if c == '\0' { ' ' } else { c }));
    }
    out
}

async fn write_event<W: AsyncWrite + Unpin>(
    write: &mut W,
    event: &Event,
) -> Result<(), FrameError> {
    write_frame(write, event_header(event).as_bytes(), &event.payload).await
}

async fn write_refusal<W: AsyncWrite + Unpin>(
    write: &mut W,
    refusal: &Refusal,
) -> Result<(), FrameError> {
    let (status, error_type, message) = match refusal {
        Refusal::InvalidRequestId => ("400", "InvalidRequestID", "Invalid request ID".to_owned()),
        Refusal::AlreadyWaiting => (
            "403",
            "InvalidStateTransition",
            "another next of this sandbox is already waiting for the event".to_owned(),
        ),
        Refusal::InvalidState { from, to } => (
            "403",
            "InvalidStateTransition",
            format!(
                "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
            ),
        ),
    };
    write_frame(
        write,
        join(&["refused", status, error_type]).as_bytes(),
        message.as_bytes(),
    )
    .await
}

/// A frame's two lengths and its header, with room for `room` more bytes (of its body).
pub(super) fn frame_head(header: &[u8], body_len: usize, room: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(8 + header.len() + room);
    head.extend_from_slice(&(header.len() as u32).to_le_bytes());
    head.extend_from_slice(&(body_len as u32).to_le_bytes());
    head.extend_from_slice(header);
    head
}

async fn write_frame<W: AsyncWrite + Unpin>(
    write: &mut W,
    header: &[u8],
    body: &[u8],
) -> Result<(), FrameError> {
    let mut frame = frame_head(header, body.len(), body.len().min(COALESCE));
    if body.len() <= COALESCE {
        frame.extend_from_slice(body);
        write.write_all(&frame).await?;
    } else {
        write.write_all(&frame).await?;
        write.write_all(body).await?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
