//! The process backend (Greengrass `NoContainer`): the runtime runs as a plain child process of
//! the daemon, as the daemon's user, in its own process group, with Lambda's open-file limit,
//! dying with the daemon. Where the host offers cgroups it also gets one of its own: the memory,
//! process and CPU limits of the container backend are enforced, peak memory comes from it, and
//! stopping the sandbox kills everything in it, children that left the process group included.
//! Without cgroups nothing but the open-file limit is enforced (as in Greengrass) and peak
//! memory is the runtime's `VmHWM`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use nix::sys::signal::Signal;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::watch;

use crate::cgroup::{CgroupLimits, Cgroups, SandboxCgroup};
use crate::error::SandboxError;
use crate::output::OutputReader;
use crate::spec::{ExitInfo, Launched, Sandbox, SandboxBackend, SandboxSpec};
use crate::{spawn, sys};

/// Runs runtimes as child processes of the daemon.
#[derive(Default, Clone)]
pub struct ProcessBackend {
    cgroups: Option<Arc<Cgroups>>,
}

impl std::fmt::Debug for ProcessBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessBackend")
            .field("cgroups", &self.cgroups.is_some())
            .finish()
    }
}

impl ProcessBackend {
    /// A backend that puts each sandbox in a cgroup of `cgroups` when given.
    pub fn new(cgroups: Option<Arc<Cgroups>>) -> Self {
        Self { cgroups }
    }
}

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
        let cgroup = match &self.cgroups {
            Some(c) => Some(Arc::new(
                c.create(
                    &spec.id,
                    &CgroupLimits {
                        memory_bytes: spec.limits.memory_bytes,
                        pids: spec.limits.pids,
                        cpu_weight: spec.limits.cpu_weight,
                        devices: None,
                    },
                )
                .map_err(|e| SandboxError::Setup(e.to_string()))?,
            )),
            None => None,
        };
        let started = start(&spec, stdout, &program, cgroup.as_deref());
        let (pid, pidfd) = match started {
            Ok(s) => s,
            Err(e) => {
                if let Some(c) = cgroup {
                    let _ = tokio::task::spawn_blocking(move || c.remove()).await;
                }
                return Err(e);
            }
        };
        tracing::debug!(sandbox = %spec.id, pid, program = %spec.program.display(), "sandbox.start");
        let peak = Arc::new(AtomicU64::new(0));
        let oom = Arc::new(AtomicBool::new(false));
        let exit_rx = watch_exit(pid, pidfd, cgroup.clone(), peak.clone(), oom.clone());
        let status = if cgroup.is_none() {
            sys::open_status(pid)
        } else {
            None
        };
        let sandbox = ProcessSandbox {
            id: spec.id,
            pid,
            exit_rx,
            peak,
            oom,
            status,
            cgroup,
        };
        Ok(Launched {
            sandbox: Arc::new(sandbox),
            output: OutputReader::new(rx),
            runtime_api: None,
        })
    }
}

/// How the child is waited for: its pidfd, or the standard library's child handle.
enum Waitable {
    Pidfd(OwnedFd),
    Child(tokio::process::Child),
}

/// Starts the runtime, in `cgroup` when given, through `spawn` or, where the kernel lacks
/// `CLONE_PIDFD`, the standard library's fork path.
fn start(
    spec: &SandboxSpec,
    stdout: OwnedFd,
    program: &str,
    cgroup: Option<&SandboxCgroup>,
) -> Result<(u32, Waitable), SandboxError> {
    let procs = match cgroup {
        Some(c) => c
            .join_files()
            .iter()
            .map(|p| std::fs::OpenOptions::new().write(true).open(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SandboxError::Setup(format!("cannot open the sandbox's cgroup: {e}")))?,
        None => Vec::new(),
    };
    let proc_fds: Vec<_> = procs.iter().map(AsRawFd::as_raw_fd).collect();
    let request = spawn::Request {
        program: &spec.program,
        args: &spec.args,
        env: &spec.env,
        cwd: &spec.cwd,
        output: stdout.as_raw_fd(),
        max_open_files: spec.limits.open_files,
        namespaces: 0,
        cgroups: &proc_fds,
        fd3: None,
    };
    let spawned = spawn::spawn(&request).map_err(|source| SandboxError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    match spawned {
        Some(child) => {
            // Our copy of the write end goes now, so the pipe reaches end of file once the
            // runtime and everything it started have exited.
            drop(stdout);
            Ok((child.pid, Waitable::Pidfd(child.pidfd)))
        }
        None => spawn_forked(spec, stdout, program, procs),
    }
}

/// Reports the exit of the runtime, and reaps it. With a cgroup, whatever the runtime left
/// behind is killed (the environment ends with its runtime), its peak memory and OOM kills are
/// recorded, and the cgroup is removed. Should the daemon's runtime drop the task first
/// (shutdown), the child is killed, as `kill_on_drop` does.
fn watch_exit(
    pid: u32,
    waitable: Waitable,
    cgroup: Option<Arc<SandboxCgroup>>,
    peak: Arc<AtomicU64>,
    oom: Arc<AtomicBool>,
) -> watch::Receiver<Option<ExitInfo>> {
    let (exit_tx, exit_rx) = watch::channel(None);
    tokio::spawn(async move {
        let waited = match waitable {
            Waitable::Pidfd(pidfd) => {
                let mut guard = KillOnDrop(Some(pid));
                let w = wait_pidfd(pidfd).await;
                guard.0 = None;
                w
            }
            Waitable::Child(mut child) => {
                use std::os::unix::process::ExitStatusExt;
                child.wait().await.map(|status| ExitInfo {
                    code: status.code(),
                    signal: status.signal(),
                })
            }
        };
        let info = waited.unwrap_or_else(|e| {
            tracing::warn!(pid, error = %e, "cannot wait for sandbox process");
            ExitInfo {
                code: None,
                signal: None,
            }
        });
        if let Some(c) = &cgroup {
            if let Some(p) = c.peak_memory_bytes() {
                peak.fetch_max(p, Ordering::Relaxed);
            }
            oom.store(c.oom_kills() > 0, Ordering::Release);
        }
        let _ = exit_tx.send(Some(info));
        if let Some(c) = cgroup {
            let _ = tokio::task::spawn_blocking(move || {
                c.kill_all();
                if let Err(e) = c.remove() {
                    tracing::warn!(error = %e, "cannot remove a sandbox's cgroup");
                }
            })
            .await;
        }
    });
    exit_rx
}

/// Waits until the process behind `pidfd` exits, and reaps it.
pub(crate) async fn wait_pidfd(pidfd: OwnedFd) -> std::io::Result<ExitInfo> {
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
    cgroup_procs: Vec<std::fs::File>,
) -> Result<(u32, Waitable), SandboxError> {
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
    sys::confine_child(&mut cmd, spec.limits.open_files, cgroup_procs);
    let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    // Our copies of the write end are dropped with `cmd`.
    drop(cmd);
    let pid = child.id().unwrap_or(0);
    Ok((pid, Waitable::Child(child)))
}

struct ProcessSandbox {
    id: String,
    pid: u32,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    /// The last peak read, kept so a report after the process died still has a figure.
    peak: Arc<AtomicU64>,
    oom: Arc<AtomicBool>,
    /// `/proc/<pid>/status`, read for the peak when there is no cgroup.
    status: Option<std::fs::File>,
    cgroup: Option<Arc<SandboxCgroup>>,
}

impl ProcessSandbox {
    fn running(&self) -> bool {
        self.exit_rx.borrow().is_none()
    }
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
        if let Some(c) = &self.cgroup
            && self.running()
        {
            c.kill_all();
        }
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        let now = match (&self.cgroup, &self.status) {
            (Some(c), _) if self.running() => c.peak_memory_bytes(),
            (None, Some(status)) => sys::peak_rss_bytes(status),
            _ => None,
        };
        if let Some(b) = now {
            self.peak.fetch_max(b, Ordering::Relaxed);
        }
        Some(self.peak.load(Ordering::Relaxed)).filter(|b| *b > 0)
    }

    /// Its processes are its cgroup's, or, without one, the runtime and its descendants.
    fn owns_connection(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
        crate::peer::connection_held(local, peer, || match &self.cgroup {
            Some(c) => c.pids(),
            None => crate::peer::family_of(self.pid),
        })
    }

    fn holds_socket(&self, inode: u64) -> bool {
        let pids = match &self.cgroup {
            Some(c) => c.pids(),
            None => crate::peer::family_of(self.pid),
        };
        crate::peer::held_by(inode, &pids)
    }

    fn out_of_memory(&self) -> bool {
        match &self.cgroup {
            Some(c) if self.running() => c.oom_kills() > 0,
            _ => self.oom.load(Ordering::Acquire),
        }
    }
}

#[cfg(test)]
mod tests;
