//! Execution environments ("sandboxes") that run a function's runtime.
//!
//! One trait, [`SandboxBackend`], creates sandboxes from a [`SandboxSpec`]; each backend lives in
//! its own module (`process` now; `container` and `wasm` later). A sandbox is only a running
//! program with a log pipe: it knows nothing about invocations or the Runtime API, which the
//! invoker serves on a loopback port it passes in the spec's environment.
//!
//! This crate's `unsafe` code lives in its `sys` and `spawn` modules.

mod error;
mod output;
mod process;
mod spawn;
mod spec;
mod sys;

pub use error::SandboxError;
pub use output::OutputReader;
pub use process::ProcessBackend;
pub use spec::{ExitInfo, Launched, Sandbox, SandboxBackend, SandboxSpec};
