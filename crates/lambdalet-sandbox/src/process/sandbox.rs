//! A running process sandbox: the runtime (started by `launch`, or later for a sandbox with
//! extensions), the extensions' process groups, and what the kernel measured of them.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::Signal;
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use super::{Shared, start, watch_exit};
use crate::error::SandboxError;
use crate::spec::{ExitInfo, Sandbox, SandboxSpec};
use crate::sys;

pub(super) struct ProcessSandbox {
    pub(super) id: String,
    /// The runtime's pid (0 until it is started).
    pub(super) pid: AtomicU32,
    pub(super) exit_rx: watch::Receiver<Option<ExitInfo>>,
    pub(super) exit_tx: Arc<watch::Sender<Option<ExitInfo>>>,
    pub(super) ext_rx: watch::Receiver<Vec<(usize, ExitInfo)>>,
    /// The extensions' pids, each the leader of its process group.
    pub(super) ext_pids: Vec<u32>,
    /// `/proc/<pid>/status` of the runtime, read for the peak when there is no cgroup.
    pub(super) status: Mutex<Option<std::fs::File>>,
    pub(super) shared: Arc<Shared>,
    /// The runtime of a sandbox with extensions until it is started, with its output pipe.
    pub(super) pending: Mutex<Option<(SandboxSpec, OwnedFd)>>,
}

impl ProcessSandbox {
    /// A sandbox of one runtime already started (`pid`), with no cgroup.
    #[cfg(test)]
    pub(super) fn adopt(id: String, pid: u32, waitable: super::Waitable) -> Self {
        let (exit_tx, exit_rx) = watch::channel(None);
        let shared = Arc::new(Shared::new(None, 1));
        let exit_tx = Arc::new(exit_tx);
        let tx = exit_tx.clone();
        watch_exit(pid, waitable, shared.clone(), move |info| {
            let _ = tx.send(Some(info));
        });
        Self {
            id,
            pid: AtomicU32::new(pid),
            exit_rx,
            exit_tx,
            ext_rx: watch::channel(Vec::new()).1,
            ext_pids: Vec::new(),
            status: Mutex::new(sys::open_status(pid)),
            shared,
            pending: Mutex::new(None),
        }
    }

    fn running(&self) -> bool {
        self.exit_rx.borrow().is_none()
    }

    pub(super) fn spawn_runtime(
        &self,
        spec: SandboxSpec,
        stdout: OwnedFd,
    ) -> Result<(), SandboxError> {
        let (pid, waitable) = match start(&spec, stdout, self.shared.cgroup.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                self.runtime_gone(ExitInfo {
                    code: Some(127),
                    signal: None,
                });
                return Err(e);
            }
        };
        tracing::debug!(sandbox = %spec.id, pid, program = %spec.program.display(), "sandbox.start");
        self.pid.store(pid, Ordering::Release);
        if self.shared.cgroup.is_none() {
            *self.status.lock() = sys::open_status(pid);
        }
        let exit_tx = self.exit_tx.clone();
        watch_exit(pid, waitable, self.shared.clone(), move |info| {
            let _ = exit_tx.send(Some(info));
        });
        Ok(())
    }

    /// The runtime will never run (the sandbox was killed first, or it could not start).
    pub(super) fn runtime_gone(&self, info: ExitInfo) {
        let _ = self.exit_tx.send(Some(info));
        let shared = self.shared.clone();
        tokio::spawn(async move { shared.gone().await });
    }

    /// The process groups of the sandbox: the runtime's and each extension's.
    fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        let runtime = self.pid.load(Ordering::Acquire);
        (runtime != 0)
            .then_some(runtime)
            .into_iter()
            .chain(self.ext_pids.iter().copied())
    }

    /// Its processes: its cgroup's, or, without one, the runtime's and the extensions' and
    /// their descendants.
    fn pids(&self) -> Vec<u32> {
        match &self.shared.cgroup {
            Some(c) => c.pids(),
            None => self.groups().flat_map(crate::peer::family_of).collect(),
        }
    }
}

impl Sandbox for ProcessSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Acquire)).filter(|p| *p != 0)
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit_rx.clone()
    }

    fn terminate(&self) {
        if let Some(pid) = self.pid() {
            sys::signal_group(pid, Signal::SIGTERM);
        }
    }

    fn kill(&self) {
        if self.pending.lock().take().is_some() {
            self.runtime_gone(ExitInfo {
                code: None,
                signal: Some(libc::SIGKILL),
            });
        }
        for pid in self.groups() {
            sys::signal_group(pid, Signal::SIGKILL);
        }
        if let Some(c) = &self.shared.cgroup
            && self.shared.live.load(Ordering::Acquire) > 0
        {
            c.kill_all();
        }
    }

    fn kill_runtime(&self) {
        if let Some(pid) = self.pid() {
            sys::signal_group(pid, Signal::SIGKILL);
        }
    }

    fn start_runtime(&self) -> oneshot::Receiver<Result<(), SandboxError>> {
        let (tx, rx) = oneshot::channel();
        let result = match self.pending.lock().take() {
            Some((spec, stdout)) => self.spawn_runtime(spec, stdout),
            None => Err(SandboxError::Setup(
                "the runtime was already started, or the sandbox was stopped".to_owned(),
            )),
        };
        let _ = tx.send(result);
        rx
    }

    fn extension_exits(&self) -> watch::Receiver<Vec<(usize, ExitInfo)>> {
        self.ext_rx.clone()
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        self.shared
            .peak_bytes(self.running(), self.status.lock().as_ref())
    }

    fn owns_connection(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
        crate::peer::connection_held(local, peer, || self.pids())
    }

    fn holds_socket(&self, inode: u64) -> bool {
        crate::peer::held_by(inode, &self.pids())
    }

    fn out_of_memory(&self) -> bool {
        self.shared.out_of_memory(self.running())
    }
}
