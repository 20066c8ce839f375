//! lambdalet's engine. It runs invocations and never sees HTTP requests from callers: the API
//! crate turns those into [`Invocation`]s.
//!
//! Per function version (and revision) there is a pool of warm environments; an invocation
//! takes the most recently used idle one or starts a new one (a cold start), hands the event to
//! its runtime through the environment's own Runtime API listener, waits for the response up to
//! the function timeout, and writes START / END / REPORT around the function's output.

pub mod async_events;
mod callers;
mod catalog;
mod error;
mod execute;
mod extension_files;
mod init_wait;
mod instance;
pub mod interpreters;
mod invoke_phase;
mod invoker;
mod launch;
mod launch_image;
mod layer_paths;
mod logs;
pub mod metrics;
mod outcome;
mod platform;
mod recorded;
mod request;
pub mod runtime_api;
mod sandboxes;
mod scheduler;
mod streaming;
mod supervisor;
pub mod telemetry;
#[cfg(test)]
mod testing;
mod to_the_end;
pub mod traces;
mod zygote;

pub use async_events::{
    Accepted, AsyncQueue, AsyncRequest, AsyncSettings, QueueSummary, SubmitOptions, Targets,
    TopicSink,
};
pub use callers::Caller;
pub use error::InvokeError;
pub use interpreters::sdk_install::{InstallProgress, InstallReport, InstalledSdk, SdkLanguage};
pub use interpreters::{Interpreter, InterpreterSearch, ResolvedRuntime, RuntimesReport};
pub use invoker::{GreengrassEnv, Invoker, InvokerConfig};
pub use lambdalet_sandbox::ZygoteState;
pub use launch::InitType;
pub use request::{Invocation, InvocationResult};
pub use sandboxes::{DEFAULT_UID_BASE, SandboxChoice, SandboxUser, Sandboxes};
pub use scheduler::{Health, PoolStats};
pub use streaming::{ResponseStream, StreamEnd, StreamError, StreamItem};
