//! The parts of a sandbox's root that come from the host: which system directories and `/etc`
//! entries it shows, its `/dev` and its `/proc` (and `/sys`), the IPC socket and volumes, as
//! plan steps.

use std::path::{Path, PathBuf};

use crate::spec::{ContainerSpec, Limits, paths};

use super::plan::{
    DeviceNode, Flags, HostEntry, HostView, LOCKED, NOSUID_NODEV, PlanError, Step, ro_bind,
};

/// Host directories whose contents every sandbox sees read-only (when the host has them).
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// `/etc` entries a runtime may need: the dynamic linker, TLS roots, name resolution, time
/// zones, Debian's alternatives. Nothing else of the host's `/etc` (no shadow, no keys).
pub(crate) const ETC_ENTRIES: &[&str] = &[
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "pki",
    "crypto-policies",
    "resolv.conf",
    "hosts",
    "host.conf",
    "nsswitch.conf",
    "gai.conf",
    "services",
    "protocols",
    "localtime",
    "timezone",
    "mime.types",
    "os-release",
    "debian_version",
    "fonts",
];

/// `path` with `.` and `..` taken out, without looking at the filesystem.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// What a host path leads to, symbolic links followed (up to 8): the final path and its
/// entry (a link still, if there were more).
pub(super) fn follow(host: &dyn HostView, path: &Path) -> (PathBuf, Option<HostEntry>) {
    let mut path = path.to_owned();
    let mut entry = host.entry(&path);
    for _ in 0..8 {
        let Some(HostEntry::Symlink(target)) = &entry else {
            break;
        };
        path = lexical(&path.parent().unwrap_or(Path::new("/")).join(target));
        entry = host.entry(&path);
    }
    (path, entry)
}

/// The allow-listed `/etc` entries (symbolic links followed on the host, so a
/// `resolv.conf` pointing into `/run` still works), and generated `passwd` and `group`.
pub(super) fn etc(
    host: &dyn HostView,
    spec: &ContainerSpec,
    steps: &mut Vec<Step>,
) -> Result<(), PlanError> {
    for name in ETC_ENTRIES {
        let (path, entry) = follow(host, &Path::new("/etc").join(name));
        let dst = Path::new("/etc").join(name);
        if *name == "hosts"
            && let Some(text) = host.text(&path)
        {
            // The host's names, and the sandbox's own.
            let mut contents = text;
            if !contents.is_empty() && !contents.ends_with('\n') {
                contents.push('\n');
            }
            contents.push_str(super::plan::SANDBOX_HOSTS_LINE);
            steps.push(Step::File {
                path: dst,
                contents,
                mode: 0o644,
            });
            continue;
        }
        match entry {
            Some(HostEntry::Dir { .. }) => steps.push(ro_bind(&path, &dst, false)),
            Some(HostEntry::File { .. }) => steps.push(ro_bind(&path, &dst, true)),
            _ => {}
        }
    }
    let (uid, gid) = (spec.uid, spec.gid);
    steps.push(Step::File {
        path: "/etc/passwd".into(),
        contents: format!(
            "root:x:0:0:root:/root:/usr/sbin/nologin\nsbx_user:x:{uid}:{gid}:lambdalet sandbox:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        mode: 0o644,
    });
    steps.push(Step::File {
        path: "/etc/group".into(),
        contents: format!("root:x:0:\nsbx_user:x:{gid}:\nnogroup:x:65534:\n"),
        mode: 0o644,
    });
    steps.push(Step::File {
        path: "/etc/hostname".into(),
        contents: format!("{}\n", spec.hostname),
        mode: 0o644,
    });
    Ok(())
}

/// `/dev`: a tmpfs with the basic nodes, `/dev/pts`, `/dev/shm` and the configured devices.
/// Returns the groups of devices with `addGroupOwner`.
pub(super) fn dev(
    host: &dyn HostView,
    spec: &ContainerSpec,
    limits: &Limits,
    steps: &mut Vec<Step>,
) -> Result<Vec<u32>, PlanError> {
    steps.push(Step::Tmpfs {
        path: "/dev".into(),
        mode: 0o755,
        size: Some(64 << 10),
        flags: Flags {
            nosuid: true,
            nodev: false,
            noexec: true,
        },
    });
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        steps.push(Step::Mknod {
            path: format!("/dev/{name}").into(),
            node: DeviceNode::public(major, minor),
        });
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        steps.push(Step::Symlink {
            target: target.into(),
            path: format!("/dev/{name}").into(),
        });
    }
    steps.push(Step::Devpts {
        path: "/dev/pts".into(),
    });
    steps.push(Step::Tmpfs {
        path: "/dev/shm".into(),
        mode: 0o1777,
        size: Some(limits.memory_bytes),
        flags: LOCKED,
    });
    let mut groups = Vec::new();
    for (i, d) in spec.devices.iter().enumerate() {
        let Some(HostEntry::Device(host_node)) = host.entry(Path::new(&d.path)) else {
            return Err(PlanError(format!(
                "device {i}: {} is not a device node on this host",
                d.path
            )));
        };
        let mode = if d.permission.writable() {
            host_node.mode
        } else {
            host_node.mode & !0o222
        };
        steps.push(Step::Mknod {
            path: d.path.clone().into(),
            node: DeviceNode {
                mode: mode & 0o7777,
                ..host_node
            },
        });
        if d.add_group_owner {
            groups.push(host_node.gid);
        }
    }
    Ok(groups)
}

/// `/proc` of the sandbox's PID namespace, with what runc masks hidden or read-only, and a
/// read-only `/sys` when asked for.
/// What of `/proc` a sandbox does not see (each an empty file or directory instead).
pub(crate) const PROC_MASKED: [&str; 9] = [
    "acpi",
    "asound",
    "kcore",
    "keys",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "scsi",
];
/// What of `/proc` a sandbox sees read-only.
pub(crate) const PROC_READ_ONLY: [&str; 5] = ["bus", "fs", "irq", "sys", "sysrq-trigger"];

pub(super) fn proc_and_sys(spec: &ContainerSpec, steps: &mut Vec<Step>) {
    steps.push(Step::Proc {
        path: "/proc".into(),
    });
    for p in PROC_MASKED {
        steps.push(Step::Mask {
            path: Path::new("/proc").join(p),
        });
    }
    for p in PROC_READ_ONLY {
        steps.push(Step::ReadOnly {
            path: Path::new("/proc").join(p),
        });
    }
    if spec.mount_ro_sysfs {
        steps.push(Step::Sysfs {
            path: "/sys".into(),
        });
        for p in ["firmware", "devices/virtual/powercap"] {
            steps.push(Step::Mask {
                path: Path::new("/sys").join(p),
            });
        }
    }
}

/// The Greengrass IPC socket and the configured volumes; adds the groups of volumes with
/// `addGroupOwner` to `groups`.
pub(super) fn ipc_and_volumes(
    host: &dyn HostView,
    spec: &ContainerSpec,
    steps: &mut Vec<Step>,
    groups: &mut Vec<u32>,
) -> Result<(), PlanError> {
    if let Some(socket) = &spec.ipc_socket {
        steps.push(Step::Bind {
            source: socket.clone(),
            path: paths::IPC_SOCKET.into(),
            file: true,
            readonly: false,
            flags: LOCKED,
        });
    }
    for (i, v) in spec.volumes.iter().enumerate() {
        let source = PathBuf::from(&v.source_path);
        let (file, gid) = match host.entry(&source) {
            Some(HostEntry::Dir { gid }) => (false, gid),
            Some(HostEntry::File { gid }) => (true, gid),
            Some(_) => {
                return Err(PlanError(format!(
                    "volume {i}: {} is not a file or directory",
                    v.source_path
                )));
            }
            None => {
                return Err(PlanError(format!(
                    "volume {i}: {} does not exist on this host",
                    v.source_path
                )));
            }
        };
        if v.add_group_owner {
            groups.push(gid);
        }
        steps.push(Step::Bind {
            source,
            path: v.destination_path.clone().into(),
            file,
            readonly: !v.permission.writable(),
            flags: NOSUID_NODEV,
        });
    }
    Ok(())
}
