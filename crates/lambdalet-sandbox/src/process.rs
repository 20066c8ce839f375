//! The process backend (Greengrass `NoContainer`): the runtime runs as a plain child process in
//! its own process group, with Lambda's open-file limit, dying with the daemon. No memory limit
//! is enforced (as in Greengrass); peak memory is measured from the kernel's `VmHWM`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
use crate::{spawn, sys};

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

        let request = spawn::Request {
            program: &spec.program,
            args: &spec.args,
            env: &spec.env,
            cwd: &spec.cwd,
            output: stdout.as_raw_fd(),
            max_open_files: sys::MAX_OPEN_FILES,
        };
        let spawned = spawn::spawn(&request).map_err(|source| SandboxError::Spawn {
            program: program.clone(),
            source,
        })?;
        let (pid, exit_rx) = match spawned {
            Some(child) => {
                // Our copy of the write end goes now, so the pipe reaches end of file once the
                // runtime and everything it started have exited.
                drop(stdout);
                (child.pid, watch_pidfd(child.pid, child.pidfd))
            }
            None => spawn_forked(&spec, stdout, &program)?,
        };
        tracing::debug!(sandbox = %spec.id, pid, program = %spec.program.display(), "sandbox.start");
        let sandbox = ProcessSandbox {
            id: spec.id,
            pid,
            exit_rx,
            last_peak: Arc::new(AtomicU64::new(0)),
            status: sys::open_status(pid),
        };
        Ok(Launched {
            sandbox: Arc::new(sandbox),
            output: OutputReader::new(rx),
        })
    }
}

/// Reports the exit of a child started by [`spawn::spawn`], and reaps it. Should the daemon's
/// runtime drop the task first (shutdown), the child is killed, as `kill_on_drop` does.
fn watch_pidfd(pid: u32, pidfd: OwnedFd) -> watch::Receiver<Option<ExitInfo>> {
    let (exit_tx, exit_rx) = watch::channel(None);
    tokio::spawn(async move {
        let mut guard = KillOnDrop(Some(pid));
        let waited = wait_pidfd(pidfd).await;
        guard.0 = None;
        publish_exit(pid, waited, &exit_tx);
    });
    exit_rx
}

/// Tells the sandbox's watchers how its process ended (unknown if waiting for it failed).
fn publish_exit(
    pid: u32,
    waited: std::io::Result<ExitInfo>,
    exit_tx: &watch::Sender<Option<ExitInfo>>,
) {
    let info = waited.unwrap_or_else(|e| {
        tracing::warn!(pid, error = %e, "cannot wait for sandbox process");
        ExitInfo {
            code: None,
            signal: None,
        }
    });
    let _ = exit_tx.send(Some(info));
}

async fn wait_pidfd(pidfd: OwnedFd) -> std::io::Result<ExitInfo> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let fd = sys::async_pidfd(pidfd)?;
    loop {
        let mut ready = fd.readable().await?;
        match waitid(
            Id::PIDFd(fd.get_ref().as_fd()),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
        ) {
            Ok(WaitStatus::Exited(_, code)) => {
                return Ok(ExitInfo {
                    code: Some(code),
                    signal: None,
                });
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(ExitInfo {
                    code: None,
                    signal: Some(signal as i32),
                });
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => ready.clear_ready(),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Kills the child if dropped while still holding its pid.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            sys::signal_group(pid, Signal::SIGKILL);
        }
    }
}

/// The standard library's path (fork, then the limits set in the child, then exec), for
/// kernels where [`spawn::spawn`] cannot be used.
fn spawn_forked(
    spec: &SandboxSpec,
    stdout: OwnedFd,
    program: &str,
) -> Result<(u32, watch::Receiver<Option<ExitInfo>>), SandboxError> {
    let stderr = stdout
        .try_clone()
        .map_err(|e| SandboxError::Setup(format!("output pipe: {e}")))?;
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
    let mut child = cmd.spawn().map_err(|source| SandboxError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    // Our copies of the write end are dropped with `cmd`.
    drop(cmd);
    let pid = child.id().unwrap_or(0);
    let (exit_tx, exit_rx) = watch::channel(None);
    tokio::spawn(async move {
        use std::os::unix::process::ExitStatusExt;
        let waited = child.wait().await.map(|status| ExitInfo {
            code: status.code(),
            signal: status.signal(),
        });
        publish_exit(pid, waited, &exit_tx);
    });
    Ok((pid, exit_rx))
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

    async fn exit_of(sandbox: &dyn Sandbox) -> ExitInfo {
        sandbox
            .exited()
            .wait_for(Option::is_some)
            .await
            .expect("exit")
            .expect("some")
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
        let info = exit_of(sandbox.as_ref()).await;
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
        let info = exit_of(sandbox.as_ref()).await;
        assert_eq!(info.to_string(), "signal: killed");
    }

    /// What a runtime must find, however it was started: Lambda's limits, a process group of
    /// its own, default signal dispositions (the test binary ignores SIGPIPE, as Rust programs
    /// do), the daemon's death signal, its code directory, and its exit status reported.
    async fn check_confinement(launched: Launched, cwd: &std::path::Path) {
        let Launched {
            sandbox,
            mut output,
        } = launched;
        let text = read_all(&mut output).await;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert_eq!(lines[0], "1024", "open files: {text}");
        assert_eq!(lines[1], "0", "core dumps: {text}");
        let pid = sandbox.pid().expect("pid").to_string();
        assert_eq!(lines[2], pid, "its own process group: {text}");
        assert_eq!(lines[3], pid, "the shell is the started process: {text}");
        let ignored = u64::from_str_radix(lines[4].trim_start_matches("SigIgn:").trim(), 16)
            .expect("SigIgn mask");
        assert_eq!(
            ignored & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE not ignored: {text}"
        );
        assert_eq!(lines[5], cwd.display().to_string());
        assert_eq!(lines[6], "pdeathsig 9", "dies with the daemon: {text}");
        let info = exit_of(sandbox.as_ref()).await;
        assert_eq!(info.code, Some(7));
    }

    fn confinement_spec() -> SandboxSpec {
        let mut s = spec(concat!(
            "ulimit -n; ulimit -c; cut -d' ' -f5 /proc/$$/stat; echo $$; ",
            "grep SigIgn /proc/$$/status; pwd; ",
            "exec python3 -c 'import ctypes, sys; s = ctypes.c_int(); ",
            "ctypes.CDLL(None).prctl(2, ctypes.byref(s)); print(\"pdeathsig\", s.value); sys.exit(7)'",
        ));
        s.env.push(("PATH".into(), "/usr/bin:/bin".into()));
        s
    }

    #[tokio::test]
    async fn a_runtime_is_confined_the_same_with_or_without_fork() {
        let cwd = std::env::temp_dir().canonicalize().expect("tmp");
        let launched = ProcessBackend
            .launch(confinement_spec())
            .await
            .expect("launch");
        check_confinement(launched, &cwd).await;

        // The fork path, used where clone(CLONE_PIDFD) is not available.
        let spec = confinement_spec();
        let (tx, rx) = pipe::pipe().expect("pipe");
        let (pid, exit_rx) =
            spawn_forked(&spec, tx.into_blocking_fd().expect("fd"), "/bin/sh").expect("spawn");
        let launched = Launched {
            sandbox: Arc::new(ProcessSandbox {
                id: spec.id.clone(),
                pid,
                exit_rx,
                last_peak: Arc::new(AtomicU64::new(0)),
                status: None,
            }),
            output: OutputReader::new(rx),
        };
        check_confinement(launched, &cwd).await;
    }

    #[tokio::test]
    async fn start_failures_say_which_step_failed() {
        let mut missing = spec("true");
        missing.program = "/nonexistent/bootstrap".into();
        let Err(e) = ProcessBackend.launch(missing).await else {
            panic!("a missing program cannot start");
        };
        let text = e.to_string();
        assert!(
            text.contains("/nonexistent/bootstrap")
                && text.contains("cannot exec")
                && text.contains("No such file"),
            "{text}"
        );
        let mut no_dir = spec("true");
        no_dir.cwd = "/nonexistent/code".into();
        let Err(e) = ProcessBackend.launch(no_dir).await else {
            panic!("a missing code directory cannot be entered");
        };
        assert!(
            e.to_string()
                .contains("cannot change to the code directory"),
            "{e}"
        );
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
