//! The Invoke API: `POST /2015-03-31/functions/{name}/invocations`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use lambdalet_control::Resolved;
use lambdalet_core::limits::{
    MAX_ASYNC_PAYLOAD_BYTES, MAX_CLIENT_CONTEXT_BYTES, MAX_SYNC_PAYLOAD_BYTES,
};
use lambdalet_core::{Encoding, ErrorCode, FunctionRef, Principal};
use lambdalet_invoker::{AsyncRequest, Invocation};

use crate::error::ApiError;
use crate::functions::function_ref;
use crate::state::ApiState;

enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

pub(crate) async fn invoke(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = function_ref(&name, &params)?;
    s.control.authorize_invoke(&who, r.name.as_str())?;
    let kind = match header(&headers, "x-amz-invocation-type") {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "X-Amz-Invocation-Type {other:?} is not valid: use RequestResponse, Event or DryRun"
            )));
        }
    };
    let inputs = inputs(&s, &r, &headers, body).await?;

    match kind {
        InvocationType::DryRun => return Ok(StatusCode::NO_CONTENT.into_response()),
        InvocationType::Event => {
            if inputs.payload.len() > MAX_ASYNC_PAYLOAD_BYTES {
                return Err(ApiError::new(
                    ErrorCode::RequestTooLarge,
                    format!(
                        "Request must be smaller than {MAX_ASYNC_PAYLOAD_BYTES} bytes for an asynchronous invocation (this one is {} bytes): invoke synchronously (up to 6 MB) or pass large data by reference",
                        inputs.payload.len()
                    ),
                ));
            }
            let request_id = s
                .queue
                .accept(AsyncRequest {
                    function: r.name.to_string(),
                    qualifier: r.qualifier.as_ref().map(ToString::to_string),
                    payload: inputs.payload,
                    client_context: inputs.client_context,
                })
                .await?;
            let mut resp = StatusCode::ACCEPTED.into_response();
            put(resp.headers_mut(), "x-amzn-requestid", &request_id);
            return Ok(resp);
        }
        InvocationType::RequestResponse => {}
    }

    let result = s.invoker.invoke(inputs.invocation(&headers)).await?;

    let mut resp = Response::new(Body::from(result.payload));
    let h = resp.headers_mut();
    put(h, "content-type", &result.content_type);
    put(h, "x-amz-executed-version", &result.executed_version);
    put(h, "x-amzn-requestid", &result.request_id);
    if result.function_error {
        h.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if let Some(tail) = result.log_tail {
        put(
            h,
            "x-amz-log-result",
            &base64::engine::general_purpose::STANDARD.encode(tail),
        );
    }
    Ok(resp)
}

/// What both Invoke operations read after the invocation type: `X-Amz-Log-Type`, the client
/// context, and the payload, checked against the function's input encoding.
pub(crate) struct Inputs {
    pub(crate) resolved: Resolved,
    pub(crate) payload: Bytes,
    pub(crate) client_context: Option<String>,
    pub(crate) want_tail: bool,
}

/// Reads and checks the [`Inputs`] of an invocation of `r`.
pub(crate) async fn inputs(
    s: &ApiState,
    r: &FunctionRef,
    headers: &HeaderMap,
    body: Body,
) -> Result<Inputs, ApiError> {
    let want_tail = match header(headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "X-Amz-Log-Type {other:?} is not valid: use None or Tail"
            )));
        }
    };
    let client_context = header(headers, "x-amz-client-context")
        .map(decode_client_context)
        .transpose()?;
    let payload = read_payload(headers, body).await?;
    let resolved = s.control.resolve(r)?;
    let payload = match resolved
        .version
        .config
        .lifecycle
        .input_payload_encoding_type
    {
        Encoding::Json => validate_json(payload)?,
        Encoding::Binary => payload,
    };
    Ok(Inputs {
        resolved,
        payload,
        client_context,
        want_tail,
    })
}

impl Inputs {
    /// The invocation, with the caller's `X-Amzn-Trace-Id` (or its W3C `traceparent`, as an
    /// X-Ray header).
    pub(crate) fn invocation(self, headers: &HeaderMap) -> Invocation {
        Invocation {
            target: self.resolved.version,
            invoked_arn: self.resolved.invoked_arn,
            payload: self.payload,
            client_context: self.client_context,
            trace_id: header(headers, "x-amzn-trace-id")
                .map(str::to_owned)
                .or_else(|| {
                    header(headers, "traceparent")
                        .and_then(lambdalet_invoker::traces::xray_from_traceparent)
                }),
            want_log_tail: self.want_tail,
            request_id: None,
        }
    }
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

pub(crate) fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn too_large(size: Option<usize>) -> ApiError {
    let got = size
        .map(|s| format!(" (this one is {s} bytes)"))
        .unwrap_or_default();
    ApiError::new(
        ErrorCode::RequestTooLarge,
        format!(
            "Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation{got}: send large data by reference (a file path, an S3 key)"
        ),
    )
}

/// Reads the payload, refusing more than 6 MB without reading it all.
pub(crate) async fn read_payload(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    if let Some(len) = header(headers, "content-length").and_then(|l| l.parse::<usize>().ok())
        && len > MAX_SYNC_PAYLOAD_BYTES
    {
        return Err(too_large(Some(len)));
    }
    match Limited::new(body, MAX_SYNC_PAYLOAD_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(None)),
        Err(e) => Err(ApiError::new(
            ErrorCode::InvalidRequestContent,
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// A function with `json` encoding takes JSON; an empty payload is `{}`.
pub(crate) fn validate_json(payload: Bytes) -> Result<Bytes, ApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        Ok(_) => Ok(payload),
        Err(e) => Err(ApiError::new(
            ErrorCode::InvalidRequestContent,
            format!(
                "Could not parse request body into json: {e}; the payload must be a JSON document"
            ),
        )),
    }
}

pub(crate) fn decode_client_context(b64: &str) -> Result<String, ApiError> {
    if b64.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(ApiError::invalid(format!(
            "X-Amz-Client-Context is {} bytes; the limit is {MAX_CLIENT_CONTEXT_BYTES} bytes of base64",
            b64.len()
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| {
            ApiError::invalid(format!(
                "X-Amz-Client-Context must be base64-encoded JSON: {e}"
            ))
        })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("X-Amz-Client-Context must be base64-encoded UTF-8 JSON"))?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
        ApiError::invalid(format!(
            "X-Amz-Client-Context is not JSON once decoded: {e}"
        ))
    })?;
    Ok(text)
}
