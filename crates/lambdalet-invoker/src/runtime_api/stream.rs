//! A streamed response (`POST /runtime/invocation/{id}/response` with
//! `Lambda-Runtime-Function-Response-Mode: streaming`): the body's chunks go to the invoker as
//! they arrive, never buffered whole, and an error the runtime meets mid-stream comes as the
//! HTTP trailers `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body`
//! (base64 of the error JSON), as the Lambda service and its runtime interface clients do.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use super::channel::RuntimeChannel;

/// Parts queued between the runtime's connection and the invoker: a slow caller slows the
/// runtime (its writes wait) instead of growing the daemon's memory.
pub(crate) const STREAM_QUEUE: usize = 16;

/// The content type of a streamed response whose runtime did not say.
pub const DEFAULT_STREAM_CONTENT_TYPE: &str = "application/octet-stream";

const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// One part of a streamed response, in order; the last is always `End`, `TooLarge` or
/// `Truncated` (or the sender is dropped when the connection's task is).
#[derive(Debug)]
pub enum StreamPart {
    Data(Bytes),
    /// The body ended; with the error its trailers reported, if any.
    End(Option<TrailerError>),
    /// The body went over `limit` bytes: the runtime was answered 413 and the rest not read.
    TooLarge {
        limit: usize,
    },
    /// The body ended before its last chunk (the runtime's connection broke).
    Truncated,
}

/// An error a runtime reported in the trailers of its stream.
#[derive(Debug, Clone)]
pub struct TrailerError {
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    /// `Lambda-Runtime-Function-Error-Body`, base64-decoded (kept as sent when it is not base64).
    pub body: Bytes,
}

/// How reading a streamed body ended, for the runtime's HTTP answer.
pub(super) enum Received {
    /// The whole body was passed on.
    Done,
    /// Over the limit: 413.
    TooLarge(usize),
    /// The connection broke mid-body: 400 `TruncatedHTTPRequest`.
    Truncated,
    /// The invocation ended (timeout, crash) before the stream did.
    Abandoned,
}

/// Takes the streamed response of invocation `id` from `req`. `Err` is the channel's refusal
/// (a wrong id, a runtime not running an invocation).
pub(super) async fn receive(
    channel: &RuntimeChannel,
    id: &str,
    content_type: Option<String>,
    req: Request<Incoming>,
) -> Result<Received, super::channel::Refusal> {
    let content_type = content_type
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_STREAM_CONTENT_TYPE.to_owned());
    let (tx, limit) = channel.begin_stream(id, content_type)?;
    let mut body = req.into_body();
    let mut total = 0usize;
    let mut error = None;
    loop {
        let part = match body.frame().await {
            None => {
                let _ = tx.send(StreamPart::End(error)).await;
                return Ok(Received::Done);
            }
            Some(Err(_)) => {
                let _ = tx.send(StreamPart::Truncated).await;
                return Ok(Received::Truncated);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        error = trailer_error(&trailers);
                    }
                    continue;
                }
            },
        };
        if part.is_empty() {
            continue;
        }
        total = total.saturating_add(part.len());
        if total > limit {
            let _ = tx.send(StreamPart::TooLarge { limit }).await;
            return Ok(Received::TooLarge(limit));
        }
        if tx.send(StreamPart::Data(part)).await.is_err() {
            return Ok(Received::Abandoned);
        }
    }
}

/// The error a runtime's trailers report, if they name one.
fn trailer_error(trailers: &HeaderMap) -> Option<TrailerError> {
    let get = |name: &str| {
        trailers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let error_type = get(ERROR_TYPE_TRAILER).map(str::to_owned);
    let body = get(ERROR_BODY_TRAILER).map(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_or_else(|_| Bytes::copy_from_slice(b.as_bytes()), Bytes::from)
    });
    if error_type.is_none() && body.is_none() {
        return None;
    }
    Some(TrailerError {
        error_type,
        body: body.unwrap_or_default(),
    })
}

/// The status a runtime's streaming POST is answered with, and its error type and message.
pub(super) fn answer(received: &Received) -> Option<(StatusCode, &'static str, String)> {
    match received {
        Received::Done => None,
        Received::TooLarge(limit) => Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Exceeded maximum allowed payload size ({limit} bytes)."),
        )),
        Received::Truncated => Some((
            StatusCode::BAD_REQUEST,
            "TruncatedHTTPRequest",
            "the streamed response ended before its last chunk".to_owned(),
        )),
        Received::Abandoned => Some((
            StatusCode::GONE,
            "InvocationEnded",
            "the invocation ended (timed out) before its response stream did; the rest was not read"
                .to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_decoded() {
        let mut h = HeaderMap::new();
        h.insert(ERROR_TYPE_TRAILER, "Custom.Boom".parse().expect("value"));
        let body = base64::engine::general_purpose::STANDARD.encode(br#"{"errorType":"x"}"#);
        h.insert(ERROR_BODY_TRAILER, body.parse().expect("value"));
        let e = trailer_error(&h).expect("an error");
        assert_eq!(e.error_type.as_deref(), Some("Custom.Boom"));
        assert_eq!(&e.body[..], br#"{"errorType":"x"}"#);

        let mut h = HeaderMap::new();
        h.insert(ERROR_BODY_TRAILER, "not base64!".parse().expect("value"));
        let e = trailer_error(&h).expect("an error");
        assert_eq!(e.error_type, None);
        assert_eq!(&e.body[..], b"not base64!");

        assert!(trailer_error(&HeaderMap::new()).is_none());
    }
}
