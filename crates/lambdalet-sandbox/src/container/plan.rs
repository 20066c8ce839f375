//! The container's blueprint: from a [`ContainerSpec`] and what this host has, the ordered list
//! of steps the init process carries out (mounts, files, device nodes), the identity the
//! runtime gets and how it is started. Pure data, built in the daemon and sent to the init as
//! JSON; nothing here touches the system except [`HostView`]'s reads.
//!
//! The root is a small tmpfs holding only mount points and generated files. The host's system
//! directories (`/usr`, `/lib*`, `/bin`, `/sbin`) and a short list of `/etc` files are bound in
//! read-only, the function's code at `/var/task` and `/lambda`, its layers at `/opt`, lambdalet's
//! bootstraps at `/var/runtime`; `/tmp`, `/dev` and `/dev/shm` are private tmpfs; `/proc` belongs to the
//! sandbox's PID namespace with the kernel's sensitive files masked as runc masks them.
//!
//! An image function's root is its image instead ([`image`](super::image)).

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use lambdalet_core::NetworkMode;
use serde::{Deserialize, Serialize};

use crate::spec::{ContainerSpec, Limits, paths};

use super::rootfs::{SYSTEM_DIRS, dev, etc, ipc_and_volumes, proc_and_sys};

/// What the plan needs to know about the host. Implemented on the real filesystem in the
/// daemon and by a table in tests.
pub(crate) trait HostView {
    fn entry(&self, path: &Path) -> Option<HostEntry>;
    /// A small text file's contents (the host's `/etc/hosts`); `None` when unreadable.
    fn text(&self, _path: &Path) -> Option<String> {
        None
    }
}

/// The name Lambda's Telemetry and Logs APIs deliver to (an extension's listener inside the
/// sandbox); every sandbox's `/etc/hosts` maps it to loopback.
pub(crate) const SANDBOX_HOSTS_LINE: &str = "127.0.0.1\tsandbox.localdomain sandbox\n";

/// One host path, as the plan needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostEntry {
    Dir {
        gid: u32,
    },
    File {
        gid: u32,
    },
    /// A symbolic link and its target as written.
    Symlink(PathBuf),
    /// A character or block device node.
    Device(DeviceNode),
    /// A socket, fifo or other special file.
    Other,
}

/// A device node: what the host's is, and what the sandbox's gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceNode {
    /// Character (else block) device.
    pub char: bool,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl DeviceNode {
    /// A root-owned character device anyone may read and write (`/dev/null` and friends).
    pub(crate) fn public(major: u32, minor: u32) -> Self {
        Self {
            char: true,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        }
    }
}

/// Flags of a mount, beyond its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Flags {
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
}

pub(super) const LOCKED: Flags = Flags {
    nosuid: true,
    nodev: true,
    noexec: true,
};
pub(super) const NOSUID_NODEV: Flags = Flags {
    nosuid: true,
    nodev: true,
    noexec: false,
};

/// One step of the root's assembly. Paths are as the sandbox will see them (`/var/task`);
/// the init prefixes them with the root's host path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub(crate) enum Step {
    Tmpfs {
        path: PathBuf,
        mode: u32,
        size: Option<u64>,
        flags: Flags,
    },
    /// Binds a host path (file or directory) onto `path`, creating the mount point.
    Bind {
        source: PathBuf,
        path: PathBuf,
        file: bool,
        readonly: bool,
        flags: Flags,
    },
    Proc {
        path: PathBuf,
    },
    Sysfs {
        path: PathBuf,
    },
    Devpts {
        path: PathBuf,
    },
    Mkdir {
        path: PathBuf,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
        path: PathBuf,
    },
    File {
        path: PathBuf,
        contents: String,
        mode: u32,
    },
    Mknod {
        path: PathBuf,
        node: DeviceNode,
    },
    /// Hides a file (binds /dev/null over it) or directory (an empty read-only tmpfs) if it
    /// exists.
    Mask {
        path: PathBuf,
    },
    /// Makes an existing path read-only (binds it onto itself) if it exists.
    ReadOnly {
        path: PathBuf,
    },
    /// Mounts a read-only overlayfs of `lowers` (directory names in `base`, the top one first)
    /// on `path`, from within `base` (see `opt.rs`).
    Overlay {
        base: PathBuf,
        lowers: Vec<String>,
        path: PathBuf,
    },
    /// Makes the root itself read-only: nothing outside `/tmp` and rw volumes is writable.
    SealRoot,
    /// An image function's root: `lower` (the unpacked image, a host directory) under an
    /// overlayfs whose upper layer is a small private tmpfs, so the steps that follow can make
    /// mount points and files without writing to the image.
    ImageRoot {
        lower: PathBuf,
    },
    /// Makes `path`, which the plan owns, a directory (or an empty `file`) of the root's own:
    /// whatever file or symbolic link an image has there, or at one of its parents, is
    /// removed first, never followed.
    Fresh {
        path: PathBuf,
        file: bool,
    },
}

/// Who the runtime runs as, and with what limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (owners of `addGroupOwner` volumes and devices).
    pub groups: Vec<u32>,
    pub open_files: u64,
    pub user_processes: Option<u64>,
}

/// The program the init starts once the root is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Exec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// Everything the init does, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InitPlan {
    /// An empty host directory the root is assembled on (in the sandbox's own mount namespace).
    pub root: PathBuf,
    pub hostname: String,
    pub steps: Vec<Step>,
    /// A network namespace of its own: bring loopback up and make the Runtime API listener.
    pub runtime_api: Option<SocketAddrV4>,
    pub identity: Identity,
    /// `None`: a probe that only checks the kernel lets a sandbox be built.
    pub exec: Option<Exec>,
    /// External extensions, started before the runtime (which then waits for the daemon's
    /// go-ahead).
    #[serde(default)]
    pub extensions: Vec<Exec>,
    /// The runtime is a zygote: it gets [`Filter::zygote`](crate::seccomp::Filter::zygote)
    /// and the root has [`ZYGOTE_PROC`] (see [`zygote`]).
    #[serde(default)]
    pub zygote: bool,
}

/// Where a container zygote's root has a procfs of its own PID namespace that nothing in the
/// sandbox can reach (under a directory only root may enter). The kernel lets a user namespace
/// mount a procfs only while one is fully visible in its mount namespace; the sandbox's
/// `/proc` is not, its masks cover parts of it. This one lets each fork mount the `/proc` of
/// its own PID namespace (and mask it the same way).
pub(crate) const ZYGOTE_PROC: &str = "/.lambdalet-zygote/proc";

/// Makes `plan` a container zygote's: its filter, and [`ZYGOTE_PROC`] before the root is
/// sealed.
pub(crate) fn zygote(plan: &mut InitPlan) {
    plan.zygote = true;
    let proc = Path::new(ZYGOTE_PROC);
    let parent = proc.parent().unwrap_or(Path::new("/")).to_path_buf();
    let at = plan
        .steps
        .iter()
        .position(|s| *s == Step::SealRoot)
        .unwrap_or(plan.steps.len());
    let steps = [
        Step::Tmpfs {
            path: parent,
            mode: 0o700,
            size: Some(4096),
            flags: Flags {
                nosuid: true,
                nodev: true,
                noexec: true,
            },
        },
        Step::Mkdir {
            path: proc.to_path_buf(),
            mode: 0o555,
        },
        Step::Proc {
            path: proc.to_path_buf(),
        },
    ];
    plan.steps.splice(at..at, steps);
}

/// Why a sandbox cannot be planned (a volume or device that went away since deploy).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub(crate) struct PlanError(pub String);

/// Builds the plan for one sandbox.
pub(crate) fn plan(
    host: &dyn HostView,
    root: &Path,
    spec: &ContainerSpec,
    limits: &Limits,
    exec: Exec,
) -> Result<InitPlan, PlanError> {
    let (steps, mut groups) = match &spec.image_root {
        Some(image) => super::image::steps(host, spec, limits, image)?,
        None => zip_steps(host, spec, limits)?,
    };
    groups.extend(&spec.groups);
    groups.sort_unstable();
    groups.dedup();
    groups.retain(|g| *g != spec.gid);
    let runtime_api = (spec.network == NetworkMode::None).then(|| {
        paths::RUNTIME_API
            .parse()
            .expect("the Runtime API address is a valid IPv4 address")
    });
    Ok(InitPlan {
        root: root.to_owned(),
        hostname: spec.hostname.clone(),
        steps,
        runtime_api,
        identity: Identity {
            uid: spec.uid,
            gid: spec.gid,
            groups,
            open_files: limits.open_files,
            user_processes: limits.user_processes,
        },
        exec: Some(exec),
        extensions: Vec::new(),
        zygote: false,
    })
}

/// A zip function's root: the host's system directories, its code, runtime and layers. Returns
/// the steps and the groups of `addGroupOwner` volumes and devices.
fn zip_steps(
    host: &dyn HostView,
    spec: &ContainerSpec,
    limits: &Limits,
) -> Result<(Vec<Step>, Vec<u32>), PlanError> {
    let mut steps = vec![Step::Tmpfs {
        path: "/".into(),
        mode: 0o755,
        size: Some(1 << 20),
        flags: NOSUID_NODEV,
    }];
    for dir in ["/etc", "/var", "/opt", "/proc", "/dev", "/sys"] {
        steps.push(Step::Mkdir {
            path: dir.into(),
            mode: 0o755,
        });
    }
    for dir in SYSTEM_DIRS {
        match host.entry(Path::new(dir)) {
            Some(HostEntry::Dir { .. }) => steps.push(ro_bind(dir, dir, false)),
            Some(HostEntry::Symlink(target)) => steps.push(Step::Symlink {
                target,
                path: dir.into(),
            }),
            _ => {}
        }
    }
    etc(host, spec, &mut steps)?;
    for dir in &spec.host_dirs {
        steps.push(ro_bind(dir, dir, false));
    }
    steps.push(ro_bind(&spec.code_dir, paths::TASK_ROOT, false));
    steps.push(ro_bind(&spec.code_dir, paths::GREENGRASS_TASK_ROOT, false));
    steps.push(ro_bind(&spec.runtime_dir, paths::RUNTIME_DIR, false));
    if let Some(sdk) = &spec.sdk_dir {
        steps.push(ro_bind(sdk, paths::SDK_DIR, false));
    }
    steps.extend(super::opt::layers(spec)?);
    steps.push(Step::Tmpfs {
        path: "/tmp".into(),
        mode: 0o1777,
        size: Some(spec.tmp_bytes),
        flags: NOSUID_NODEV,
    });
    let mut groups = dev(host, spec, limits, &mut steps)?;
    proc_and_sys(spec, &mut steps);
    ipc_and_volumes(host, spec, &mut steps, &mut groups)?;
    steps.push(Step::SealRoot);
    Ok((steps, groups))
}

/// The smallest container: namespaces, a tmpfs root with its own `/proc`, sealed and entered,
/// nothing run. Tells at daemon start whether this kernel and these privileges allow sandboxes.
pub(crate) fn probe(root: &Path) -> InitPlan {
    InitPlan {
        root: root.to_owned(),
        hostname: "lambdalet-probe".to_owned(),
        steps: vec![
            Step::Tmpfs {
                path: "/".into(),
                mode: 0o755,
                size: Some(1 << 16),
                flags: NOSUID_NODEV,
            },
            Step::Proc {
                path: "/proc".into(),
            },
            Step::SealRoot,
        ],
        runtime_api: None,
        identity: Identity {
            uid: 65534,
            gid: 65534,
            groups: Vec::new(),
            open_files: 1024,
            user_processes: None,
        },
        exec: None,
        extensions: Vec::new(),
        zygote: false,
    }
}

pub(super) fn ro_bind(source: impl AsRef<Path>, path: impl AsRef<Path>, file: bool) -> Step {
    Step::Bind {
        source: source.as_ref().to_owned(),
        path: path.as_ref().to_owned(),
        file,
        readonly: true,
        flags: NOSUID_NODEV,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(crate) mod tests;
