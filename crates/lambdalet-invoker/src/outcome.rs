//! How an invocation ended, turned into what the caller gets and what the log says, with the
//! error types and messages the Lambda service uses.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lambdalet_core::limits::MAX_RESPONSE_BYTES;
use lambdalet_core::timefmt;
use lambdalet_store::Outcome;

use crate::runtime_api::{RuntimeOutcome, TrailerError};

/// How one invocation ended.
pub(crate) enum Ending {
    Runtime(RuntimeOutcome),
    Crashed(String),
    /// The runtime was killed for exceeding the sandbox's memory limit.
    OutOfMemory(String),
    TimedOut,
    /// A streamed response reached its caller whole and ended without an error.
    Streamed {
        content_type: String,
    },
    /// A streamed response ended with an error in its trailers.
    StreamFailed(TrailerError),
    /// A streamed response went over the caller's limit of `limit` bytes.
    StreamTooLarge {
        limit: usize,
    },
    /// A streamed response broke off before its end.
    Truncated,
}

impl Ending {
    /// What went wrong, for a trace; `None` for an answer.
    pub(crate) fn failure(&self) -> Option<String> {
        match self {
            Self::Runtime(RuntimeOutcome::Response { .. } | RuntimeOutcome::Stream { .. })
            | Self::Streamed { .. } => None,
            Self::Runtime(RuntimeOutcome::Error { error_type, .. }) => Some(format!(
                "the function returned an error: {}",
                error_type.as_deref().unwrap_or("unknown type")
            )),
            Self::Runtime(RuntimeOutcome::ResponseTooLarge) | Self::StreamTooLarge { .. } => {
                Some("Function.ResponseSizeTooLarge".to_owned())
            }
            Self::Crashed(why) => Some(why.clone()),
            Self::OutOfMemory(_) => Some("Runtime.OutOfMemory".to_owned()),
            Self::TimedOut => Some("Task timed out".to_owned()),
            Self::StreamFailed(_) => Some("the streamed response ended with an error".to_owned()),
            Self::Truncated => Some("the streamed response broke off".to_owned()),
        }
    }

    /// Whether the environment may run another invocation after this ending.
    pub(crate) fn keeps_environment(&self) -> bool {
        match self {
            Self::Runtime(_) | Self::Streamed { .. } | Self::StreamFailed(_) => true,
            Self::StreamTooLarge { .. } => true,
            Self::Crashed(_) | Self::OutOfMemory(_) | Self::TimedOut | Self::Truncated => false,
        }
    }
}

/// The caller's payload, the record's outcome and the REPORT status of an ending.
pub(crate) struct Concluded {
    pub payload: Bytes,
    pub content_type: String,
    pub outcome: Outcome,
    pub status: Option<(&'static str, Option<&'static str>)>,
}

/// Concludes an invocation; lines the service would log for it are appended to `log`.
pub(crate) fn conclude(
    ending: Ending,
    request_id: &str,
    timeout: Duration,
    log: &mut String,
) -> Concluded {
    let json = "application/json".to_owned();
    match ending {
        Ending::Runtime(RuntimeOutcome::Response { body, content_type }) => Concluded {
            payload: body,
            content_type: content_type.unwrap_or(json),
            outcome: Outcome::Success,
            status: None,
        },
        Ending::Runtime(RuntimeOutcome::Error { body, error_type }) => {
            let payload = if body.is_empty() {
                error_json(
                    error_type.as_deref().unwrap_or("Runtime.Unknown"),
                    "the runtime reported an error without a body",
                )
            } else {
                body
            };
            Concluded {
                payload,
                content_type: json,
                outcome: Outcome::FunctionError,
                status: None,
            }
        }
        Ending::Runtime(RuntimeOutcome::ResponseTooLarge) => {
            let msg = format!(
                "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            );
            log.push_str(&format!("{msg}\n"));
            Concluded {
                payload: error_json("Function.ResponseSizeTooLarge", &msg),
                content_type: json,
                outcome: Outcome::FunctionError,
                status: Some(("error", Some("Function.ResponseSizeTooLarge"))),
            }
        }
        // Only a stream whose runtime outcome was never read ends here; `streaming::pump`
        // turns every stream it reads into one of the endings below.
        Ending::Runtime(RuntimeOutcome::Stream { content_type, .. })
        | Ending::Streamed { content_type } => Concluded {
            payload: Bytes::new(),
            content_type,
            outcome: Outcome::Success,
            status: None,
        },
        Ending::StreamFailed(e) => {
            // The body is the caller's error document when it is one; else the trailer's type
            // names the error and the body (if any) is its message.
            let error_type = e.error_type.as_deref().unwrap_or("Runtime.Unknown");
            let payload = if error_type_of_json(&e.body).is_some() {
                e.body
            } else if e.body.is_empty() {
                error_json(
                    error_type,
                    "the runtime reported an error in its response stream",
                )
            } else {
                error_json(error_type, &String::from_utf8_lossy(&e.body))
            };
            Concluded {
                payload,
                content_type: json,
                outcome: Outcome::FunctionError,
                status: None,
            }
        }
        Ending::StreamTooLarge { limit } => {
            let msg = format!(
                "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            );
            log.push_str(&format!("{msg}\n"));
            Concluded {
                payload: error_json("Function.ResponseSizeTooLarge", &msg),
                content_type: json,
                outcome: Outcome::FunctionError,
                status: Some(("error", Some("Function.ResponseSizeTooLarge"))),
            }
        }
        Ending::Truncated => {
            let msg = format!(
                "RequestId: {request_id} Error: the runtime's response stream broke off before its end"
            );
            log.push_str(&format!("{msg}\nRuntime.TruncatedResponse\n"));
            Concluded {
                payload: error_json("Runtime.TruncatedResponse", &msg),
                content_type: json,
                outcome: Outcome::FunctionError,
                status: Some(("error", Some("Runtime.TruncatedResponse"))),
            }
        }
        Ending::Crashed(why) => exited(request_id, &why, "Runtime.ExitError", log),
        Ending::OutOfMemory(why) => exited(request_id, &why, "Runtime.OutOfMemory", log),
        Ending::TimedOut => {
            let secs = timeout.as_secs();
            log.push_str(&format!(
                "{} {request_id} Task timed out after {secs}.00 seconds\n",
                timefmt::rfc3339_millis(SystemTime::now())
            ));
            Concluded {
                payload: error_json(
                    "Sandbox.Timedout",
                    &format!(
                        "RequestId: {request_id} Error: Task timed out after {secs}.00 seconds"
                    ),
                ),
                content_type: json,
                outcome: Outcome::Timeout,
                status: Some(("timeout", None)),
            }
        }
    }
}

/// A runtime that exited mid-invocation (`why`: `Runtime exited with error: ...`), reported
/// with `error_type` as the service does.
fn exited(request_id: &str, why: &str, error_type: &'static str, log: &mut String) -> Concluded {
    let message = format!("RequestId: {request_id} Error: {why}");
    log.push_str(&format!("{message}\n{error_type}\n"));
    Concluded {
        payload: error_json(error_type, &message),
        content_type: "application/json".to_owned(),
        outcome: Outcome::Crash,
        status: Some(("error", Some(error_type))),
    }
}

/// The `errorType` of a JSON error document.
fn error_type_of_json(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errorType")?.as_str().map(str::to_owned)
}

/// `{"errorType": ..., "errorMessage": ...}`.
pub(crate) fn error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}
