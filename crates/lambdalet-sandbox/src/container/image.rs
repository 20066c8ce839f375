//! An image function's root (`PackageType: Image`): the image's own tree, unpacked on the host
//! by the image store, instead of the host's system directories and the function's code.
//!
//! The tree is the only lower layer of an overlayfs whose upper layer lives on a small private
//! tmpfs: mount points and generated files are made there, the image on disk is never written
//! to, and the whole root is sealed read-only like a zip function's. The image keeps its own
//! `/etc` but for `hostname` and `hosts`, written by the plan, and `resolv.conf`, the host's
//! with the host's network (with `network: none` the image's stays, useless or not). `/tmp`,
//! `/dev`, `/proc`, `/sys`, the IPC socket, volumes and devices are a zip function's.
//!
//! The image is hostile content: it may hold links that point anywhere (`/etc/resolv.conf ->
//! /host/secret`, `/tmp -> /etc`) or files where directories belong (`/proc`). The init runs
//! as root with the host's mount tree reachable until it pivots, so nothing may follow a link
//! of the image: every path the plan owns gets a [`Step::Fresh`] first (whatever file or link
//! the image has there is removed from the overlay, a directory or file made), and the set-up
//! refuses a link anywhere in the other paths (volume destinations, device nodes) with their
//! name (`walk.rs`).

use std::path::Path;

use lambdalet_core::NetworkMode;

use crate::spec::{ContainerSpec, Limits, paths};

use super::plan::{HostEntry, HostView, NOSUID_NODEV, PlanError, Step, ro_bind};
use super::rootfs::{dev, follow, ipc_and_volumes, proc_and_sys};

/// Where the sandbox's host name and `localhost` resolve.
pub(super) fn hosts_file(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n{}",
        super::plan::SANDBOX_HOSTS_LINE
    )
}

/// The steps of an image function's root, and the groups of `addGroupOwner` volumes and
/// devices.
pub(super) fn steps(
    host: &dyn HostView,
    spec: &ContainerSpec,
    limits: &Limits,
    image: &Path,
) -> Result<(Vec<Step>, Vec<u32>), PlanError> {
    if !image.is_absolute() || !matches!(host.entry(image), Some(HostEntry::Dir { .. })) {
        return Err(PlanError(format!(
            "the image's root filesystem {} is not a directory on this host",
            image.display()
        )));
    }
    let fresh = |path: &str, file: bool| Step::Fresh {
        path: path.into(),
        file,
    };
    let mut steps = vec![
        Step::ImageRoot {
            lower: image.to_owned(),
        },
        fresh("/etc", false),
        Step::File {
            path: "/etc/hostname".into(),
            contents: format!("{}\n", spec.hostname),
            mode: 0o644,
        },
        Step::File {
            path: "/etc/hosts".into(),
            contents: hosts_file(&spec.hostname),
            mode: 0o644,
        },
    ];
    if spec.network == NetworkMode::Host {
        let (source, entry) = follow(host, Path::new("/etc/resolv.conf"));
        if let Some(HostEntry::File { .. }) = entry {
            steps.push(fresh("/etc/resolv.conf", true));
            steps.push(ro_bind(source, "/etc/resolv.conf", true));
        }
    }
    steps.push(fresh("/tmp", false));
    steps.push(Step::Tmpfs {
        path: "/tmp".into(),
        mode: 0o1777,
        size: Some(spec.tmp_bytes),
        flags: NOSUID_NODEV,
    });
    steps.push(fresh("/dev", false));
    let mut groups = dev(host, spec, limits, &mut steps)?;
    steps.push(fresh("/proc", false));
    if spec.mount_ro_sysfs {
        steps.push(fresh("/sys", false));
    }
    proc_and_sys(spec, &mut steps);
    if spec.ipc_socket.is_some() {
        steps.push(fresh(paths::IPC_SOCKET, true));
    }
    ipc_and_volumes(host, spec, &mut steps, &mut groups)?;
    steps.push(Step::SealRoot);
    Ok((steps, groups))
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "image_real_tests.rs"]
mod real_tests;
