//! A running container sandbox: the handle the invoker holds ([`ContainerSandbox`]) and the
//! task that watches its init until it exits ([`ExitWatch`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

use crate::cgroup::SandboxCgroup;
use crate::spec::{ExitInfo, Sandbox};

use super::control::{DaemonEnd, Report};

/// Sends `sig` to the init behind `pidfd`.
pub(super) fn signal(pidfd: &OwnedFd, sig: libc::c_int) {
    // SAFETY: pidfd_send_signal on a pidfd we own, with no siginfo; a process already gone
    // answers ESRCH, which is fine.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

/// Watches an init until it exits: reaps it, reads the runtime's exit status from its last
/// report, records the cgroup's peak memory and OOM kills, then removes the cgroup.
pub(super) struct ExitWatch {
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    peak: Arc<AtomicU64>,
    oom: Arc<AtomicBool>,
    cgroup: Arc<SandboxCgroup>,
}

impl ExitWatch {
    pub(super) fn start(
        pid: u32,
        pidfd: Arc<OwnedFd>,
        ctl: DaemonEnd,
        cgroup: Arc<SandboxCgroup>,
    ) -> Self {
        let (exit_tx, exit_rx) = watch::channel(None);
        let peak = Arc::new(AtomicU64::new(0));
        let oom = Arc::new(AtomicBool::new(false));
        let (peak2, oom2, cg) = (peak.clone(), oom.clone(), cgroup.clone());
        tokio::spawn(async move {
            let mut guard = KillOnDrop(Some(pidfd.clone()));
            let waited = match pidfd.try_clone() {
                Ok(fd) => crate::process::wait_pidfd(fd).await,
                Err(e) => Err(e),
            };
            guard.0 = None;
            let mut info = waited.unwrap_or(ExitInfo {
                code: None,
                signal: None,
            });
            while let Some(report) = ctl.try_next() {
                if let Report::Exited { code, signal } = report {
                    info = ExitInfo { code, signal };
                }
            }
            if let Some(p) = cg.peak_memory_bytes() {
                peak2.fetch_max(p, Ordering::Relaxed);
            }
            oom2.store(cg.oom_kills() > 0, Ordering::Release);
            tracing::debug!(pid, exit = %info, "sandbox.exited");
            let _ = exit_tx.send(Some(info));
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = cg.remove() {
                    tracing::warn!(error = %e, "cannot remove a sandbox's cgroup");
                }
            })
            .await;
        });
        Self {
            exit_rx,
            peak,
            oom,
            cgroup,
        }
    }

    pub(super) async fn await_exit(&self) {
        let mut rx = self.exit_rx.clone();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// Kills the init if the daemon's runtime drops the watcher (shutdown) before it exited.
struct KillOnDrop(Option<Arc<OwnedFd>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(fd) = &self.0 {
            signal(fd, libc::SIGKILL);
        }
    }
}

pub(super) struct ContainerSandbox {
    pub(super) id: String,
    pub(super) pid: u32,
    pub(super) pidfd: Arc<OwnedFd>,
    pub(super) watch: ExitWatch,
}

impl Sandbox for ContainerSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn pid(&self) -> Option<u32> {
        Some(self.pid)
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.watch.exit_rx.clone()
    }

    /// The init passes SIGTERM on to the runtime.
    fn terminate(&self) {
        signal(&self.pidfd, libc::SIGTERM);
    }

    /// Killing the init ends the PID namespace: the kernel kills every process in it.
    fn kill(&self) {
        signal(&self.pidfd, libc::SIGKILL);
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        if self.watch.exit_rx.borrow().is_none()
            && let Some(p) = self.watch.cgroup.peak_memory_bytes()
        {
            self.watch.peak.fetch_max(p, Ordering::Relaxed);
        }
        Some(self.watch.peak.load(Ordering::Relaxed)).filter(|p| *p > 0)
    }

    /// Its processes are the cgroup's (the init, the runtime and what they started).
    fn owns_connection(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
        crate::peer::connection_held(local, peer, || self.watch.cgroup.pids())
    }

    fn holds_socket(&self, inode: u64) -> bool {
        crate::peer::held_by(inode, &self.watch.cgroup.pids())
    }

    fn out_of_memory(&self) -> bool {
        if self.watch.exit_rx.borrow().is_some() {
            self.watch.oom.load(Ordering::Acquire)
        } else {
            self.watch.cgroup.oom_kills() > 0
        }
    }
}
