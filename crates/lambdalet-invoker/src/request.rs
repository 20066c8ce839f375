//! The invoker's input and output: typed, with no HTTP in sight.

use std::sync::Arc;

use bytes::Bytes;
use lambdalet_core::DeployedVersion;

/// One invocation to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub target: Arc<DeployedVersion>,
    /// The ARN as the caller named the function (qualified when a qualifier was given).
    pub invoked_arn: String,
    pub payload: Bytes,
    /// Decoded client context JSON (`X-Amz-Client-Context`).
    pub client_context: Option<String>,
    /// The caller's X-Ray trace header, if any; otherwise one is generated.
    pub trace_id: Option<String>,
    /// Whether the caller wants the log tail back.
    pub want_log_tail: bool,
    /// The request id to use (asynchronous events keep theirs across retries); else a new one.
    pub request_id: Option<String>,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct InvocationResult {
    pub request_id: String,
    pub executed_version: String,
    pub payload: Bytes,
    pub content_type: String,
    /// The function (or its runtime) failed; `payload` is the error JSON. The Invoke API reports
    /// this as `X-Amz-Function-Error: Unhandled` with status 200.
    pub function_error: bool,
    /// The last 4 KB of the invocation's log, when asked for.
    pub log_tail: Option<String>,
}
