//! `InvokeWithResponseStream`: `POST /2021-11-15/functions/{name}/response-streaming-invocations`.
//!
//! The answer is 200 with the function's content type (`ResponseStreamContentType`) and
//! `X-Amz-Executed-Version`, and a body of AWS event-stream messages as the response comes:
//! `PayloadChunk` events with the bytes, then one `InvokeComplete` event (`ErrorCode`,
//! `ErrorDetails`, `LogResult`). A failure after the answer started (a function error, a
//! timeout, a response over the limit) is reported in `InvokeComplete`, the status staying 200.
//! The frames are lambdalet-ipc's event-stream encoding (prelude, headers, payload, CRC32s).

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use hyper::body::Frame;
use lambdalet_core::Principal;
use lambdalet_invoker::{ResponseStream, StreamEnd, StreamItem};
use lambdalet_ipc::frame::{self, Header, Message};

use crate::error::ApiError;
use crate::functions::function_ref;
use crate::invoke::{header, inputs, put};
use crate::state::ApiState;

/// The path of the operation, under which the router mounts it.
pub(crate) const PATH: &str = "/2021-11-15/functions/{name}/response-streaming-invocations";

/// Largest payload of one `PayloadChunk` message. A buffered response (at most 6 MB) is one
/// chunk, as the service sends it; longer pieces are split (an event-stream message holds at
/// most 24 MiB).
const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

pub(crate) async fn invoke_stream(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    s.control.authorize_invoke(&who, r.name.as_str())?;
    let dry_run = match header(&headers, "x-amz-invocation-type") {
        None | Some("RequestResponse") => false,
        Some("DryRun") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "X-Amz-Invocation-Type {other:?} is not valid for InvokeWithResponseStream: use RequestResponse or DryRun (an asynchronous invocation is Invoke with Event)"
            )));
        }
    };
    let inputs = inputs(&s, &r, &headers, body).await?;
    if dry_run {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }

    let stream = s.invoker.invoke_stream(inputs.invocation(&headers)).await?;

    let mut h = HeaderMap::new();
    put(&mut h, "content-type", &stream.content_type);
    put(&mut h, "x-amz-executed-version", &stream.executed_version);
    put(&mut h, "x-amzn-requestid", &stream.request_id);
    let mut resp = Response::new(Body::new(EventStreamBody { stream }));
    *resp.headers_mut() = h;
    Ok(resp)
}

/// The response body: each item of the invocation's stream as event-stream messages, sent as
/// soon as it comes.
struct EventStreamBody {
    stream: ResponseStream,
}

impl axum::body::HttpBody for EventStreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let bytes = match std::task::ready!(this.stream.poll_next(cx)) {
            Some(StreamItem::Chunk(b)) => payload_chunks(b),
            Some(StreamItem::End(end)) => invoke_complete(&end),
            None => return Poll::Ready(None),
        };
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

/// An event message: `:event-type`, `:content-type`, `:message-type` = `event`.
fn event(event_type: &str, content_type: &str, payload: Bytes) -> Message {
    Message::new(
        vec![
            Header::string(":event-type", event_type),
            Header::string(":content-type", content_type),
            Header::string(":message-type", "event"),
        ],
        payload,
    )
}

/// `PayloadChunk` messages carrying `bytes` (one, unless it is over [`MAX_CHUNK_BYTES`]).
pub(crate) fn payload_chunks(bytes: Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(bytes.len() + 128);
    let mut rest = bytes;
    loop {
        let piece = rest.split_to(rest.len().min(MAX_CHUNK_BYTES));
        let m = event("PayloadChunk", "application/octet-stream", piece);
        frame::encode_into(&m, &mut out).expect("a chunk of at most 8 MiB fits a message");
        if rest.is_empty() {
            return out.freeze();
        }
    }
}

/// The `InvokeComplete` message: `{"ErrorCode", "ErrorDetails", "LogResult"}`, each only when
/// there is one.
pub(crate) fn invoke_complete(end: &StreamEnd) -> Bytes {
    let mut doc = serde_json::Map::new();
    if let Some(e) = &end.error {
        doc.insert("ErrorCode".into(), cut(&e.error_type).into());
        doc.insert("ErrorDetails".into(), cut(&e.message).into());
    }
    if let Some(tail) = &end.log_tail {
        let b64 = base64::engine::general_purpose::STANDARD.encode(tail);
        doc.insert("LogResult".into(), b64.into());
    }
    let json = serde_json::Value::Object(doc).to_string();
    let m = event("InvokeComplete", "application/json", Bytes::from(json));
    frame::encode(&m).expect("an InvokeComplete message is far below 24 MiB (its texts are cut)")
}

/// Most bytes of an error's type or message in `InvokeComplete`.
const MAX_DETAILS_BYTES: usize = 256 * 1024;

/// `text` cut to [`MAX_DETAILS_BYTES`] at a character boundary.
fn cut(text: &str) -> &str {
    if text.len() <= MAX_DETAILS_BYTES {
        return text;
    }
    let mut end = MAX_DETAILS_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
