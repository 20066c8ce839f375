//! The container backend (Greengrass `GreengrassContainer`): each sandbox gets new mount, PID,
//! IPC, UTS and cgroup namespaces (and a network namespace with `network: none`), a root
//! filesystem of its own ([`plan`]), a cgroup with its memory, process and CPU limits, and runs
//! as an unprivileged user with no capabilities, `no_new_privs` and a seccomp filter. An image
//! function's root is its image's tree ([`image`]).
//!
//! The daemon only creates the cgroup, the control socket and the init process (a re-exec of
//! its own binary, [`init`]); everything inside the namespaces is done by that init, which is
//! single-threaded and may take its time, while the daemon awaits its reports.

mod command;
pub(crate) mod control;
mod forked;
mod host;
mod image;
pub mod init;
mod net;
mod opt;
mod os;
mod plan;
mod privileges;
mod probe;
mod rootfs;
mod sandbox;
mod setup;
mod walk;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::unix::pipe;

use crate::cgroup::{CgroupLimits, Cgroups, DeviceKind, DeviceRule, SandboxCgroup};
use crate::error::SandboxError;
use crate::output::OutputReader;
use crate::spawn;
use crate::spec::{ContainerSpec, Launched, SandboxBackend, SandboxSpec};
use crate::zygote::Zygotes;

use control::{DaemonEnd, Report};
pub use host::check_container_params;
use plan::{Exec, InitPlan};
pub use rootfs::SYSTEM_DIRS;
use sandbox::{ContainerSandbox, ExitWatch, signal};

/// How long an init may take to build the sandbox and start the runtime.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Namespaces every container gets; the network namespace is added for `network: none`.
const NAMESPACES: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;

/// Creates container sandboxes.
#[derive(Clone)]
pub struct ContainerBackend {
    cgroups: Arc<Cgroups>,
    /// An empty directory each sandbox mounts its root on (in its own mount namespace).
    root: PathBuf,
    zygotes: Arc<Zygotes>,
}

impl std::fmt::Debug for ContainerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerBackend")
            .field("root", &self.root)
            .finish()
    }
}

impl ContainerBackend {
    /// Starts the init of a sandbox and waits until it reports the runtime started.
    async fn start_init(
        &self,
        id: &str,
        plan: &InitPlan,
        namespaces: libc::c_int,
        limits: &CgroupLimits,
        runtime_channel: Option<std::os::fd::RawFd>,
    ) -> Result<Started, SandboxError> {
        let cgroup = self
            .cgroups
            .create(id, limits)
            .map_err(|e| SandboxError::Setup(e.to_string()))?;
        let cgroup = Arc::new(cgroup);
        match self
            .spawn_init(id, plan, namespaces, &cgroup, runtime_channel)
            .await
        {
            Ok(s) => Ok(s),
            Err(e) => {
                cgroup.kill_all();
                let c = cgroup.clone();
                let _ = tokio::task::spawn_blocking(move || c.remove()).await;
                Err(e)
            }
        }
    }

    async fn spawn_init(
        &self,
        id: &str,
        plan: &InitPlan,
        namespaces: libc::c_int,
        cgroup: &Arc<SandboxCgroup>,
        runtime_channel: Option<std::os::fd::RawFd>,
    ) -> Result<Started, SandboxError> {
        let setup = |what: &str, e: std::io::Error| SandboxError::Setup(format!("{what}: {e}"));
        let procs = cgroup
            .join_files()
            .iter()
            .map(|p| std::fs::OpenOptions::new().write(true).open(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| setup("cannot open the sandbox's cgroup", e))?;
        let proc_fds: Vec<_> = procs.iter().map(AsRawFd::as_raw_fd).collect();
        let (daemon_end, init_end) = control::pair().map_err(|e| setup("control socket", e))?;
        // Descriptor 3 and up, so the child's dup2 onto 3 cannot clobber stdin/stdout/stderr.
        let init_end: OwnedFd =
            nix::fcntl::fcntl(init_end.as_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))
                .map(|fd| {
                    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that we own.
                    unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
                })
                .map_err(|e| setup("control socket", e.into()))?;
        let ctl = DaemonEnd::new(daemon_end, plan, runtime_channel)
            .map_err(|e| setup("cannot send the sandbox's plan", e))?;
        let (tx, rx) = pipe::pipe().map_err(|e| setup("output pipe", e))?;
        let stdout = tx.into_blocking_fd().map_err(|e| setup("output pipe", e))?;
        let args = [init::INIT_ARG.to_owned()];
        let request = spawn::Request {
            program: Path::new("/proc/self/exe"),
            args: &args,
            env: &[],
            cwd: Path::new("/"),
            output: stdout.as_raw_fd(),
            max_open_files: crate::spec::MAX_OPEN_FILES,
            namespaces,
            cgroups: &proc_fds,
            fd3: Some(init_end.as_raw_fd()),
        };
        let child = spawn::spawn(&request)
            .map_err(|e| setup("cannot start the sandbox's init", e))?
            .ok_or_else(|| {
                SandboxError::Setup(
                    "this kernel cannot start sandboxes (clone with CLONE_PIDFD needs Linux 5.2)"
                        .to_owned(),
                )
            })?;
        drop((stdout, init_end, procs));
        let pidfd = Arc::new(child.pidfd);
        let mut listener = None;
        let mut extension_output = None;
        let handshake = async {
            loop {
                match ctl.next().await {
                    Ok(Some((Report::Listener, fd))) => {
                        listener = fd.map(std::net::TcpListener::from)
                    }
                    Ok(Some((Report::Started, _))) => return Ok(()),
                    // The runtime waits for `start_runtime`.
                    Ok(Some((Report::Extensions, fd))) => {
                        extension_output = fd;
                        return Ok(());
                    }
                    Ok(Some((Report::Failed { step, error }, _))) => return Err((step, error)),
                    Ok(Some((other, _))) => {
                        return Err(("start".to_owned(), format!("unexpected report {other:?}")));
                    }
                    Ok(None) => {
                        return Err(("start".to_owned(), "the sandbox's init exited".to_owned()));
                    }
                    Err(e) => return Err(("read the init's report".to_owned(), e.to_string())),
                }
            }
        };
        let outcome = tokio::time::timeout(SETUP_TIMEOUT, handshake).await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(f)) => Some(f),
            Err(_) => Some((
                "start".to_owned(),
                format!("the sandbox was not ready within {SETUP_TIMEOUT:?}"),
            )),
        };
        let watch = ExitWatch::start(child.pid, pidfd.clone(), ctl, cgroup.clone());
        if let Some((step, error)) = failure {
            signal(&pidfd, libc::SIGKILL);
            watch.await_exit().await;
            tracing::debug!(sandbox = %id, %step, %error, "sandbox.setup_failed");
            return Err(start_error(&step, &error));
        }
        let extension_output = match extension_output {
            Some(fd) => Some(OutputReader::new(
                pipe::Receiver::from_owned_fd(fd).map_err(|e| setup("extensions' output", e))?,
            )),
            None => None,
        };
        Ok(Started {
            pid: child.pid,
            pidfd,
            watch,
            output: OutputReader::new(rx),
            listener,
            extension_output,
        })
    }
}

/// An init that reported the runtime started.
struct Started {
    pid: u32,
    pidfd: Arc<OwnedFd>,
    watch: ExitWatch,
    output: OutputReader,
    listener: Option<std::net::TcpListener>,
    extension_output: Option<OutputReader>,
}

/// The error of a failed start step reported by the init.
fn start_error(step: &str, error: &str) -> SandboxError {
    match step.strip_prefix("exec ") {
        Some(program) => SandboxError::Spawn {
            program: program.to_owned(),
            source: std::io::Error::other(format!("cannot exec: {error}")),
        },
        None => SandboxError::Setup(format!("cannot {step}: {error}")),
    }
}

#[async_trait]
impl SandboxBackend for ContainerBackend {
    fn name(&self) -> &'static str {
        "container"
    }

    async fn launch(&self, spec: SandboxSpec) -> Result<Launched, SandboxError> {
        if let Some(launched) = self.launch_forked(&spec)? {
            return Ok(launched);
        }
        self.launch_plain(spec, false).await
    }

    fn retire_zygotes(&self, family: Option<&str>) {
        self.zygotes.retire(family);
    }

    fn zygote_state(&self, family: &str) -> Option<crate::spec::ZygoteState> {
        self.zygotes.state(family)
    }
}

impl ContainerBackend {
    /// A sandbox of a container zygote's (see [`forked`]), or `None` if `spec`'s sandbox starts
    /// the plain way.
    fn launch_forked(&self, spec: &SandboxSpec) -> Result<Option<Launched>, SandboxError> {
        let Some(key) = &spec.zygote else {
            return Ok(None);
        };
        let Some(c) = spec
            .container
            .as_ref()
            .filter(|c| forked::eligible(spec, c))
        else {
            return Ok(None);
        };
        forked::launch(self, spec, c, key)
    }

    /// The plan of `spec`'s sandbox.
    pub(crate) fn plan_of(
        &self,
        spec: &SandboxSpec,
        c: &ContainerSpec,
    ) -> Result<InitPlan, SandboxError> {
        let exec = Exec {
            program: spec.program.clone(),
            args: spec.args.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
        };
        plan::plan(&host::RealHost, &self.root, c, &spec.limits, exec)
            .map_err(|e| SandboxError::Setup(e.to_string()))
    }

    pub(crate) fn cgroup_limits(&self, spec: &SandboxSpec, plan: &InitPlan) -> CgroupLimits {
        CgroupLimits {
            memory_bytes: spec.limits.memory_bytes,
            pids: spec.limits.pids,
            cpu_weight: spec.limits.cpu_weight,
            devices: Some(device_rules(plan)),
        }
    }

    /// Starts a container zygote's sandbox: `spec`'s, with the zygote's filter and a procfs
    /// its forks may mount theirs next to.
    pub(crate) async fn launch_zygote(&self, spec: SandboxSpec) -> Result<Launched, SandboxError> {
        self.launch_plain(spec, true).await
    }

    async fn launch_plain(
        &self,
        spec: SandboxSpec,
        zygote: bool,
    ) -> Result<Launched, SandboxError> {
        let c: &ContainerSpec = spec.container.as_ref().ok_or_else(|| {
            SandboxError::Setup("a container sandbox needs its container spec".to_owned())
        })?;
        let mut plan = self.plan_of(&spec, c)?;
        if zygote {
            plan::zygote(&mut plan);
        }
        plan.extensions = spec
            .extensions
            .iter()
            .map(|program| Exec {
                program: program.clone(),
                args: Vec::new(),
                env: spec.extension_env.clone(),
                cwd: spec.cwd.clone(),
            })
            .collect();
        let mut namespaces = NAMESPACES;
        if plan.runtime_api.is_some() {
            namespaces |= libc::CLONE_NEWNET;
        }
        let limits = self.cgroup_limits(&spec, &plan);
        let s = self
            .start_init(
                &spec.id,
                &plan,
                namespaces,
                &limits,
                spec.runtime_channel.as_ref().map(|fd| fd.as_raw_fd()),
            )
            .await?;
        tracing::debug!(sandbox = %spec.id, pid = s.pid, program = %spec.program.display(), "sandbox.start");
        let sandbox = ContainerSandbox {
            id: spec.id,
            pid: s.pid,
            pidfd: s.pidfd,
            watch: s.watch,
        };
        Ok(Launched {
            sandbox: Arc::new(sandbox),
            output: s.output,
            runtime_api: s.listener,
            extension_output: s.extension_output,
        })
    }
}

/// The devices cgroup allow-list: the nodes the plan creates, and ptys. `mknod` is allowed for
/// them because the init makes the nodes after joining the cgroup; the runtime could not use
/// it anyway (it has no `CAP_MKNOD`).
fn device_rules(plan: &InitPlan) -> Vec<DeviceRule> {
    let mut rules: Vec<DeviceRule> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            plan::Step::Mknod { node, .. } => Some(DeviceRule {
                kind: if node.char {
                    DeviceKind::Char
                } else {
                    DeviceKind::Block
                },
                major: node.major,
                minor: Some(node.minor),
                read: true,
                write: node.mode & 0o222 != 0,
                mknod: true,
            }),
            _ => None,
        })
        .collect();
    // /dev/pts/ptmx and the pseudo-terminals it hands out.
    for (major, minor) in [(5, Some(2)), (136, None)] {
        rules.push(DeviceRule {
            kind: DeviceKind::Char,
            major,
            minor,
            read: true,
            write: true,
            mknod: true,
        });
    }
    rules
}
