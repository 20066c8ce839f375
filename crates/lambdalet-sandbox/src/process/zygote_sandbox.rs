//! A process sandbox whose runtime is forked from a zygote: the sandbox has its own cgroup
//! and output pipe as any other; the forked runtime is moved into that cgroup before it may
//! run anything of the function's (it waits at a gate until then). Should the zygote refuse,
//! or be gone before it forked, the runtime starts the plain way.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::zygote::{Claimed, ForkError::Unsent, State, Zygote};
use super::{Shared, start, watch_exit};
use crate::spec::{ExitInfo, Sandbox, SandboxSpec};
use crate::sys;

pub(super) struct ZygoteSandbox {
    id: String,
    zygote: Arc<Zygote>,
    /// Its cold start started the zygote.
    first: bool,
    shared: Arc<Shared>,
    /// The runtime's pid (0 until forked or started).
    pid: AtomicU32,
    status: Mutex<Option<std::fs::File>>,
    exit_tx: Arc<watch::Sender<Option<ExitInfo>>>,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    killed: watch::Sender<bool>,
}

const KILLED: ExitInfo = ExitInfo {
    code: None,
    signal: Some(libc::SIGKILL),
};

impl ZygoteSandbox {
    pub(super) fn new(id: String, zygote: Arc<Zygote>, first: bool, shared: Arc<Shared>) -> Self {
        let (exit_tx, exit_rx) = watch::channel(None);
        Self {
            id,
            zygote,
            first,
            shared,
            pid: AtomicU32::new(0),
            status: Mutex::new(None),
            exit_tx: Arc::new(exit_tx),
            exit_rx,
            killed: watch::channel(false).0,
        }
    }

    /// Starts the runtime once the zygote has run Init: forked, or the plain way. `claim`
    /// keeps the zygote open (even retired) until then.
    pub(super) async fn run(self: Arc<Self>, spec: SandboxSpec, stdout: OwnedFd, claim: Claimed) {
        let mut killed = self.killed.subscribe();
        let state = tokio::select! {
            s = self.zygote.settled() => Some(s),
            _ = async { killed.wait_for(|k| *k).await.map(|_| ()) } => None,
        };
        let Some(state) = state else {
            drop(claim);
            return self.finish(KILLED).await;
        };
        if state == State::Ready {
            return self.fork(spec, stdout, claim).await;
        }
        drop(claim);
        match state {
            State::Ready => {}
            State::Gone if self.first => {
                // Init failed (its error and output went to this sandbox) or was cut short.
                drop((spec, stdout));
                let info = self.zygote.exit_info(Duration::from_secs(2)).await;
                self.finish(info.unwrap_or(KILLED)).await;
            }
            State::Refused(_) | State::Gone | State::Starting => self.plain(spec, stdout),
        }
    }

    async fn fork(&self, spec: SandboxSpec, stdout: OwnedFd, claim: Claimed) {
        let Some(channel) = spec.runtime_channel.as_ref().map(|c| c.as_raw_fd()) else {
            return self.plain(spec, stdout);
        };
        let gate = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(sandbox = %self.id, error = %e, "zygote.gate");
                return self.plain(spec, stdout);
            }
        };
        let (gate_r, gate_w) = gate;
        // The fork joins the sandbox's cgroups itself, before it runs anything of the function
        // (a process moving itself is cheap; moving another waits for the kernel, up to 24 ms).
        let joins = match self.cgroup_files() {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(sandbox = %self.id, error = %e, "zygote.cgroup");
                return self.plain(spec, stdout);
            }
        };
        let mut fds = vec![channel, stdout.as_raw_fd(), gate_r.as_raw_fd()];
        fds.extend(joins.iter().map(AsRawFd::as_raw_fd));
        let forked = self.zygote.fork(&spec.id, &spec.env, &fds).await;
        // Forked (and counted among the zygote's children) or not: the claim is over.
        drop(claim);
        let forked = match forked {
            Err(Unsent(why)) => {
                // Retired or gone meanwhile (an update raced this cold start): nothing of this
                // sandbox reached it, so it starts the plain way.
                tracing::debug!(sandbox = %self.id, %why, "zygote.unavailable");
                drop((gate_r, joins));
                return self.plain(spec, stdout);
            }
            other => other,
        };
        // The runtime holds its ends now; the daemon must not, or they would never close.
        drop((spec, stdout, gate_r, joins));
        let forked = match forked {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(sandbox = %self.id, error = %e, "zygote.fork_failed");
                return self
                    .finish(ExitInfo {
                        code: Some(127),
                        signal: None,
                    })
                    .await;
            }
        };
        let pid = forked.pid;
        self.pid.store(pid, Ordering::Release);
        let adopted = self.adopt(pid).map_err(|e| {
            tracing::warn!(sandbox = %self.id, pid, error = %e, "zygote.adopt_failed");
        });
        // Opened only for a runtime that is the sandbox's and still wanted; else it dies at
        // its gate.
        let go =
            adopted.is_ok() && !*self.killed.borrow() && nix::unistd::write(&gate_w, b"g").is_ok();
        // (Only a process that is still the zygote's child is ours to kill: the pid of one
        // that died meanwhile may be another's now.)
        if !go && crate::peer::parent_of(pid) == Some(self.zygote.pid) {
            sys::signal_group(pid, Signal::SIGKILL);
        }
        drop(gate_w);
        tracing::debug!(sandbox = %self.id, pid, zygote = self.zygote.pid, "sandbox.forked");
        let info = forked.exit.await.unwrap_or(KILLED);
        self.finish(info).await;
    }

    /// The sandbox's cgroup files a process writes `0` to in order to join, open.
    fn cgroup_files(&self) -> std::io::Result<Vec<std::fs::File>> {
        let Some(c) = &self.shared.cgroup else {
            return Ok(Vec::new());
        };
        c.join_files()
            .iter()
            .map(|p| std::fs::OpenOptions::new().write(true).open(p))
            .collect()
    }

    /// Makes forked `pid` this sandbox's: checks it is the zygote's child (it has joined the
    /// sandbox's cgroups and waits at its gate, running nothing of the function).
    fn adopt(&self, pid: u32) -> std::io::Result<()> {
        let parent = crate::peer::parent_of(pid)
            .ok_or_else(|| std::io::Error::other(format!("pid {pid} is gone")))?;
        if parent != self.zygote.pid {
            return Err(std::io::Error::other(format!(
                "pid {pid} is not the zygote's child (its parent is {parent})"
            )));
        }
        if self.shared.cgroup.is_none() {
            *self.status.lock() = sys::open_status(pid);
        }
        Ok(())
    }

    fn plain(&self, spec: SandboxSpec, stdout: OwnedFd) {
        match start(&spec, stdout, self.shared.cgroup.as_deref()) {
            Ok((pid, waitable)) => {
                tracing::debug!(sandbox = %spec.id, pid, "sandbox.start");
                self.pid.store(pid, Ordering::Release);
                if self.shared.cgroup.is_none() {
                    *self.status.lock() = sys::open_status(pid);
                }
                if *self.killed.borrow() {
                    sys::signal_group(pid, Signal::SIGKILL);
                }
                let exit_tx = self.exit_tx.clone();
                watch_exit(pid, waitable, self.shared.clone(), move |info| {
                    let _ = exit_tx.send(Some(info));
                });
            }
            Err(e) => {
                tracing::warn!(sandbox = %spec.id, error = %e, "sandbox.start_failed");
                let (exit_tx, shared) = (self.exit_tx.clone(), self.shared.clone());
                tokio::spawn(async move {
                    let _ = exit_tx.send(Some(ExitInfo {
                        code: Some(127),
                        signal: None,
                    }));
                    shared.gone().await;
                });
            }
        }
    }

    /// The runtime is gone: records the cgroup's figures, tells, and cleans the cgroup up.
    async fn finish(&self, info: ExitInfo) {
        self.shared.record();
        let _ = self.exit_tx.send(Some(info));
        self.shared.gone().await;
    }

    fn running(&self) -> bool {
        self.exit_rx.borrow().is_none()
    }

    fn pids(&self) -> Vec<u32> {
        match (&self.shared.cgroup, self.pid()) {
            (Some(c), _) => c.pids(),
            (None, Some(pid)) => crate::peer::family_of(pid),
            (None, None) => Vec::new(),
        }
    }
}

impl Sandbox for ZygoteSandbox {
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
        self.killed.send_replace(true);
        if let Some(pid) = self.pid() {
            sys::signal_group(pid, Signal::SIGKILL);
        } else if self.first && *self.zygote.state.borrow() == State::Starting {
            // Init of the zygote is this sandbox's init: it was cut short.
            sys::signal_group(self.zygote.pid, Signal::SIGKILL);
        }
        if let Some(c) = &self.shared.cgroup
            && self.shared.live.load(Ordering::Acquire) > 0
        {
            c.kill_all();
        }
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        self.shared
            .peak_bytes(self.running(), self.status.lock().as_ref())
    }

    fn out_of_memory(&self) -> bool {
        self.shared.out_of_memory(self.running())
    }

    fn owns_connection(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
        crate::peer::connection_held(local, peer, || self.pids())
    }

    fn holds_socket(&self, inode: u64) -> bool {
        crate::peer::held_by(inode, &self.pids())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_parent_past_a_command_name_with_parentheses() {
        let me = std::process::id();
        let parent = crate::peer::parent_of(me).expect("own stat");
        assert_eq!(parent, std::os::unix::process::parent_id());
    }
}
