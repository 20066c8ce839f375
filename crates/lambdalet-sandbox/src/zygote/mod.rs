//! Zygotes: a runtime per function version that has run Init (imported the handler) once and
//! forks a runtime for each new sandbox, so a cold start costs a fork instead of an
//! interpreter's start and the handler's imports (SOCK, ATC '18).
//!
//! A zygote is lambdalet's Python bootstrap started with `LAMBDALET_ZYGOTE_FD` (its
//! descriptor 3): a `SOCK_SEQPACKET` socket to the daemon, one JSON message per packet (the
//! bootstrap's `_zygote` describes the protocol). It runs in a cgroup of its own with the
//! function's limits and dies with the daemon; what it forks dies with it, so a zygote is only
//! closed once no sandbox forked from it is left ([`Zygote::retire`]). It refuses, and the
//! version's sandboxes start the plain way, when Init started threads or left descriptors open
//! that forked sandboxes would share.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use parking_lot::Mutex;
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;
use tokio::sync::{oneshot, watch};

use crate::cgroup::Cgroups;
use crate::container::{ContainerBackend, control};
use crate::error::SandboxError;
use crate::process::{Shared, create_cgroup, start, watch_exit};
use crate::spec::{ExitInfo, Sandbox, SandboxSpec, ZygoteKey};
use crate::sys;

mod reader;
use reader::read_loop;
mod ahead;
mod contained;
mod registry;
mod sandbox;

pub(crate) use Start as ZygoteStart;
pub(crate) use registry::Claim;
pub(crate) use registry::Zygotes;
pub(crate) use sandbox::ZygoteSandbox;

/// The variable that tells the bootstrap which descriptor is its zygote socket.
const ZYGOTE_FD_ENV: &str = "LAMBDALET_ZYGOTE_FD";
/// How long a fork may take before the zygote is taken for stuck.
const FORK_TIMEOUT: Duration = Duration::from_secs(10);
/// What a zygote's Init may print that is kept for the first sandbox's log.
const MAX_INIT_OUTPUT: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Running Init.
    Starting,
    Ready,
    /// Will not fork (why); the process has exited.
    Refused(String),
    /// Exited (Init failed, or it was retired, or killed).
    Gone,
}

/// Why a fork did not happen.
pub(crate) enum ForkError {
    /// The request never reached the zygote: the sandbox may start another way.
    Unsent(&'static str),
    /// It did, and then failed: the zygote may have forked a runtime for it, which dies with it.
    Failed(SandboxError),
}

impl std::fmt::Display for ForkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsent(why) => f.write_str(why),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

/// A forked runtime: its pid and, in time, how it ended (as the zygote saw it).
pub(crate) struct Forked {
    pub pid: u32,
    pub exit: oneshot::Receiver<ExitInfo>,
}

pub(crate) struct Zygote {
    family: String,
    pub(super) generation: u64,
    pid: AtomicU32,
    ctl: AsyncFd<OwnedFd>,
    pub(crate) state: watch::Sender<State>,
    exit: watch::Receiver<Option<ExitInfo>>,
    /// Fork requests waiting for their `forked`, by sandbox id.
    forks: Mutex<HashMap<String, oneshot::Sender<Forked>>>,
    /// Forked runtimes that have not exited, by pid.
    children: Mutex<HashMap<u32, oneshot::Sender<ExitInfo>>>,
    /// One fork at a time: a pid reported is then always the latest fork's.
    fork_lock: tokio::sync::Mutex<()>,
    retired: AtomicBool,
    closed: AtomicBool,
    /// Sandboxes that claimed this zygote and have not had their fork (or given up) yet: a
    /// retired zygote stays open for them.
    waiting: AtomicUsize,
    /// What Init printed, held until Init is over, then written to the first sandbox's
    /// output (unless the zygote refused: that sandbox starts plainly and prints it itself).
    init_output: Mutex<Option<(Vec<u8>, OwnedFd)>>,
    /// The zygote's own cgroup, for what it holds that its sandboxes share (a process
    /// zygote's; a container zygote's sandbox has its own).
    shared: Option<Arc<Shared>>,
    /// A container zygote's sandbox, once started.
    container: Option<OnceLock<Arc<dyn Sandbox>>>,
    /// Killed before its container started.
    killed: AtomicBool,
}

/// How a zygote is started: as a child process of the daemon (in a cgroup of `Cgroups` when
/// given), or in a container sandbox of this backend.
pub(crate) enum Start<'a> {
    Process(Option<&'a Arc<Cgroups>>),
    Container(&'a ContainerBackend),
}

impl Zygote {
    /// Starts the zygote of `spec`'s runtime, handing it `spec`'s channel for Init's error.
    fn start(
        spec: &SandboxSpec,
        key: &ZygoteKey,
        generation: u64,
        how: &Start<'_>,
        n: u64,
        first_output: OwnedFd,
    ) -> Result<Arc<Self>, SandboxError> {
        let setup = |what: &str, e: io::Error| SandboxError::Setup(format!("zygote {what}: {e}"));
        let (ours, theirs) = control::pair().map_err(|e| setup("socket", e))?;
        let id = format!("zygote-{}-{n}", std::process::id());
        let mut env = spec.env.clone();
        env.push((ZYGOTE_FD_ENV.to_owned(), "3".to_owned()));
        let zspec = SandboxSpec {
            id: id.clone(),
            env,
            runtime_channel: Some(Arc::new(theirs)),
            zygote: None,
            extensions: Vec::new(),
            extension_env: Vec::new(),
            ..spec.clone()
        };
        let (exit_tx, exit_rx) = watch::channel(None);
        let mut exit_tx = Some(exit_tx);
        let (pid, shared, out_rx, container, init) = match how {
            Start::Process(cgroups) => {
                let (out_tx, out_rx) = pipe::pipe().map_err(|e| setup("output pipe", e))?;
                let out_fd = out_tx
                    .into_blocking_fd()
                    .map_err(|e| setup("output pipe", e))?;
                let cgroup = create_cgroup(*cgroups, &id, &spec.limits)?;
                let shared = Arc::new(Shared::new(cgroup, 1));
                let (pid, waitable) = match start(&zspec, out_fd, shared.cgroup.as_deref()) {
                    Ok(s) => s,
                    Err(e) => {
                        let shared = shared.clone();
                        tokio::spawn(async move { shared.gone().await });
                        return Err(e);
                    }
                };
                let tx = exit_tx.take();
                watch_exit(pid, waitable, shared.clone(), move |info| {
                    if let Some(tx) = tx {
                        let _ = tx.send(Some(info));
                    }
                });
                let init = serde_json::json!({"op": "init"});
                (pid, Some(shared), Some(out_rx), None, init)
            }
            Start::Container(backend) => {
                let init =
                    serde_json::json!({"op": "init", "container": backend.zygote_setup(spec)?});
                (0, None, None, Some((*backend).clone()), init)
            }
        };
        let first: Vec<RawFd> = spec.runtime_channel.iter().map(|c| c.as_raw_fd()).collect();
        let ctl = control::send(ours.as_fd(), init.to_string().as_bytes(), &first)
            .and_then(|()| {
                nix::fcntl::fcntl(
                    ours.as_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                )?;
                sys::async_fd(
                    ours,
                    tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE,
                )
            })
            .map_err(|e| {
                if pid != 0 {
                    sys::signal_group(pid, Signal::SIGKILL);
                }
                setup("socket", e)
            })?;
        tracing::info!(zygote = %id, family = %key.family, pid, container = container.is_some(), "zygote.start");
        let zygote = Arc::new(Self {
            family: key.family.clone(),
            generation,
            pid: AtomicU32::new(pid),
            ctl,
            state: watch::channel(State::Starting).0,
            exit: exit_rx,
            forks: Mutex::new(HashMap::new()),
            children: Mutex::new(HashMap::new()),
            fork_lock: tokio::sync::Mutex::new(()),
            retired: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            init_output: Mutex::new(Some((Vec::new(), first_output))),
            shared,
            container: container.as_ref().map(|_| OnceLock::new()),
            killed: AtomicBool::new(false),
        });
        match (out_rx, container, exit_tx) {
            (Some(out), _, _) => {
                tokio::spawn(read_loop(zygote.clone(), out));
            }
            (None, Some(backend), Some(exit_tx)) => {
                tokio::spawn(contained::start(zygote.clone(), backend, zspec, exit_tx));
            }
            _ => {}
        }
        Ok(zygote)
    }

    /// The zygote's pid (the daemon's child; for a container zygote, its init, once started).
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::Acquire)
    }

    /// Whether the zygote (and what it forks) runs in a container sandbox.
    pub(crate) fn in_container(&self) -> bool {
        self.container.is_some()
    }

    /// Kills the zygote, and with it every runtime it forked.
    pub(crate) fn kill(&self) {
        match &self.container {
            Some(sandbox) => {
                self.killed.store(true, Ordering::Release);
                if let Some(s) = sandbox.get() {
                    s.kill();
                }
            }
            None => sys::signal_group(self.pid(), Signal::SIGKILL),
        }
    }

    /// What the zygote's cgroup holds at its peak (what its forks share).
    pub(crate) fn held_bytes(&self) -> Option<u64> {
        match (&self.shared, &self.container) {
            (Some(shared), _) => shared.cgroup.as_ref().and_then(|c| c.peak_memory_bytes()),
            (None, Some(sandbox)) => sandbox.get().and_then(|s| s.max_memory_used_bytes()),
            (None, None) => None,
        }
    }

    /// Its state once Init is over (ready, refused or gone).
    pub(crate) async fn settled(&self) -> State {
        let mut rx = self.state.subscribe();
        let s = rx.wait_for(|s| *s != State::Starting).await;
        s.map_or(State::Gone, |s| s.clone())
    }

    /// How the zygote's process ended, once it has (bounded by `limit`).
    pub(crate) async fn exit_info(&self, limit: Duration) -> Option<ExitInfo> {
        let mut rx = self.exit.clone();
        let waited = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        waited.ok().and_then(|r| r.ok().and_then(|i| *i))
    }

    /// Forks a runtime for sandbox `id`: `fds` are its channel, its output, its gate and the
    /// cgroup files it joins; a container's fork takes `hostname` too.
    pub(crate) async fn fork(
        &self,
        id: &str,
        env: &[(String, String)],
        hostname: Option<&str>,
        fds: &[RawFd],
    ) -> Result<Forked, ForkError> {
        let fail = |why: String| {
            ForkError::Failed(SandboxError::Setup(format!(
                "zygote {}: {why}",
                self.family
            )))
        };
        let _one = self.fork_lock.lock().await;
        if *self.state.borrow() != State::Ready || self.closed.load(Ordering::Acquire) {
            return Err(ForkError::Unsent("the zygote is retired or gone"));
        }
        let mut vars = serde_json::Map::new();
        for (k, v) in env {
            // The first of a name wins, as getenv() reads an environment block.
            vars.entry(k.clone())
                .or_insert_with(|| serde_json::Value::String(v.clone()));
        }
        let mut body = serde_json::json!({"op": "fork", "id": id, "env": vars});
        if let Some(h) = hostname {
            body["hostname"] = serde_json::Value::String(h.to_owned());
        }
        let body = body.to_string();
        let (tx, rx) = oneshot::channel();
        self.forks.lock().insert(id.to_owned(), tx);
        if let Err(e) = self.send(body.as_bytes(), fds).await {
            self.forks.lock().remove(id);
            tracing::warn!(family = %self.family, error = %e, "zygote.channel");
            return Err(ForkError::Unsent("the zygote's socket failed"));
        }
        match tokio::time::timeout(FORK_TIMEOUT, rx).await {
            Ok(Ok(forked)) => Ok(forked),
            Ok(Err(_)) => Err(fail("exited before it forked".to_owned())),
            Err(_) => {
                self.forks.lock().remove(id);
                tracing::warn!(family = %self.family, pid = self.pid(), "zygote.stuck");
                self.kill();
                Err(fail(format!("did not fork within {FORK_TIMEOUT:?}")))
            }
        }
    }

    async fn send(&self, body: &[u8], fds: &[RawFd]) -> io::Result<()> {
        loop {
            let mut guard = self.ctl.writable().await?;
            match guard.try_io(|fd| control::send(fd.get_ref().as_fd(), body, fds)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    async fn recv(&self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let mut guard = self.ctl.readable().await?;
            match guard.try_io(|fd| control::recv(fd.get_ref().as_fd())) {
                Ok(Ok(Some((body, _)))) => return Ok(Some(body)),
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Forks no more; the zygote is closed (and exits) once its last sandbox has.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.close_if_idle();
    }

    /// A sandbox claims the zygote (until the [`Claimed`] it gets is dropped).
    pub(crate) fn claim(self: &Arc<Self>) -> Claimed {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Claimed(self.clone())
    }

    fn close_if_idle(&self) {
        if self.retired.load(Ordering::Acquire)
            && self.waiting.load(Ordering::Acquire) == 0
            && self.children.lock().is_empty()
            && self.forks.lock().is_empty()
            && !self.closed.swap(true, Ordering::AcqRel)
        {
            tracing::info!(family = %self.family, pid = self.pid(), "zygote.retire");
            let _ = nix::sys::socket::shutdown(
                self.ctl.get_ref().as_raw_fd(),
                nix::sys::socket::Shutdown::Both,
            );
        }
    }
}

/// A sandbox's claim on a zygote: keeps a retired zygote open until the sandbox has had its
/// fork or started another way.
pub(crate) struct Claimed(Arc<Zygote>);

impl std::ops::Deref for Claimed {
    type Target = Arc<Zygote>;
    fn deref(&self) -> &Arc<Zygote> {
        &self.0
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
        self.0.close_if_idle();
    }
}
