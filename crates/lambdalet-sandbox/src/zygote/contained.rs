//! What differs for a container zygote's sandbox: its forked runtime is found in its cgroup,
//! and a plain start is a container sandbox of its own that this one stands for; the zygote
//! itself is a container sandbox, started by a task.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::sandbox::{KILLED, ZygoteSandbox};
use super::{State, Zygote, read_loop};
use crate::container::ContainerBackend;
use crate::spec::{ExitInfo, SandboxSpec};

/// How long a container zygote's fork may take to join its cgroup.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Copies what a plain container sandbox prints to the output of the sandbox it stands for.
async fn forward_output(from: tokio::net::unix::pipe::Receiver, to: OwnedFd) {
    let Ok(mut to) = tokio::net::unix::pipe::Sender::from_owned_fd(to) else {
        return;
    };
    let mut from = from;
    let _ = tokio::io::copy(&mut from, &mut to).await;
}

impl ZygoteSandbox {
    /// Makes the runtime forked in a container this sandbox's: its pids are of a PID namespace
    /// the daemon cannot name, so it is found in the sandbox's cgroup, which it joins (with its
    /// init) before it waits at its gate. Returns the host pid of that init, the parent of the
    /// others.
    pub(super) async fn adopt_joined(&self) -> std::io::Result<u32> {
        let Some(c) = &self.shared.cgroup else {
            return Err(std::io::Error::other(
                "a container zygote's fork needs a cgroup to be found in",
            ));
        };
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        loop {
            let pids = c.pids();
            if pids.len() >= 2 {
                let init = pids
                    .iter()
                    .find(|p| crate::peer::parent_of(**p).is_none_or(|q| !pids.contains(&q)));
                if let Some(init) = init {
                    return Ok(*init);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(std::io::Error::other(format!(
                    "the fork did not join its cgroup within {JOIN_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Starts a container sandbox the plain way, which this one then stands for: its output
    /// goes to this sandbox's, and its exit is this one's.
    pub(super) fn plain_container(
        &self,
        backend: ContainerBackend,
        mut spec: SandboxSpec,
        stdout: OwnedFd,
    ) {
        use crate::spec::SandboxBackend;
        spec.zygote = None;
        let (inner, exit_tx, shared) = (
            self.inner.clone(),
            self.exit_tx.clone(),
            self.shared.clone(),
        );
        let killed = self.killed.subscribe();
        tokio::spawn(async move {
            // The container has a cgroup of its own, by the same name: this one goes first.
            shared.gone().await;
            let launched = match backend.launch(spec).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox.start_failed");
                    let _ = exit_tx.send(Some(ExitInfo {
                        code: Some(127),
                        signal: None,
                    }));
                    return;
                }
            };
            let sandbox = launched.sandbox;
            let _ = inner.set(sandbox.clone());
            if *killed.borrow() {
                sandbox.kill();
            }
            tokio::spawn(forward_output(launched.output.into_receiver(), stdout));
            let mut exited = sandbox.exited();
            let info = exited.wait_for(Option::is_some).await.ok().and_then(|i| *i);
            let _ = exit_tx.send(Some(info.unwrap_or(KILLED)));
        });
    }
}

/// Starts a container zygote's sandbox, then serves it as [`read_loop`](super::read_loop) does; a sandbox that
/// cannot start makes the zygote refuse (its version's sandboxes start the plain way, and say
/// why if they cannot either).
pub(super) async fn start(
    z: Arc<Zygote>,
    backend: ContainerBackend,
    zspec: SandboxSpec,
    exit_tx: watch::Sender<Option<ExitInfo>>,
) {
    let launched = match backend.launch_zygote(zspec).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(family = %z.family, error = %e, "zygote.container_failed");
            z.init_output.lock().take();
            z.closed.store(true, Ordering::Release);
            z.state
                .send_replace(State::Refused(format!("its container did not start: {e}")));
            let _ = exit_tx.send(Some(ExitInfo {
                code: Some(127),
                signal: None,
            }));
            return;
        }
    };
    let sandbox = launched.sandbox;
    z.pid.store(sandbox.pid().unwrap_or(0), Ordering::Release);
    if let Some(slot) = &z.container {
        let _ = slot.set(sandbox.clone());
    }
    if z.killed.load(Ordering::Acquire) {
        sandbox.kill();
    }
    let mut exited = sandbox.exited();
    tokio::spawn(async move {
        let info = exited
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|i| *i)
            .unwrap_or(ExitInfo {
                code: None,
                signal: Some(libc::SIGKILL),
            });
        let _ = exit_tx.send(Some(info));
    });
    read_loop(z, launched.output.into_receiver()).await;
}
