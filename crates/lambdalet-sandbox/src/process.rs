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
use std::sync::atomic::AtomicU32;

use async_trait::async_trait;
use nix::sys::signal::Signal;
use parking_lot::Mutex;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::watch;

use crate::cgroup::{Cgroups, SandboxCgroup};
use crate::error::SandboxError;
use crate::output::OutputReader;
use crate::spec::{ExitInfo, Launched, Sandbox, SandboxBackend, SandboxSpec};
use crate::zygote::{self, ZygoteSandbox};
use crate::{spawn, sys};

/// Runs runtimes as child processes of the daemon.
#[derive(Default, Clone)]
pub struct ProcessBackend {
    cgroups: Option<Arc<Cgroups>>,
    zygotes: Arc<zygote::Zygotes>,
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
        Self {
            cgroups,
            zygotes: Arc::default(),
        }
    }
}

#[async_trait]
impl SandboxBackend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn launch(&self, spec: SandboxSpec) -> Result<Launched, SandboxError> {
        let setup = |e: std::io::Error| SandboxError::Setup(format!("output pipe: {e}"));
        let (tx, rx) = pipe::pipe().map_err(setup)?;
        let stdout = tx.into_blocking_fd().map_err(setup)?;
        let claim = match &spec.zygote {
            Some(key) if spec.extensions.is_empty() && spec.runtime_channel.is_some() => {
                let output = stdout.try_clone().map_err(setup)?;
                let how = zygote::ZygoteStart::Process(self.cgroups.as_ref());
                self.zygotes.claim(&spec, key, &how, output)?
            }
            _ => zygote::Claim::Plain,
        };
        let cgroup = create_cgroup(self.cgroups.as_ref(), &spec.id, &spec.limits)?;
        let (zygote, first) = match claim {
            zygote::Claim::Fork(z) => (Some(z), false),
            zygote::Claim::First(z) => (Some(z), true),
            zygote::Claim::Plain => (None, false),
        };
        if let Some(claimed) = zygote {
            let shared = Arc::new(Shared::new(cgroup, 1));
            let zygote = Arc::clone(&claimed);
            let sandbox = Arc::new(ZygoteSandbox::new(
                spec.id.clone(),
                zygote,
                first,
                shared,
                None,
            ));
            tokio::spawn(sandbox.clone().run(spec, stdout, claimed));
            return Ok(Launched {
                sandbox,
                output: OutputReader::new(rx),
                runtime_api: None,
                extension_output: None,
            });
        }
        let extensions = spec.extensions.len();
        let shared = Arc::new(Shared::new(cgroup, extensions + 1));
        let (exit_tx, exit_rx) = watch::channel(None);
        let (ext_tx, ext_rx) = watch::channel(Vec::new());
        let mut sandbox = ProcessSandbox {
            id: spec.id.clone(),
            pid: AtomicU32::new(0),
            exit_rx,
            exit_tx: Arc::new(exit_tx),
            ext_rx,
            ext_pids: Vec::new(),
            status: Mutex::new(None),
            shared: shared.clone(),
            pending: Mutex::new(None),
        };
        let extension_output = if extensions == 0 {
            None
        } else {
            let (etx, erx) = pipe::pipe().map_err(setup)?;
            let eout = etx.into_blocking_fd().map_err(setup)?;
            let ext_tx = Arc::new(ext_tx);
            for (i, program) in spec.extensions.iter().enumerate() {
                let ext = SandboxSpec {
                    program: program.clone(),
                    args: Vec::new(),
                    env: spec.extension_env.clone(),
                    extensions: Vec::new(),
                    extension_env: Vec::new(),
                    runtime_channel: None,
                    zygote: None,
                    ..spec.clone()
                };
                let fd = eout.try_clone().map_err(setup)?;
                match start(&ext, fd, shared.cgroup.as_deref()) {
                    Ok((pid, waitable)) => {
                        sandbox.ext_pids.push(pid);
                        let ext_tx = ext_tx.clone();
                        watch_exit(pid, waitable, shared.clone(), move |info| {
                            ext_tx.send_modify(|v| v.push((i, info)));
                        });
                    }
                    Err(e) => {
                        // Neither this extension nor those after it nor the runtime will run.
                        sandbox.kill();
                        sandbox.runtime_gone(ExitInfo {
                            code: Some(127),
                            signal: None,
                        });
                        for _ in i + 1..extensions {
                            let shared = shared.clone();
                            tokio::spawn(async move { shared.gone().await });
                        }
                        return Err(e);
                    }
                }
            }
            drop(eout);
            tracing::debug!(sandbox = %spec.id, extensions, "sandbox.extensions_started");
            Some(OutputReader::new(erx))
        };
        let sandbox = Arc::new(sandbox);
        if extension_output.is_none() {
            sandbox.spawn_runtime(spec, stdout)?;
        } else {
            *sandbox.pending.lock() = Some((spec, stdout));
        }
        Ok(Launched {
            sandbox,
            output: OutputReader::new(rx),
            runtime_api: None,
            extension_output,
        })
    }

    fn retire_zygotes(&self, family: Option<&str>) {
        self.zygotes.retire(family);
    }

    fn zygote_state(&self, family: &str) -> Option<crate::spec::ZygoteState> {
        self.zygotes.state(family)
    }
}

/// How the child is waited for: its pidfd, or the standard library's child handle.
pub(crate) enum Waitable {
    Pidfd(OwnedFd),
    Child(tokio::process::Child),
}

/// Starts a program of the sandbox, in `cgroup` when given, through `spawn` or, where the
/// kernel lacks `CLONE_PIDFD`, the standard library's fork path.
pub(crate) fn start(
    spec: &SandboxSpec,
    stdout: OwnedFd,
    cgroup: Option<&SandboxCgroup>,
) -> Result<(u32, Waitable), SandboxError> {
    let program = spec.program.display().to_string();
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
        fd3: spec.runtime_channel.as_ref().map(|fd| fd.as_raw_fd()),
    };
    let spawned = spawn::spawn(&request).map_err(|source| SandboxError::Spawn {
        program: program.clone(),
        source,
    })?;
    match spawned {
        Some(child) => {
            // Our copy of the write end goes now, so the pipe reaches end of file once the
            // runtime and everything it started have exited.
            drop(stdout);
            Ok((child.pid, Waitable::Pidfd(child.pidfd)))
        }
        None => spawn_forked(spec, stdout, &program, procs),
    }
}

/// Waits for a process of the sandbox and reaps it; `on_exit` gets how it ended (after the
/// cgroup's figures are read). Should the daemon's runtime drop the task first (shutdown),
/// the process group is killed, as `kill_on_drop` does.
pub(crate) fn watch_exit(
    pid: u32,
    waitable: Waitable,
    shared: Arc<Shared>,
    on_exit: impl FnOnce(ExitInfo) + Send + 'static,
) {
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
        shared.record();
        on_exit(info);
        shared.gone().await;
    });
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
    sys::confine_child(
        &mut cmd,
        spec.limits.open_files,
        cgroup_procs,
        spec.runtime_channel.clone(),
    );
    let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    // Our copies of the write end are dropped with `cmd`.
    drop(cmd);
    let pid = child.id().unwrap_or(0);
    Ok((pid, Waitable::Child(child)))
}

mod sandbox;
mod shared;

use sandbox::ProcessSandbox;
pub(crate) use shared::{Shared, create_cgroup};

#[cfg(test)]
mod tests;
