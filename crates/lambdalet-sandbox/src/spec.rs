//! The backend-neutral description of a sandbox and the handle to a running one.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use lambdalet_core::{DeviceMount, NetworkMode, VolumeMount};
use tokio::sync::{oneshot, watch};

use crate::error::SandboxError;
use crate::output::OutputReader;

/// Everything a backend needs to start a runtime.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// A short id for logs and resource names (`hello-3f2a`).
    pub id: String,
    /// The executable to run, as the sandbox sees it: an absolute path, or (container backend)
    /// a bare name like `python3`, looked up on the `PATH` of [`env`](Self::env) inside the
    /// sandbox as Docker resolves an image's `ENTRYPOINT`, or a relative path with a slash,
    /// from [`cwd`](Self::cwd).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment; nothing is inherited from the daemon.
    pub env: Vec<(String, String)>,
    /// Working directory (as the sandbox sees it): the function's code directory (an image's
    /// `WORKDIR`).
    pub cwd: PathBuf,
    pub limits: Limits,
    /// What a container sandbox is made of; `None` for the process backend.
    pub container: Option<ContainerSpec>,
    /// External extensions (Lambda's `/opt/extensions/*`): programs as the sandbox sees them
    /// (absolute paths), started with [`extension_env`](Self::extension_env) in the code
    /// directory before the runtime, each in a session of its own (a SIGTERM for the runtime
    /// does not reach them), writing to a pipe of their own
    /// ([`Launched::extension_output`]). With any, `launch` does not start the runtime:
    /// [`Sandbox::start_runtime`] does, once the extensions are ready.
    pub extensions: Vec<PathBuf>,
    pub extension_env: Vec<(String, String)>,
    /// A connected stream socket the runtime (only: not its extensions) gets as descriptor
    /// [`RUNTIME_CHANNEL_FD`], lambdalet's framed Runtime API for its own bootstraps. Nothing
    /// else in the sandbox can reach the other end.
    pub runtime_channel: Option<Arc<OwnedFd>>,
    /// Start the runtime by forking a zygote of this family that has run Init already (the
    /// process backend; see [`ZygoteKey`]). Needs a [`runtime_channel`](Self::runtime_channel)
    /// and no extensions; otherwise, or when the zygote refuses, the runtime starts the plain
    /// way.
    pub zygote: Option<ZygoteKey>,
}

/// Which zygote a sandbox may be forked from. Sandboxes of one family whose specs are the
/// same but for the variables in [`per_sandbox`](Self::per_sandbox) share a zygote; a spec
/// that differs otherwise (new code, configuration) makes a new one, and the old one exits
/// once the last sandbox forked from it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZygoteKey {
    /// The function version (`name:version`).
    pub family: String,
    /// Variables whose values are each sandbox's own: the zygote runs Init with the first
    /// sandbox's, every forked runtime gets its own environment whole.
    pub per_sandbox: Vec<String>,
}

/// The descriptor number of [`SandboxSpec::runtime_channel`] in the runtime.
pub const RUNTIME_CHANNEL_FD: i32 = 3;

/// Resources one sandbox may use. Enforced by a cgroup where the kernel offers one (both
/// backends), and by rlimits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Memory, including what its `/tmp` holds (tmpfs pages count as memory).
    pub memory_bytes: u64,
    /// Processes and threads (Lambda allows 1024 per execution environment).
    pub pids: u32,
    /// CPU share on cgroup v2's `cpu.weight` scale (100 = a default process).
    pub cpu_weight: u32,
    /// `RLIMIT_NOFILE` (Lambda: 1024).
    pub open_files: u64,
    /// `RLIMIT_NPROC`: processes of the sandbox's user over all of its sandboxes (container
    /// backend only; `None` leaves the limit as it is).
    pub user_processes: Option<u64>,
}

/// Lambda's processes/threads limit per execution environment.
pub const MAX_PROCESSES: u32 = 1024;
/// Lambda's open-file limit.
pub const MAX_OPEN_FILES: u64 = 1024;
/// Memory that Lambda gives a whole vCPU for; CPU weight is proportional to memory.
const MB_PER_VCPU: u64 = 1769;

impl Limits {
    /// Lambda's limits for a sandbox of `memory_bytes`: 1024 processes and open files, CPU in
    /// proportion to memory (a 1769 MB function weighs as much as one default process).
    pub fn lambda(memory_bytes: u64) -> Self {
        let mb = memory_bytes / (1024 * 1024);
        Self {
            memory_bytes,
            pids: MAX_PROCESSES,
            cpu_weight: (mb * 100 / MB_PER_VCPU).clamp(1, 10_000) as u32,
            open_files: MAX_OPEN_FILES,
            user_processes: None,
        }
    }
}

/// What a container sandbox's filesystem, network and user are made of.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// The function's unpacked code (host path), read-only at `/var/task` and `/lambda`.
    pub code_dir: PathBuf,
    /// The function's unpacked layers (host paths), in its order: merged read-only at `/opt`,
    /// a later layer's file over an earlier one's.
    pub layers: Vec<PathBuf>,
    /// lambdalet's bootstraps for this runtime (host path), read-only at `/var/runtime`.
    pub runtime_dir: PathBuf,
    /// Host directories shown read-only at the same path (the interpreter's installation
    /// when it lives outside `/usr`, e.g. a pyenv Python).
    pub host_dirs: Vec<PathBuf>,
    /// The AWS SDK lambdalet installed for this runtime (host path), read-only at
    /// [`paths::SDK_DIR`].
    pub sdk_dir: Option<PathBuf>,
    /// The Greengrass IPC socket (host path), at [`paths::IPC_SOCKET`] inside.
    pub ipc_socket: Option<PathBuf>,
    /// Size of the private `/tmp` (Lambda's `EphemeralStorage`).
    pub tmp_bytes: u64,
    pub network: NetworkMode,
    /// A read-only `/sys` (Greengrass `mountROSysfs`).
    pub mount_ro_sysfs: bool,
    pub volumes: Vec<VolumeMount>,
    pub devices: Vec<DeviceMount>,
    /// Who the runtime runs as, and its supplementary groups (besides the owners of
    /// `addGroupOwner` volumes and devices).
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The sandbox's host name.
    pub hostname: String,
    /// An image function's unpacked root filesystem (host path, never written to). When set,
    /// the sandbox's root is this tree (an overlay whose changes live in memory and are sealed
    /// read-only like any root) instead of the host's system directories, with the image's own
    /// `/etc` but for `hostname`, `hosts` and, with the host's network, `resolv.conf`; and
    /// [`code_dir`](Self::code_dir), [`runtime_dir`](Self::runtime_dir),
    /// [`host_dirs`](Self::host_dirs), [`sdk_dir`](Self::sdk_dir) and [`layers`](Self::layers) are not
    /// shown. `/tmp`,
    /// `/dev`, `/proc`, `/sys`, the IPC socket, volumes and devices are as for any function.
    pub image_root: Option<PathBuf>,
}

/// Where things are inside a container sandbox.
pub mod paths {
    /// `LAMBDA_TASK_ROOT`.
    pub const TASK_ROOT: &str = "/var/task";
    /// Where Greengrass mounts a Lambda component's code.
    pub const GREENGRASS_TASK_ROOT: &str = "/lambda";
    /// `LAMBDA_RUNTIME_DIR`.
    pub const RUNTIME_DIR: &str = "/var/runtime";
    /// Where the AWS SDK lambdalet installed for the runtime is (boto3, `node_modules/@aws-sdk`).
    pub const SDK_DIR: &str = "/var/sdk";
    /// The Greengrass IPC socket, where Greengrass puts it in a container.
    pub const IPC_SOCKET: &str = "/socket/greengrassv2_ipc.sock";
    /// The Runtime API inside a sandbox with a network namespace of its own (Lambda's address).
    pub const RUNTIME_API: &str = "127.0.0.1:9001";
}

/// How a sandbox's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl fmt::Display for ExitInfo {
    /// Formats like Go's `ProcessState.String()`, which the Lambda service quotes in
    /// `Runtime exited with error: exit status 1` / `signal: killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit status {c}"),
            (None, Some(s)) => write!(f, "signal: {}", signal_name(s)),
            (None, None) => f.write_str("exited"),
        }
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".to_owned(),
        libc::SIGTERM => "terminated".to_owned(),
        libc::SIGSEGV => "segmentation fault".to_owned(),
        libc::SIGABRT => "aborted".to_owned(),
        libc::SIGINT => "interrupt".to_owned(),
        libc::SIGBUS => "bus error".to_owned(),
        other => format!("signal {other}"),
    }
}

/// A running sandbox.
pub trait Sandbox: Send + Sync {
    fn id(&self) -> &str;
    /// The main process id (as the host sees it), where there is one.
    fn pid(&self) -> Option<u32>;
    /// Becomes `Some` when the sandbox's main process has exited.
    fn exited(&self) -> watch::Receiver<Option<ExitInfo>>;
    /// Asks the runtime to stop (SIGTERM).
    fn terminate(&self);
    /// Stops everything in the sandbox at once (SIGKILL), children that left the process
    /// group included where the backend can reach them.
    fn kill(&self);
    /// Peak memory of the sandbox so far, in bytes, measured by the kernel.
    fn max_memory_used_bytes(&self) -> Option<u64>;
    /// The kernel killed a process of this sandbox for exceeding its memory limit.
    fn out_of_memory(&self) -> bool {
        false
    }
    /// Whether the loopback TCP connection from `peer` to `local` comes from one of this
    /// sandbox's processes (see [`crate::peer`]). A backend that cannot tell says yes.
    fn owns_connection(&self, _local: std::net::SocketAddr, _peer: std::net::SocketAddr) -> bool {
        true
    }
    /// Whether one of this sandbox's processes has the socket `inode` open. A backend that
    /// cannot tell says no.
    fn holds_socket(&self, _inode: u64) -> bool {
        false
    }
    /// Kills the runtime (and its process group) at once, leaving the extensions to their
    /// shutdown. Backends that cannot single it out kill the whole sandbox.
    fn kill_runtime(&self) {
        self.kill();
    }
    /// Starts the runtime of a sandbox launched with extensions (the others' runtime is
    /// started by `launch`): resolves once it has been exec'd, or with why it could not be.
    fn start_runtime(&self) -> oneshot::Receiver<Result<(), SandboxError>> {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Ok(()));
        rx
    }
    /// The extensions that have exited so far: their index in
    /// [`SandboxSpec::extensions`] and how they ended.
    fn extension_exits(&self) -> watch::Receiver<Vec<(usize, ExitInfo)>> {
        watch::channel(Vec::new()).1
    }
}

/// A freshly started sandbox and the read end of its stdout+stderr pipe.
pub struct Launched {
    pub sandbox: Arc<dyn Sandbox>,
    pub output: OutputReader,
    /// The Runtime API listener made inside the sandbox's own network namespace (a container
    /// with `network: none`); the caller serves the Runtime API on it at
    /// [`paths::RUNTIME_API`]. `None`: the caller's own listener is reachable.
    pub runtime_api: Option<std::net::TcpListener>,
    /// The extensions' stdout and stderr, when the sandbox has extensions.
    pub extension_output: Option<OutputReader>,
}

/// Creates sandboxes of one kind.
#[async_trait]
pub trait SandboxBackend: Send + Sync {
    /// `process`, `container`, `wasm`.
    fn name(&self) -> &'static str;
    async fn launch(&self, spec: SandboxSpec) -> Result<Launched, SandboxError>;
    /// Retires the zygotes of `family` (`name:version`; `name:` for every version of a
    /// function; every family: `None`): they fork no more and exit once the sandboxes forked
    /// from them have.
    fn retire_zygotes(&self, _family: Option<&str>) {}
    /// The state of `family`'s current zygote, if it has one.
    fn zygote_state(&self, _family: &str) -> Option<ZygoteState> {
        None
    }
}

/// Where a version's zygote is, for people looking at the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZygoteState {
    /// Running Init.
    Starting,
    /// Forks the version's new sandboxes.
    Ready,
    /// Would not fork (why): the version's sandboxes start the plain way.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_info_reads_like_lambda() {
        assert_eq!(
            ExitInfo {
                code: Some(1),
                signal: None
            }
            .to_string(),
            "exit status 1"
        );
        assert_eq!(
            ExitInfo {
                code: None,
                signal: Some(9)
            }
            .to_string(),
            "signal: killed"
        );
    }

    #[test]
    fn cpu_follows_memory_as_in_lambda() {
        let mb = 1024 * 1024;
        assert_eq!(Limits::lambda(1769 * mb).cpu_weight, 100);
        assert_eq!(Limits::lambda(128 * mb).cpu_weight, 7);
        assert_eq!(Limits::lambda(10240 * mb).cpu_weight, 578);
        assert_eq!(Limits::lambda(2 * mb).cpu_weight, 1);
        assert_eq!(Limits::lambda(128 * mb).pids, 1024);
    }
}
