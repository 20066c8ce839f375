//! Streamed invocations: what a caller of `InvokeWithResponseStream` (or a function URL in
//! `RESPONSE_STREAM` mode) gets from [`crate::Invoker::invoke_stream`], and how the invoker
//! moves a runtime's streamed response to it.
//!
//! The caller gets a [`ResponseStream`]: the request id, the executed version and the
//! response's content type at once (as soon as the runtime starts its response, or the
//! invocation ends otherwise), then [`StreamItem::Chunk`]s as the runtime writes them, then one
//! [`StreamItem::End`] with the outcome. A function that answers with an ordinary (buffered)
//! response gives one chunk with the whole payload. Nothing is buffered whole: the queues are
//! bounded, so a slow caller slows the runtime, within the function's timeout.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use lambdalet_core::limits::{MAX_RESPONSE_BYTES, MAX_STREAMED_RESPONSE_BYTES};
use lambdalet_sandbox::Sandbox;
use tokio::sync::mpsc;

use crate::outcome::Ending;
use crate::request::InvocationResult;
use crate::runtime_api::{RuntimeOutcome, StreamPart};

/// Items queued between the invocation and its caller.
const CALLER_QUEUE: usize = 16;

/// A streamed invocation as its caller reads it.
#[derive(Debug)]
pub struct ResponseStream {
    pub request_id: String,
    /// The version that runs (an alias resolved).
    pub executed_version: String,
    /// The content type of the response: what the runtime's streamed response declared
    /// (`application/octet-stream` when it did not; Node's `HttpResponseStream` gives
    /// `application/vnd.awslambda.http-integration-response`), or that of a buffered response.
    pub content_type: String,
    rx: mpsc::Receiver<Msg>,
    ended: bool,
}

/// What a [`ResponseStream`] yields: chunks in order, then exactly one `End`.
#[derive(Debug)]
pub enum StreamItem {
    Chunk(Bytes),
    End(StreamEnd),
}

/// How a streamed invocation ended.
#[derive(Debug, Clone, Default)]
pub struct StreamEnd {
    /// `None`: the function's response ended normally.
    pub error: Option<StreamError>,
    /// The last 4 KB of the invocation's log, when asked for (`want_log_tail`).
    pub log_tail: Option<String>,
}

/// A failure during (or instead of) the response: a function error, a timeout, a crash, a
/// response over the limit.
#[derive(Debug, Clone)]
pub struct StreamError {
    /// `errorType`: the function's (`Error`, `Custom.Failure`) or the service's
    /// (`Sandbox.Timedout`, `Runtime.ExitError`, `Function.ResponseSizeTooLarge`,
    /// `Runtime.TruncatedResponse`).
    pub error_type: String,
    /// `errorMessage`.
    pub message: String,
    /// The error document as the buffered Invoke API returns it.
    pub body: Bytes,
}

impl ResponseStream {
    /// The next chunk, or the end; `None` after the end.
    pub async fn next(&mut self) -> Option<StreamItem> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// [`Self::next`] for a hand-written `Stream` or `http_body::Body`.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            return match std::task::ready!(self.rx.poll_recv(cx)) {
                Some(Msg::Chunk(b)) => Poll::Ready(Some(StreamItem::Chunk(b))),
                Some(Msg::End(end)) => {
                    self.ended = true;
                    Poll::Ready(Some(StreamItem::End(end)))
                }
                Some(Msg::Head(_)) => continue,
                None => {
                    // The invocation's task is gone without an end (it panicked): say so
                    // rather than let the caller take a cut response for a whole one.
                    self.ended = true;
                    let message =
                        "lambdalet lost the invocation before its end; see the daemon's log";
                    Poll::Ready(Some(StreamItem::End(StreamEnd {
                        error: Some(StreamError {
                            error_type: "ServiceException".to_owned(),
                            message: message.to_owned(),
                            body: crate::outcome::error_json("ServiceException", message),
                        }),
                        log_tail: None,
                    })))
                }
            };
        }
    }
}

/// The start of a response.
#[derive(Debug)]
pub(crate) struct Head {
    request_id: String,
    executed_version: String,
    content_type: String,
}

#[derive(Debug)]
pub(crate) enum Msg {
    Head(Head),
    Chunk(Bytes),
    End(StreamEnd),
}

/// Where an invocation's response goes.
pub(crate) enum Delivery {
    /// Whole, in an [`InvocationResult`] (the Invoke API): a streamed response is collected,
    /// up to 6 MB.
    Buffered,
    /// As it comes, to a [`ResponseStream`].
    Streamed(Streamer),
}

/// The sending side of a [`ResponseStream`].
pub(crate) struct Streamer {
    tx: mpsc::Sender<Msg>,
    head_sent: bool,
    /// Chunks of a streamed response went out (a buffered result must not follow them).
    streamed: bool,
}

/// A [`Delivery::Streamed`] and the receiver the caller's [`ResponseStream`] is made from.
pub(crate) fn streamed() -> (Delivery, mpsc::Receiver<Msg>) {
    let (tx, rx) = mpsc::channel(CALLER_QUEUE);
    let streamer = Streamer {
        tx,
        head_sent: false,
        streamed: false,
    };
    (Delivery::Streamed(streamer), rx)
}

/// Waits for the head of a streamed invocation; `None` if the invocation ended without one
/// (it was refused before it ran: its task's error says why).
pub(crate) async fn first(mut rx: mpsc::Receiver<Msg>) -> Option<ResponseStream> {
    match rx.recv().await? {
        Msg::Head(h) => Some(ResponseStream {
            request_id: h.request_id,
            executed_version: h.executed_version,
            content_type: h.content_type,
            rx,
            ended: false,
        }),
        // The head always goes first.
        Msg::Chunk(_) | Msg::End(_) => None,
    }
}

impl Delivery {
    /// Most bytes a runtime may stream to this delivery's caller.
    pub(crate) fn stream_limit(&self) -> usize {
        match self {
            Self::Buffered => MAX_RESPONSE_BYTES,
            Self::Streamed(_) => MAX_STREAMED_RESPONSE_BYTES,
        }
    }
}

impl Streamer {
    async fn send(&mut self, msg: Msg) {
        // A caller that went away does not stop the function (as in Lambda): the rest of its
        // response is read and dropped.
        let _ = self.tx.send(msg).await;
    }

    async fn head(&mut self, request_id: &str, executed_version: &str, content_type: &str) {
        if !self.head_sent {
            self.head_sent = true;
            self.send(Msg::Head(Head {
                request_id: request_id.to_owned(),
                executed_version: executed_version.to_owned(),
                content_type: content_type.to_owned(),
            }))
            .await;
        }
    }

    /// Sends what is left of `result` after the invocation: the head if it has not gone, a
    /// buffered payload as one chunk, and the end.
    pub(crate) async fn complete(mut self, result: InvocationResult) {
        self.head(
            &result.request_id,
            &result.executed_version,
            &result.content_type,
        )
        .await;
        let error = result
            .function_error
            .then(|| stream_error(result.payload.clone()));
        if error.is_none() && !self.streamed && !result.payload.is_empty() {
            self.send(Msg::Chunk(result.payload)).await;
        }
        self.send(Msg::End(StreamEnd {
            error,
            log_tail: result.log_tail,
        }))
        .await;
    }
}

/// The type and message of an error document (`{"errorType", "errorMessage", ...}`).
fn stream_error(body: Bytes) -> StreamError {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    StreamError {
        error_type: field("errorType").unwrap_or_else(|| "Unhandled".to_owned()),
        message: field("errorMessage")
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
        body,
    }
}

/// Reads a runtime's streamed response to its end, passing it to `delivery`'s caller (or
/// collecting it for a buffered one), until `deadline`. The head names `request_id` and
/// `executed_version`.
pub(crate) async fn pump(
    mut body: mpsc::Receiver<StreamPart>,
    content_type: String,
    delivery: &mut Delivery,
    ids: (&str, &str),
    deadline: tokio::time::Instant,
    sandbox: &Arc<dyn Sandbox>,
) -> Ending {
    let work = async {
        let mut collected = BytesMut::new();
        if let Delivery::Streamed(s) = delivery {
            s.head(ids.0, ids.1, &content_type).await;
        }
        loop {
            let Some(part) = body.recv().await else {
                return StreamPart::Truncated;
            };
            match part {
                StreamPart::Data(b) => match delivery {
                    Delivery::Buffered => collected.extend_from_slice(&b),
                    Delivery::Streamed(s) => {
                        s.streamed = true;
                        s.send(Msg::Chunk(b)).await;
                    }
                },
                StreamPart::End(None) if matches!(delivery, Delivery::Buffered) => {
                    return StreamPart::Data(collected.freeze());
                }
                end => return end,
            }
        }
    };
    let last = match tokio::time::timeout_at(deadline, work).await {
        Ok(last) => last,
        Err(_) => return Ending::TimedOut,
    };
    let buffered = matches!(delivery, Delivery::Buffered);
    match last {
        // A buffered caller's whole response (see above).
        StreamPart::Data(body) => Ending::Runtime(RuntimeOutcome::Response {
            body,
            content_type: Some(content_type),
        }),
        StreamPart::End(None) => Ending::Streamed { content_type },
        StreamPart::End(Some(error)) => Ending::StreamFailed(error),
        StreamPart::TooLarge { .. } if buffered => {
            Ending::Runtime(RuntimeOutcome::ResponseTooLarge)
        }
        StreamPart::TooLarge { limit } => Ending::StreamTooLarge { limit },
        StreamPart::Truncated => broken_off(sandbox).await,
    }
}

/// A stream that broke off: the runtime crashed (its exit follows at once), or it cut its own
/// response short.
async fn broken_off(sandbox: &Arc<dyn Sandbox>) -> Ending {
    let mut exited = sandbox.exited();
    let wait = exited.wait_for(Option::is_some);
    let info = match tokio::time::timeout(Duration::from_millis(300), wait).await {
        Ok(Ok(info)) => *info,
        _ => None,
    };
    let Some(info) = info else {
        return Ending::Truncated;
    };
    let why = if info.code == Some(0) {
        "Runtime exited without providing a reason".to_owned()
    } else {
        format!("Runtime exited with error: {info}")
    };
    if sandbox.out_of_memory() {
        Ending::OutOfMemory(why)
    } else {
        Ending::Crashed(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(payload: &'static [u8], function_error: bool) -> InvocationResult {
        InvocationResult {
            request_id: "r".to_owned(),
            executed_version: "$LATEST".to_owned(),
            payload: Bytes::from_static(payload),
            content_type: "application/json".to_owned(),
            function_error,
            log_tail: Some("tail".to_owned()),
        }
    }

    #[tokio::test]
    async fn a_buffered_result_is_one_chunk_then_the_end() {
        let (Delivery::Streamed(s), rx) = streamed() else {
            panic!("streamed")
        };
        s.complete(result(b"{\"a\":1}", false)).await;
        let mut stream = first(rx).await.expect("a head");
        assert_eq!(stream.content_type, "application/json");
        assert_eq!(stream.executed_version, "$LATEST");
        assert!(
            matches!(stream.next().await, Some(StreamItem::Chunk(b)) if &b[..] == b"{\"a\":1}")
        );
        let Some(StreamItem::End(end)) = stream.next().await else {
            panic!("the end")
        };
        assert!(end.error.is_none());
        assert_eq!(end.log_tail.as_deref(), Some("tail"));
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn an_error_is_the_end_without_a_chunk() {
        let (Delivery::Streamed(s), rx) = streamed() else {
            panic!("streamed")
        };
        s.complete(result(
            br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 1.00 seconds"}"#,
            true,
        ))
        .await;
        let mut stream = first(rx).await.expect("a head");
        let Some(StreamItem::End(end)) = stream.next().await else {
            panic!("the end")
        };
        let e = end.error.expect("an error");
        assert_eq!(e.error_type, "Sandbox.Timedout");
        assert_eq!(e.message, "Task timed out after 1.00 seconds");
    }

    #[tokio::test]
    async fn a_lost_invocation_ends_with_an_error() {
        let (delivery, rx) = streamed();
        let Delivery::Streamed(mut s) = delivery else {
            panic!("streamed")
        };
        s.head("r", "1", "text/plain").await;
        s.send(Msg::Chunk(Bytes::from_static(b"part"))).await;
        drop(s);
        let mut stream = first(rx).await.expect("a head");
        assert!(matches!(stream.next().await, Some(StreamItem::Chunk(_))));
        let Some(StreamItem::End(end)) = stream.next().await else {
            panic!("the end")
        };
        assert_eq!(end.error.expect("an error").error_type, "ServiceException");
        assert!(stream.next().await.is_none());
    }

    #[test]
    fn error_documents_that_are_not_json_keep_their_text() {
        let e = stream_error(Bytes::from_static(b"plain failure"));
        assert_eq!(e.error_type, "Unhandled");
        assert_eq!(e.message, "plain failure");
    }
}
