//! The scheduler's behaviour, run through the production invoker over the fake backend: the
//! limits and the order of `scheduler.rs` in `limits`, a sandbox's life (warm reuse, crashes,
//! timeouts, pinned functions, shutdown) in `lifecycle`.

mod lifecycle;
mod limits;

use crate::InvocationResult;

/// The `errorType` and `errorMessage` of a function error.
fn function_error(r: &InvocationResult) -> (String, String) {
    assert!(r.function_error, "expected a function error, got {r:?}");
    let v: serde_json::Value = serde_json::from_slice(&r.payload).expect("error JSON");
    let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    (field("errorType"), field("errorMessage"))
}

/// The REPORT line of an invocation's log.
fn report(r: &InvocationResult) -> &str {
    r.log_tail
        .as_deref()
        .and_then(|log| log.lines().find(|l| l.starts_with("REPORT ")))
        .expect("the log has a REPORT line")
}
