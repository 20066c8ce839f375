//! The process backend (Greengrass `NoContainer`): the runtime runs as a plain child process in
//! its own process group, with Lambda's open-file limit, dying with the daemon. No memory limit
//! is enforced (as in Greengrass); peak memory is measured from the kernel's `VmHWM`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use nix::sys::signal::Signal;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::watch;

use crate::error::SandboxError;
use crate::output::OutputReader;
use crate::spec::{ExitInfo, Launched, Sandbox, SandboxBackend, SandboxSpec};
use crate::sys;

/// Runs runtimes as child processes of the daemon.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessBackend;

#[async_trait]
impl SandboxBackend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn launch(&self, spec: SandboxSpec) -> Result<Launched, SandboxError> {
        let program = spec.program.display().to_string();
        let setup = |e: std::io::Error| SandboxError::Setup(format!("output pipe: {e}"));
        let (tx, rx) = pipe::pipe().map_err(setup)?;
        let stdout = tx.into_blocking_fd().map_err(setup)?;
        let stderr = stdout.try_clone().map_err(setup)?;

        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(true);
        sys::confine_child(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|source| SandboxError::Spawn { program, source })?;
        // Our copies of the write end are dropped with `cmd`, so the pipe reaches end of file
        // once the runtime and everything it started have exited.
        drop(cmd);
        let pid = child.id().unwrap_or(0);
        let (exit_tx, exit_rx) = watch::channel(None);
        let last_peak = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            let info = match child.wait().await {
                Ok(status) => {
                    use std::os::unix::process::ExitStatusExt;
                    ExitInfo {
                        code: status.code(),
                        signal: status.signal(),
                    }
                }
                Err(e) => {
                    tracing::warn!(pid, error = %e, "cannot wait for sandbox process");
                    ExitInfo {
                        code: None,
                        signal: None,
                    }
                }
            };
            let _ = exit_tx.send(Some(info));
        });
        tracing::debug!(sandbox = %spec.id, pid, program = %spec.program.display(), "sandbox.start");
        let sandbox = ProcessSandbox {
            id: spec.id,
            pid,
            exit_rx,
            last_peak,
            status: sys::open_status(pid),
        };
        Ok(Launched {
            sandbox: Arc::new(sandbox),
            output: OutputReader::new(rx),
        })
    }
}

struct ProcessSandbox {
    id: String,
    pid: u32,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    /// The last peak read, kept so a report after the process died still has a figure.
    last_peak: Arc<AtomicU64>,
    status: Option<std::fs::File>,
}

impl Sandbox for ProcessSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn pid(&self) -> Option<u32> {
        Some(self.pid)
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit_rx.clone()
    }

    fn terminate(&self) {
        sys::signal_group(self.pid, Signal::SIGTERM);
    }

    fn kill(&self) {
        sys::signal_group(self.pid, Signal::SIGKILL);
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        match self.status.as_ref().and_then(sys::peak_rss_bytes) {
            Some(b) => {
                self.last_peak.fetch_max(b, Ordering::Relaxed);
                Some(b)
            }
            None => Some(self.last_peak.load(Ordering::Relaxed)).filter(|b| *b > 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(script: &str) -> SandboxSpec {
        SandboxSpec {
            id: "test".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("GREETING".into(), "hi".into())],
            cwd: std::env::temp_dir(),
            memory_mb: 128,
        }
    }

    async fn read_all(out: &mut OutputReader) -> String {
        let mut all = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = out.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    }

    #[tokio::test]
    async fn runs_with_only_the_given_environment_and_merges_output() {
        let Launched {
            sandbox,
            mut output,
        } = ProcessBackend
            .launch(spec(
                "echo out $GREETING ${HOME:-nohome}; echo err >&2; ulimit -n; exit 3",
            ))
            .await
            .expect("launch");
        let text = read_all(&mut output).await;
        assert!(text.contains("out hi nohome"), "{text}");
        assert!(text.contains("err"), "{text}");
        assert!(text.contains("1024"), "open files limited: {text}");
        let mut exited = sandbox.exited();
        let info = exited
            .wait_for(Option::is_some)
            .await
            .expect("exit")
            .expect("some");
        assert_eq!(info.code, Some(3));
    }

    #[tokio::test]
    async fn kill_stops_the_whole_group() {
        let Launched {
            sandbox,
            mut output,
        } = ProcessBackend
            .launch(spec("sleep 30 & sleep 30; echo never"))
            .await
            .expect("launch");
        assert!(sandbox.max_memory_used_bytes().is_some());
        sandbox.kill();
        let text = tokio::time::timeout(Duration::from_secs(5), read_all(&mut output))
            .await
            .expect("pipe closes when every process in the group is gone");
        assert!(!text.contains("never"));
        let info = sandbox
            .exited()
            .wait_for(Option::is_some)
            .await
            .expect("exit")
            .expect("some");
        assert_eq!(info.to_string(), "signal: killed");
    }

    #[tokio::test]
    async fn drain_now_returns_buffered_output_without_waiting() {
        let Launched {
            sandbox,
            mut output,
        } = ProcessBackend
            .launch(spec("echo ready; sleep 30"))
            .await
            .expect("launch");
        let mut buf = Vec::new();
        for _ in 0..100 {
            output.drain_now(&mut buf).expect("drain");
            if !buf.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(buf, b"ready\n");
        sandbox.kill();
    }
}
