//! Execution environments ("sandboxes") that run a function's runtime.
//!
//! One trait, [`SandboxBackend`], creates sandboxes from a [`SandboxSpec`]; each backend lives in
//! its own module: `process` (a child process, Greengrass `NoContainer`) and `container`
//! (namespaces, a root filesystem of its own, an unprivileged user, seccomp: Greengrass
//! `GreengrassContainer`). Both put each sandbox in a cgroup of its own where the host has
//! cgroups (`cgroup`). A sandbox is only a running program with a log pipe: it knows nothing
//! about invocations or the Runtime API, which the invoker serves on a listener whose address
//! it passes in the spec's environment.
//!
//! This crate's `unsafe` code lives in its `sys`, `spawn`, `seccomp` and `container` modules.

pub mod cgroup;
pub mod container;
mod error;
mod output;
pub mod peer;
mod process;
mod seccomp;
mod spawn;
mod spec;
mod sys;
mod zygote;

pub use container::{ContainerBackend, check_container_params};
pub use error::SandboxError;
pub use output::OutputReader;
pub use process::ProcessBackend;
pub use spec::{
    ContainerSpec, ExitInfo, Launched, Limits, MAX_OPEN_FILES, MAX_PROCESSES, RUNTIME_CHANNEL_FD,
    Sandbox, SandboxBackend, SandboxSpec, ZygoteKey, ZygoteState, paths,
};

/// Marks every descriptor the process was started with, above stderr, close-on-exec, so none
/// reaches a sandbox. The daemon calls it first thing.
pub fn seal_inherited_fds() {
    sys::seal_inherited_fds();
}
