//! cgroup v1: one hierarchy per mounted controller (or per group of co-mounted ones, such as
//! `cpu,cpuacct`), each with its own directory tree. Finds the hierarchies to use, creates the
//! instance directory in each and writes a sandbox's limits. Killing and removal are shared
//! with v2 (`sandbox.rs`).

use std::path::PathBuf;

use super::detect::{self, CgroupMount, Located, SelfCgroups};
use super::fs::{self, CgroupOs, write};
use super::{CgroupError, CgroupLimits, CgroupVersion, Hierarchy, Layout, Roles};

/// Controllers without which v1 is not used.
const REQUIRED: [&str; 2] = ["memory", "pids"];
/// Controllers used when mounted.
const OPTIONAL: [&str; 3] = ["cpu", "devices", "freezer"];

/// The hierarchy of each controller to use, or why v1 is unusable (naming every required
/// controller that is not mounted).
pub(crate) fn locate(
    mounts: &[CgroupMount],
    own: &SelfCgroups,
) -> Result<Vec<(&'static str, Located)>, String> {
    let mounted = |c: &str| {
        mounts
            .iter()
            .any(|m| !m.v2 && m.controllers.iter().any(|x| x == c))
    };
    let unmounted: Vec<&str> = REQUIRED.into_iter().filter(|c| !mounted(c)).collect();
    if !unmounted.is_empty() {
        let names = unmounted.join(" or ");
        return Err(format!("no cgroup v1 {names} hierarchy is mounted"));
    }
    let mut found = Vec::new();
    for controller in REQUIRED {
        found.push((controller, detect::locate_v1(mounts, own, controller)?));
    }
    for controller in OPTIONAL {
        if let Ok(located) = detect::locate_v1(mounts, own, controller) {
            found.push((controller, located));
        }
    }
    Ok(found)
}

/// Creates `dir_name` under the daemon's own cgroup in each hierarchy found (one that exists
/// already is fine).
pub(crate) fn setup(
    os: &dyn CgroupOs,
    found: Vec<(&'static str, Located)>,
    dir_name: &str,
) -> Result<Layout, CgroupError> {
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    let mut roles = Roles::default();
    for (controller, located) in found {
        let same = |h: &Hierarchy| h.mount_point == located.mount_point;
        let index = match hierarchies.iter().position(same) {
            Some(index) => index,
            None => {
                hierarchies.push(Hierarchy {
                    instance_dir: located.own.join(dir_name),
                    mount_point: located.mount_point,
                    used: Vec::new(),
                });
                hierarchies.len() - 1
            }
        };
        hierarchies[index].used.push(controller);
        roles.set(controller, index);
    }
    for hierarchy in &hierarchies {
        let dir = &hierarchy.instance_dir;
        fs::mkdir_existing_ok(os, dir).map_err(|source| CgroupError::Create {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(Layout {
        version: CgroupVersion::V1,
        hierarchies,
        roles,
        moved_to: None,
    })
}

/// Writes `limits` into a new sandbox cgroup (`dirs` in [`Layout::hierarchies`] order): the
/// memory limit and the same memory+swap limit (no swap beyond it) when swap is accounted,
/// `pids.max`, `cpu.shares`, and the device allow-list when asked for and mounted.
pub(crate) fn write_limits(
    os: &dyn CgroupOs,
    layout: &Layout,
    dirs: &[PathBuf],
    limits: &CgroupLimits,
) -> Result<(), CgroupError> {
    let roles = &layout.roles;
    let memory = &dirs[roles.memory];
    let bytes = limits.memory_bytes.to_string();
    write(os, &memory.join("memory.limit_in_bytes"), &bytes)?;
    let memsw = memory.join("memory.memsw.limit_in_bytes");
    if os.exists(&memsw) {
        write(os, &memsw, &bytes)?;
    }
    let pids = dirs[roles.pids].join("pids.max");
    write(os, &pids, &limits.pids.to_string())?;
    if let Some(cpu) = roles.cpu {
        let shares = limits.v1_cpu_shares().to_string();
        write(os, &dirs[cpu].join("cpu.shares"), &shares)?;
    }
    match (&limits.devices, roles.devices) {
        (Some(rules), Some(devices)) => {
            write(os, &dirs[devices].join("devices.deny"), "a")?;
            let allow = dirs[devices].join("devices.allow");
            for line in rules.iter().filter_map(|r| r.v1_line()) {
                write(os, &allow, &line)?;
            }
        }
        (Some(_), None) => tracing::debug!("cgroup.create: no devices hierarchy; rules ignored"),
        (None, _) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{DeviceKind, DeviceRule};

    use crate::cgroup::fake::{OWN_MEMORY, detect_hybrid as detect, hybrid_fake};

    #[test]
    fn detect_creates_the_instance_dir_in_each_hierarchy_used() {
        let fake = hybrid_fake();
        let cgroups = detect(&fake);
        assert_eq!(cgroups.version(), CgroupVersion::V1);
        assert_eq!(
            fake.changes(),
            [
                format!("mkdir {OWN_MEMORY}/lambdalet-ab12cd34"),
                "mkdir /sys/fs/cgroup/pids/lambdalet-ab12cd34".to_owned(),
                "mkdir /sys/fs/cgroup/cpu/lambdalet-ab12cd34".to_owned(),
                "mkdir /sys/fs/cgroup/devices/lambdalet-ab12cd34".to_owned(),
                "mkdir /sys/fs/cgroup/freezer/lambdalet-ab12cd34".to_owned(),
            ]
        );
        assert_eq!(
            cgroups.describe(),
            format!(
                "cgroup v1 (memory, pids, cpu, devices, freezer) under \
                 {OWN_MEMORY}/lambdalet-ab12cd34"
            )
        );
        // A second daemon start finds the directories there: fine.
        fake.clear_log();
        detect(&fake);
        assert!(fake.changes().iter().all(|l| l.ends_with("-> EEXIST")));
    }

    #[test]
    fn create_writes_the_limits_in_order() {
        let fake = hybrid_fake();
        let cgroups = detect(&fake);
        fake.clear_log();
        let null = DeviceRule {
            kind: DeviceKind::Char,
            major: 1,
            minor: Some(3),
            read: true,
            write: true,
            mknod: false,
        };
        let limits = CgroupLimits {
            memory_bytes: 64 << 20,
            pids: 20,
            cpu_weight: 50,
            devices: Some(vec![null]),
        };
        let sandbox = cgroups.create("hello-3f2a", &limits).expect("create");
        let mem = format!("{OWN_MEMORY}/lambdalet-ab12cd34/hello-3f2a");
        let at = |c: &str| format!("/sys/fs/cgroup/{c}/lambdalet-ab12cd34/hello-3f2a");
        assert_eq!(
            fake.changes(),
            [
                format!("mkdir {mem}"),
                format!("mkdir {}", at("pids")),
                format!("mkdir {}", at("cpu")),
                format!("mkdir {}", at("devices")),
                format!("mkdir {}", at("freezer")),
                format!("write {mem}/memory.limit_in_bytes 67108864"),
                format!("write {mem}/memory.memsw.limit_in_bytes 67108864"),
                format!("write {}/pids.max 20", at("pids")),
                format!("write {}/cpu.shares 512", at("cpu")),
                format!("write {}/devices.deny a", at("devices")),
                format!("write {}/devices.allow c 1:3 rw", at("devices")),
            ]
        );
        let procs: Vec<String> = sandbox
            .procs_files()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(procs[0], format!("{mem}/cgroup.procs"));
        assert_eq!(procs.len(), 5);
    }

    #[test]
    fn create_without_swap_accounting_or_devices_skips_them() {
        let fake = hybrid_fake();
        fake.omit("memory.memsw.limit_in_bytes");
        let cgroups = detect(&fake);
        fake.clear_log();
        let limits = CgroupLimits {
            memory_bytes: 1 << 20,
            pids: 5,
            cpu_weight: 100,
            devices: None,
        };
        cgroups.create("s1", &limits).expect("create");
        let mem = format!("{OWN_MEMORY}/lambdalet-ab12cd34/s1");
        let writes: Vec<String> = fake
            .changes()
            .into_iter()
            .filter(|l| l.starts_with("write"))
            .collect();
        assert_eq!(
            writes,
            [
                format!("write {mem}/memory.limit_in_bytes 1048576"),
                "write /sys/fs/cgroup/pids/lambdalet-ab12cd34/s1/pids.max 5".to_owned(),
                "write /sys/fs/cgroup/cpu/lambdalet-ab12cd34/s1/cpu.shares 1024".to_owned(),
            ]
        );
    }

    #[test]
    fn a_failed_write_removes_what_create_made() {
        let fake = hybrid_fake();
        let cgroups = detect(&fake);
        fake.clear_log();
        let pids = "/sys/fs/cgroup/pids/lambdalet-ab12cd34/s2/pids.max";
        fake.fail("write", pids, libc::EINVAL, 1);
        let limits = CgroupLimits {
            memory_bytes: 1 << 20,
            pids: 5,
            cpu_weight: 100,
            devices: None,
        };
        let err = cgroups.create("s2", &limits).expect_err("pids.max fails");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot write \"5\" to {pids}")),
            "{err}"
        );
        let removed: Vec<String> = fake
            .changes()
            .into_iter()
            .filter(|l| l.starts_with("rmdir"))
            .collect();
        assert_eq!(removed.len(), 5, "{removed:?}");
        assert!(!fake.is_dir(&format!("{OWN_MEMORY}/lambdalet-ab12cd34/s2")));
    }
}
