//! The backend-neutral description of a sandbox and the handle to a running one.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::SandboxError;
use crate::output::OutputReader;

/// Everything a backend needs to start a runtime.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// A short id for logs and resource names (`hello-3f2a`).
    pub id: String,
    /// The executable to run (absolute path).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment; nothing is inherited from the daemon.
    pub env: Vec<(String, String)>,
    /// Working directory: the function's code directory.
    pub cwd: PathBuf,
    /// The function's memory size; container backends enforce it, the process backend reports it.
    pub memory_mb: u32,
}

/// How a sandbox's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl fmt::Display for ExitInfo {
    /// Formats like Go's `ProcessState.String()`, which the Lambda service quotes in
    /// `Runtime exited with error: exit status 1` / `signal: killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit status {c}"),
            (None, Some(s)) => write!(f, "signal: {}", signal_name(s)),
            (None, None) => f.write_str("exited"),
        }
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".to_owned(),
        libc::SIGTERM => "terminated".to_owned(),
        libc::SIGSEGV => "segmentation fault".to_owned(),
        libc::SIGABRT => "aborted".to_owned(),
        libc::SIGINT => "interrupt".to_owned(),
        libc::SIGBUS => "bus error".to_owned(),
        other => format!("signal {other}"),
    }
}

/// A running sandbox.
pub trait Sandbox: Send + Sync {
    fn id(&self) -> &str;
    /// The main process id, where there is one.
    fn pid(&self) -> Option<u32>;
    /// Becomes `Some` when the sandbox's main process has exited.
    fn exited(&self) -> watch::Receiver<Option<ExitInfo>>;
    /// Asks the runtime to stop (SIGTERM to every process in the sandbox).
    fn terminate(&self);
    /// Stops everything in the sandbox at once (SIGKILL).
    fn kill(&self);
    /// Peak memory of the sandbox so far, in bytes, measured by the kernel.
    fn max_memory_used_bytes(&self) -> Option<u64>;
}

/// A freshly started sandbox and the read end of its stdout+stderr pipe.
pub struct Launched {
    pub sandbox: Arc<dyn Sandbox>,
    pub output: OutputReader,
}

/// Creates sandboxes of one kind.
#[async_trait]
pub trait SandboxBackend: Send + Sync {
    /// `process`, `container`, `wasm`.
    fn name(&self) -> &'static str;
    async fn launch(&self, spec: SandboxSpec) -> Result<Launched, SandboxError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_info_reads_like_lambda() {
        assert_eq!(
            ExitInfo {
                code: Some(1),
                signal: None
            }
            .to_string(),
            "exit status 1"
        );
        assert_eq!(
            ExitInfo {
                code: None,
                signal: Some(9)
            }
            .to_string(),
            "signal: killed"
        );
    }
}
