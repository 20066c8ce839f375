//! A `RESPONSE_STREAM` URL: the function's response goes to the client as the function writes
//! it.
//!
//! A response in Lambda's HTTP integration form (Node's `awslambda.HttpResponseStream`: a JSON
//! prelude with `statusCode`, `headers` and `cookies`, 8 NUL bytes, then the body) gives the
//! status and headers, and its body follows as it comes. Any other response, a buffered
//! handler's result included, is the body of a 200 exactly as the function wrote it, with the
//! function's content type: mapping `statusCode` and `body` is the buffered mode's, as on AWS.
//! A failure before anything was sent is a 502, as in the buffered mode; after that the
//! connection is cut, so the client sees a truncated response, never a whole-looking one.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, StatusCode};
use hyper::body::Frame;
use lambdalet_invoker::{ResponseStream, StreamEnd, StreamItem};

use super::response::{self, HTTP_INTEGRATION, function_error};

/// The most a prelude may take before its 8 NUL bytes (Lambda's is a small JSON document).
const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// The HTTP response for a streamed invocation: its head once the status is known, then the
/// body as it comes.
pub(super) async fn respond(mut stream: ResponseStream) -> Response {
    let integration = stream.content_type == HTTP_INTEGRATION;
    let mut head = BytesMut::new();
    // Until the body's first byte (or the prelude's end) nothing is sent, so a failure is
    // still a 502.
    let first = loop {
        match stream.next().await {
            Some(StreamItem::Chunk(b)) => {
                head.extend_from_slice(&b);
                if !integration {
                    break head.freeze();
                }
                if let Some(at) = prelude_end(&head) {
                    let mut all = head.freeze();
                    let rest = all.split_off(at + 8);
                    let prelude = all.slice(..at);
                    return with_prelude(&prelude, Streamed::new(rest, stream));
                }
                if head.len() > MAX_PRELUDE_BYTES {
                    tracing::info!(request_id = %stream.request_id, "url.bad_response: no end of the HTTP response prelude (8 NUL bytes) in the first {MAX_PRELUDE_BYTES} bytes");
                    return function_error();
                }
            }
            Some(StreamItem::End(end)) => return whole(&stream, head.freeze(), &end),
            None => return function_error(),
        }
    };
    let content_type = HeaderValue::from_str(&stream.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut resp = Response::new(Body::new(Streamed::new(first, stream)));
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, content_type);
    resp
}

/// The response for an invocation that ended before anything was sent.
fn whole(stream: &ResponseStream, bytes: Bytes, end: &StreamEnd) -> Response {
    if let Some(e) = &end.error {
        tracing::info!(request_id = %stream.request_id, error_type = %e.error_type, "url.function_error: {}", e.message);
        return function_error();
    }
    if stream.content_type == HTTP_INTEGRATION {
        return response::from_http_integration(&bytes).unwrap_or_else(|why| {
            tracing::info!(request_id = %stream.request_id, "url.bad_response: {why}");
            function_error()
        });
    }
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::OK;
    if let Ok(v) = HeaderValue::from_str(&stream.content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// The response a prelude describes, with `body`.
fn with_prelude(prelude: &[u8], body: Streamed) -> Response {
    let request_id = body.stream.request_id.clone();
    response::from_prelude(prelude, Body::new(body)).unwrap_or_else(|why| {
        tracing::info!(request_id = %request_id, "url.bad_response: {why}");
        function_error()
    })
}

/// Where the 8 NUL bytes that end a prelude start.
fn prelude_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(8).position(|w| w == [0u8; 8])
}

/// The body of a streamed response: what was read before the head went out, then each chunk
/// as it comes; an error at the end cuts the connection.
struct Streamed {
    first: Option<Bytes>,
    stream: ResponseStream,
}

impl Streamed {
    fn new(first: Bytes, stream: ResponseStream) -> Self {
        Self {
            first: (!first.is_empty()).then_some(first),
            stream,
        }
    }
}

impl axum::body::HttpBody for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if let Some(b) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        match std::task::ready!(this.stream.poll_next(cx)) {
            Some(StreamItem::Chunk(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Some(StreamItem::End(StreamEnd { error: Some(e), .. })) => {
                tracing::info!(request_id = %this.stream.request_id, error_type = %e.error_type, "url.stream_cut: the function failed after its response started: {}", e.message);
                Poll::Ready(Some(Err(std::io::Error::other(format!(
                    "{}: {}",
                    e.error_type, e.message
                )))))
            }
            Some(StreamItem::End(_)) | None => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_prelude_ends_at_eight_nul_bytes() {
        assert_eq!(super::prelude_end(b"{}\0\0\0\0\0\0\0\0body"), Some(2));
        assert_eq!(super::prelude_end(b"{}\0\0\0\0\0\0\0"), None);
    }
}
