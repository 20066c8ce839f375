//! lambdalet's engine. It runs invocations and never sees HTTP requests from callers: the API
//! crate turns those into [`Invocation`]s.
//!
//! Per function version (and revision) there is a pool of warm environments; an invocation
//! takes the most recently used idle one or starts a new one (a cold start), hands the event to
//! its runtime through the environment's own Runtime API listener, waits for the response up to
//! the function timeout, and writes START / END / REPORT around the function's output.

mod catalog;
mod error;
mod instance;
mod invoker;
mod launch;
mod logs;
mod outcome;
mod pool;
mod request;
pub mod runtime_api;

pub use error::InvokeError;
pub use invoker::Invoker;
pub use launch::InitType;
pub use request::{Invocation, InvocationResult};
