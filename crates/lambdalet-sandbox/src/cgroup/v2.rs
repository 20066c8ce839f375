//! cgroup v2: one tree for every controller. Checks that the daemon's cgroup offers memory and
//! pids, enables them (and cpu) for the daemon's subtree, moving the daemon into
//! `lambdalet-daemons` when its own cgroup may not have children with controllers, and writes a
//! sandbox's limits. Killing and removal are shared with v1 (`sandbox.rs`).
//!
//! Devices cannot be confined here: v2 has no file interface for them (it needs a BPF program).

use std::path::{Path, PathBuf};

use super::detect::Located;
use super::fs::{self, CgroupOs, write};
use super::{CgroupError, CgroupLimits, CgroupVersion, Hierarchy, Layout, Roles};

/// The cgroup the daemon moves itself into when its own has to be freed of processes.
pub(crate) const DAEMONS_DIR: &str = "lambdalet-daemons";

/// Controllers without which v2 is not used.
const REQUIRED: [&str; 2] = ["memory", "pids"];

/// A v2 tree the daemon can use.
#[derive(Debug)]
pub(crate) struct Usable {
    mount_point: PathBuf,
    /// The daemon's own cgroup (the parent of `lambdalet-daemons` if it is in there).
    own: PathBuf,
    /// `memory`, `pids` and, when offered, `cpu`.
    controllers: Vec<&'static str>,
}

/// Whether the daemon's v2 cgroup offers the memory and pids controllers; if not, says which
/// are missing.
pub(crate) fn usable(os: &dyn CgroupOs, located: Located) -> Result<Usable, String> {
    let mut own = located.own;
    if own != located.mount_point && own.file_name().is_some_and(|n| n == DAEMONS_DIR) {
        own.pop();
    }
    let file = own.join("cgroup.controllers");
    let offered = os
        .read(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let offers = |c: &str| offered.split_whitespace().any(|o| o == c);
    let missing: Vec<&str> = REQUIRED.into_iter().filter(|c| !offers(c)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the cgroup v2 tree at {} lacks controllers {}",
            own.display(),
            missing.join(", ")
        ));
    }
    let mut controllers = REQUIRED.to_vec();
    if offers("cpu") {
        controllers.push("cpu");
    }
    Ok(Usable {
        mount_point: located.mount_point,
        own,
        controllers,
    })
}

/// Enables the controllers for the daemon's subtree and for `<own>/<dir_name>`, creating it
/// (one that exists already is fine).
pub(crate) fn setup(
    os: &dyn CgroupOs,
    usable: Usable,
    dir_name: &str,
) -> Result<Layout, CgroupError> {
    let Usable {
        mount_point,
        own,
        controllers,
    } = usable;
    let moved_to = enable_for_own(os, &own, &controllers)?;
    let instance_dir = own.join(dir_name);
    fs::mkdir_existing_ok(os, &instance_dir).map_err(|source| CgroupError::Create {
        path: instance_dir.clone(),
        source,
    })?;
    enable(os, &instance_dir, &controllers)
        .map_err(|source| delegate(&instance_dir, &controllers, source))?;
    let mut roles = Roles::default();
    for controller in &controllers {
        roles.set(controller, 0);
    }
    Ok(Layout {
        version: CgroupVersion::V2,
        hierarchies: vec![Hierarchy {
            mount_point,
            instance_dir,
            used: controllers,
        }],
        roles,
        moved_to,
    })
}

/// Enables `controllers` in the daemon's own cgroup. When the kernel refuses with EBUSY (the
/// cgroup has processes and is not the root: "no internal processes"), moves this process
/// into `<own>/lambdalet-daemons` and tries once more. Returns where it moved, if it did.
fn enable_for_own(
    os: &dyn CgroupOs,
    own: &Path,
    controllers: &[&str],
) -> Result<Option<PathBuf>, CgroupError> {
    match enable(os, own, controllers) {
        Ok(()) => return Ok(None),
        Err(e) if fs::is_errno(&e, libc::EBUSY) => {}
        Err(e) => return Err(delegate(own, controllers, e)),
    }
    let daemons = own.join(DAEMONS_DIR);
    fs::mkdir_existing_ok(os, &daemons).map_err(|source| CgroupError::Create {
        path: daemons.clone(),
        source,
    })?;
    write(os, &daemons.join("cgroup.procs"), &os.own_pid().to_string())?;
    tracing::info!(to = %daemons.display(), "cgroup.detect: moved the daemon out of its own cgroup");
    enable(os, own, controllers).map_err(|e| delegate(own, controllers, e))?;
    Ok(Some(daemons))
}

/// Writes `+controller` for each of `controllers` not yet in `dir`'s `cgroup.subtree_control`.
fn enable(os: &dyn CgroupOs, dir: &Path, controllers: &[&str]) -> std::io::Result<()> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = os.read(&file)?;
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    os.write(&file, &missing.join(" "))
}

fn delegate(dir: &Path, controllers: &[&str], source: std::io::Error) -> CgroupError {
    CgroupError::Delegate {
        path: dir.to_owned(),
        controllers: controllers.join(", "),
        source,
    }
}

/// Writes `limits` into a new sandbox cgroup at `dir`: `memory.max`, no swap
/// (`memory.swap.max` 0, when swap is accounted), the whole cgroup killed on OOM
/// (`memory.oom.group`), `pids.max` and `cpu.weight`. Device rules are ignored (v2 has no file
/// interface for them).
pub(crate) fn write_limits(
    os: &dyn CgroupOs,
    layout: &Layout,
    dir: &Path,
    limits: &CgroupLimits,
) -> Result<(), CgroupError> {
    write(
        os,
        &dir.join("memory.max"),
        &limits.memory_bytes.to_string(),
    )?;
    for (name, value) in [("memory.swap.max", "0"), ("memory.oom.group", "1")] {
        let file = dir.join(name);
        if os.exists(&file) {
            write(os, &file, value)?;
        }
    }
    write(os, &dir.join("pids.max"), &limits.pids.to_string())?;
    if layout.roles.cpu.is_some() {
        let weight = limits.v2_cpu_weight().to_string();
        write(os, &dir.join("cpu.weight"), &weight)?;
    }
    if limits.devices.is_some() {
        tracing::debug!("cgroup.create: cgroup v2 cannot confine devices; rules ignored");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::fake::{OWN_PID, OWN_V2, detect_v2, v2_fake};

    fn limits() -> CgroupLimits {
        CgroupLimits {
            memory_bytes: 128 << 20,
            pids: 64,
            cpu_weight: 200,
            devices: Some(Vec::new()),
        }
    }

    #[test]
    fn detect_enables_controllers_for_the_subtree_and_instance() {
        let fake = v2_fake();
        let cgroups = detect_v2(&fake).expect("detect");
        assert_eq!(cgroups.version(), CgroupVersion::V2);
        assert_eq!(
            fake.changes(),
            [
                format!("write {OWN_V2}/cgroup.subtree_control +memory +pids +cpu"),
                format!("mkdir {OWN_V2}/lambdalet-ab12cd34"),
                format!(
                    "write {OWN_V2}/lambdalet-ab12cd34/cgroup.subtree_control +memory +pids +cpu"
                ),
            ]
        );
        assert_eq!(
            cgroups.describe(),
            format!("cgroup v2 (memory, pids, cpu) under {OWN_V2}/lambdalet-ab12cd34")
        );
    }

    #[test]
    fn create_writes_v2_limits() {
        let fake = v2_fake();
        let cgroups = detect_v2(&fake).expect("detect");
        fake.clear_log();
        let sandbox = cgroups.create("s1", &limits()).expect("create");
        let dir = format!("{OWN_V2}/lambdalet-ab12cd34/s1");
        assert_eq!(
            fake.changes(),
            [
                format!("mkdir {dir}"),
                format!("write {dir}/memory.max 134217728"),
                format!("write {dir}/memory.swap.max 0"),
                format!("write {dir}/memory.oom.group 1"),
                format!("write {dir}/pids.max 64"),
                format!("write {dir}/cpu.weight 200"),
            ]
        );
        assert_eq!(
            sandbox.procs_files(),
            [PathBuf::from(format!("{dir}/cgroup.procs"))]
        );
    }

    #[test]
    fn a_busy_own_cgroup_moves_the_daemon_into_lambdalet_daemons() {
        let fake = v2_fake();
        fake.add_procs(OWN_V2, &[OWN_PID]);
        let cgroups = detect_v2(&fake).expect("detect");
        let daemons = format!("{OWN_V2}/lambdalet-daemons");
        assert_eq!(
            fake.changes(),
            [
                format!("write {OWN_V2}/cgroup.subtree_control +memory +pids +cpu -> EBUSY"),
                format!("mkdir {daemons}"),
                format!("write {daemons}/cgroup.procs {OWN_PID}"),
                format!("write {OWN_V2}/cgroup.subtree_control +memory +pids +cpu"),
                format!("mkdir {OWN_V2}/lambdalet-ab12cd34"),
                format!(
                    "write {OWN_V2}/lambdalet-ab12cd34/cgroup.subtree_control +memory +pids +cpu"
                ),
            ]
        );
        assert_eq!(
            fake.file(&format!("{daemons}/cgroup.procs")),
            Some(format!("{OWN_PID}\n"))
        );
        assert!(
            cgroups
                .describe()
                .ends_with(&format!("; the daemon moved itself into {daemons}"))
        );
    }

    #[test]
    fn another_process_in_the_own_cgroup_is_a_clear_error() {
        let fake = v2_fake();
        fake.add_procs(OWN_V2, &[OWN_PID, 777]);
        let err = detect_v2(&fake).expect_err("the shell stays behind");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot enable controllers memory, pids, cpu in {OWN_V2}"
            )),
            "{text}"
        );
        assert!(text.contains("Delegate=yes"), "{text}");
    }

    #[test]
    fn a_daemon_already_in_lambdalet_daemons_uses_the_parent() {
        let fake = v2_fake();
        let daemons = format!("{OWN_V2}/lambdalet-daemons");
        fake.add_cgroup(&daemons);
        let self_cgroup = "0::/system.slice/lambdalet.service/lambdalet-daemons\n";
        let os = std::sync::Arc::new(fake.clone());
        let mountinfo = crate::cgroup::fake::V2_MOUNTINFO;
        let cgroups = crate::cgroup::Cgroups::detect_with(os, self_cgroup, mountinfo, "ab12cd34")
            .expect("detect");
        assert!(
            cgroups
                .describe()
                .ends_with(&format!("under {OWN_V2}/lambdalet-ab12cd34"))
        );
    }
}
