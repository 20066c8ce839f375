//! A running container sandbox: the handle the invoker holds ([`ContainerSandbox`]) and the
//! task that watches its init until it exits ([`ExitWatch`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use crate::cgroup::SandboxCgroup;
use crate::error::SandboxError;
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

/// Watches an init until it exits: reads its reports as they come (the runtime's exit, the
/// extensions', the runtime's start), reaps it, records the cgroup's peak memory and OOM kills,
/// then removes the cgroup.
pub(super) struct ExitWatch {
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    ext_rx: watch::Receiver<Vec<(usize, ExitInfo)>>,
    peak: Arc<AtomicU64>,
    oom: Arc<AtomicBool>,
    cgroup: Arc<SandboxCgroup>,
    ctl: Arc<DaemonEnd>,
    /// Who waits for the runtime's start (a sandbox with extensions).
    starting: Arc<Mutex<Option<Starting>>>,
}

type Starting = oneshot::Sender<Result<(), SandboxError>>;

/// What the watcher updates as reports come.
struct Reports {
    exit_tx: watch::Sender<Option<ExitInfo>>,
    ext_tx: watch::Sender<Vec<(usize, ExitInfo)>>,
    peak: Arc<AtomicU64>,
    oom: Arc<AtomicBool>,
    cgroup: Arc<SandboxCgroup>,
    starting: Arc<Mutex<Option<Starting>>>,
}

impl Reports {
    fn runtime_exited(&self, info: ExitInfo) {
        if self.exit_tx.borrow().is_some() {
            return;
        }
        if let Some(p) = self.cgroup.peak_memory_bytes() {
            self.peak.fetch_max(p, Ordering::Relaxed);
        }
        self.oom
            .store(self.cgroup.oom_kills() > 0, Ordering::Release);
        let _ = self.exit_tx.send(Some(info));
    }

    fn handle(&self, report: Report) {
        match report {
            Report::Exited { code, signal } => self.runtime_exited(ExitInfo { code, signal }),
            Report::ExtensionExited {
                index,
                code,
                signal,
            } => self
                .ext_tx
                .send_modify(|v| v.push((index, ExitInfo { code, signal }))),
            Report::Started => {
                if let Some(tx) = self.starting.lock().take() {
                    let _ = tx.send(Ok(()));
                }
            }
            Report::Failed { step, error } => {
                if let Some(tx) = self.starting.lock().take() {
                    let _ = tx.send(Err(super::start_error(&step, &error)));
                }
            }
            Report::Listener | Report::Extensions => {}
        }
    }
}

impl ExitWatch {
    pub(super) fn start(
        pid: u32,
        pidfd: Arc<OwnedFd>,
        ctl: DaemonEnd,
        cgroup: Arc<SandboxCgroup>,
    ) -> Self {
        let (exit_tx, exit_rx) = watch::channel(None);
        let (ext_tx, ext_rx) = watch::channel(Vec::new());
        let peak = Arc::new(AtomicU64::new(0));
        let oom = Arc::new(AtomicBool::new(false));
        let ctl = Arc::new(ctl);
        let starting = Arc::new(Mutex::new(None));
        let reports = Reports {
            exit_tx,
            ext_tx,
            peak: peak.clone(),
            oom: oom.clone(),
            cgroup: cgroup.clone(),
            starting: starting.clone(),
        };
        let reader = ctl.clone();
        tokio::spawn(async move {
            let mut guard = KillOnDrop(Some(pidfd.clone()));
            let wait = async {
                match pidfd.try_clone() {
                    Ok(fd) => crate::process::wait_pidfd(fd).await,
                    Err(e) => Err(e),
                }
            };
            tokio::pin!(wait);
            let mut reading = true;
            let waited = loop {
                tokio::select! {
                    w = &mut wait => break w,
                    r = reader.next(), if reading => match r {
                        Ok(Some((report, _))) => reports.handle(report),
                        // The init closed its end: it is exiting.
                        _ => reading = false,
                    },
                }
            };
            guard.0 = None;
            while let Some(report) = reader.try_next() {
                reports.handle(report);
            }
            let info = waited.unwrap_or(ExitInfo {
                code: None,
                signal: None,
            });
            tracing::debug!(pid, exit = %info, "sandbox.exited");
            reports.runtime_exited(info);
            if let Some(tx) = reports.starting.lock().take() {
                let _ = tx.send(Err(SandboxError::Setup(
                    "the sandbox stopped before its runtime started".to_owned(),
                )));
            }
            let cg = reports.cgroup.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = cg.remove() {
                    tracing::warn!(error = %e, "cannot remove a sandbox's cgroup");
                }
            })
            .await;
        });
        Self {
            exit_rx,
            ext_rx,
            peak,
            oom,
            cgroup,
            ctl,
            starting,
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

    /// The init kills the runtime's process group when asked with this signal.
    fn kill_runtime(&self) {
        signal(&self.pidfd, super::init::kill_runtime_signal());
    }

    /// The init starts the runtime on the daemon's go-ahead.
    fn start_runtime(&self) -> oneshot::Receiver<Result<(), SandboxError>> {
        let (tx, rx) = oneshot::channel();
        *self.watch.starting.lock() = Some(tx);
        if let Err(e) = self.watch.ctl.go()
            && let Some(tx) = self.watch.starting.lock().take()
        {
            let _ = tx.send(Err(SandboxError::Setup(format!(
                "cannot tell the sandbox's init to start the runtime: {e}"
            ))));
        }
        rx
    }

    fn extension_exits(&self) -> watch::Receiver<Vec<(usize, ExitInfo)>> {
        self.watch.ext_rx.clone()
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
