//! A sandbox whose runtime is forked from a zygote: the sandbox has its own cgroup and output
//! pipe as any other; the forked runtime joins that cgroup before it may run anything of the
//! function's (it waits at a gate until then). Should the zygote refuse, or be gone before it
//! forked, the runtime starts the plain way: a process, or a container sandbox of its own that
//! this one stands for.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nix::sys::signal::Signal;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::{Claimed, ForkError::Unsent, State, Zygote};
use crate::container::ContainerBackend;
use crate::process::{Shared, start, watch_exit};
use crate::spec::{ExitInfo, Sandbox, SandboxSpec};
use crate::sys;

pub(crate) struct ZygoteSandbox {
    id: String,
    zygote: Arc<Zygote>,
    /// Its cold start started the zygote.
    first: bool,
    pub(super) shared: Arc<Shared>,
    /// The runtime's pid (0 until forked or started).
    pid: AtomicU32,
    status: Mutex<Option<std::fs::File>>,
    pub(super) exit_tx: Arc<watch::Sender<Option<ExitInfo>>>,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    pub(super) killed: watch::Sender<bool>,
    /// The backend of a container zygote's sandbox, for a plain start.
    container: Option<ContainerBackend>,
    /// A container sandbox started the plain way, which this one stands for.
    pub(super) inner: Arc<OnceLock<Arc<dyn Sandbox>>>,
}

pub(super) const KILLED: ExitInfo = ExitInfo {
    code: None,
    signal: Some(libc::SIGKILL),
};

impl ZygoteSandbox {
    pub(crate) fn new(
        id: String,
        zygote: Arc<Zygote>,
        first: bool,
        shared: Arc<Shared>,
        container: Option<ContainerBackend>,
    ) -> Self {
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
            container,
            inner: Arc::new(OnceLock::new()),
        }
    }

    /// Starts the runtime once the zygote has run Init: forked, or the plain way. `claim`
    /// keeps the zygote open (even retired) until then.
    pub(crate) async fn run(self: Arc<Self>, spec: SandboxSpec, stdout: OwnedFd, claim: Claimed) {
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
        let began = std::time::Instant::now();
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
        let hostname = spec.container.as_ref().map(|c| c.hostname.as_str());
        let forked = self.zygote.fork(&spec.id, &spec.env, hostname, &fds).await;
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
        let forked_at = began.elapsed();
        let adopted = if self.zygote.in_container() {
            self.adopt_joined().await
        } else {
            self.adopt(forked.pid).map(|()| forked.pid)
        };
        let adopted = adopted.map_err(|e| {
            tracing::warn!(sandbox = %self.id, pid = forked.pid, error = %e, "zygote.adopt_failed");
        });
        if let Ok(pid) = adopted {
            self.pid.store(pid, Ordering::Release);
        }
        // Opened only for a runtime that is the sandbox's and still wanted; else it dies at
        // its gate.
        let go =
            adopted.is_ok() && !*self.killed.borrow() && nix::unistd::write(&gate_w, b"g").is_ok();
        if !go {
            if let Some(c) = &self.shared.cgroup {
                c.kill_all();
            }
            // (Only a process that is still the zygote's child is ours to kill: the pid of one
            // that died meanwhile may be another's now.)
            if !self.zygote.in_container()
                && crate::peer::parent_of(forked.pid) == Some(self.zygote.pid())
            {
                sys::signal_group(forked.pid, Signal::SIGKILL);
            }
        }
        drop(gate_w);
        tracing::debug!(
            sandbox = %self.id,
            pid = self.pid(),
            zygote = self.zygote.pid(),
            forked_us = forked_at.as_micros() as u64,
            gate_us = began.elapsed().as_micros() as u64,
            "sandbox.forked"
        );
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
        if parent != self.zygote.pid() {
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
        if let Some(backend) = &self.container {
            return self.plain_container(backend.clone(), spec, stdout);
        }
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

    /// Whether `pid` is still a process of this sandbox (in its cgroup, where it has one): a
    /// runtime that has exited may have left its pid to another process.
    fn still_ours(&self, pid: u32) -> bool {
        self.shared
            .cgroup
            .as_ref()
            .is_none_or(|c| c.pids().contains(&pid))
    }

    /// The runtime is gone: records the cgroup's figures, tells, and cleans the cgroup up.
    async fn finish(&self, info: ExitInfo) {
        tracing::debug!(sandbox = %self.id, code = ?info.code, signal = ?info.signal, "sandbox.exited");
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
        if let Some(inner) = self.inner.get() {
            return inner.pid();
        }
        Some(self.pid.load(Ordering::Acquire)).filter(|p| *p != 0)
    }

    fn exited(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit_rx.clone()
    }

    fn terminate(&self) {
        if let Some(inner) = self.inner.get() {
            return inner.terminate();
        }
        if let Some(pid) = self.pid().filter(|p| self.still_ours(*p)) {
            sys::signal_group(pid, Signal::SIGTERM);
        }
    }

    fn kill(&self) {
        self.killed.send_replace(true);
        if let Some(inner) = self.inner.get() {
            return inner.kill();
        }
        if let Some(pid) = self.pid() {
            if self.still_ours(pid) {
                sys::signal_group(pid, Signal::SIGKILL);
            }
        } else if self.first && *self.zygote.state.borrow() == State::Starting {
            // Init of the zygote is this sandbox's init: it was cut short.
            self.zygote.kill();
        }
        if let Some(c) = &self.shared.cgroup
            && self.shared.live.load(Ordering::Acquire) > 0
        {
            c.kill_all();
        }
    }

    fn max_memory_used_bytes(&self) -> Option<u64> {
        if let Some(inner) = self.inner.get() {
            return inner.max_memory_used_bytes();
        }
        self.shared
            .peak_bytes(self.running(), self.status.lock().as_ref())
    }

    fn out_of_memory(&self) -> bool {
        if let Some(inner) = self.inner.get() {
            return inner.out_of_memory();
        }
        self.shared.out_of_memory(self.running())
    }

    fn owns_connection(&self, local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
        if let Some(inner) = self.inner.get() {
            return inner.owns_connection(local, peer);
        }
        crate::peer::connection_held(local, peer, || self.pids())
    }

    fn holds_socket(&self, inode: u64) -> bool {
        if let Some(inner) = self.inner.get() {
            return inner.holds_socket(inode);
        }
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
