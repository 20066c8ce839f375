//! Cgroups that confine sandboxes: a memory limit (no swap beyond it), a process limit, a CPU
//! weight and, on cgroup v1, a device allow-list, and a way to kill every process a sandbox
//! started, even those that left its process group.
//!
//! [`Cgroups::detect`] finds the daemon's own cgroup from `/proc/self/mountinfo` and
//! `/proc/self/cgroup` (never from assumed paths), prefers cgroup v2 when its memory and pids
//! controllers are available there and falls back to the cgroup v1 hierarchies otherwise. It
//! works only inside `<own cgroup>/lambdalet-<instance>/`, so two daemons on one host never
//! touch each other's sandboxes. Under systemd on a cgroup v2 host, run the daemon with
//! `Delegate=yes` (and ideally `DelegateSubgroup=lambdalet-daemons`): a cgroup with processes
//! cannot enable controllers for its children, so otherwise the daemon moves itself into
//! `<own cgroup>/lambdalet-daemons` first.
//!
//! Every file and process operation goes through [`fs::CgroupOs`], so the logic here is
//! unit-tested against a recording fake; this module must not call `std::fs` or `kill(2)`
//! directly. It does not put processes into cgroups either: the sandbox code writes `0` to each
//! of [`SandboxCgroup::join_files`] from the child before it execs.

mod detect;
mod error;
mod fs;
mod sandbox;
mod types;
mod v1;
mod v2;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod real_tests;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::CgroupError;
pub use sandbox::SandboxCgroup;
pub use types::{CgroupLimits, CgroupVersion, DeviceKind, DeviceRule};

pub(crate) use fs::CgroupOs;

/// Longest instance or sandbox id accepted as a cgroup directory name.
const MAX_NAME_LEN: usize = 128;

/// One hierarchy in use: cgroup v2's single tree, or one cgroup v1 mount.
#[derive(Debug, Clone)]
pub(crate) struct Hierarchy {
    pub mount_point: PathBuf,
    /// `<daemon's own cgroup>/lambdalet-<instance>` in this hierarchy.
    pub instance_dir: PathBuf,
    /// The controllers this manager uses from it.
    pub used: Vec<&'static str>,
}

/// Which hierarchy (an index into [`Layout::hierarchies`]) serves each controller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Roles {
    pub memory: usize,
    pub pids: usize,
    pub cpu: Option<usize>,
    pub devices: Option<usize>,
    pub freezer: Option<usize>,
}

impl Roles {
    pub(crate) fn set(&mut self, controller: &str, index: usize) {
        match controller {
            "memory" => self.memory = index,
            "pids" => self.pids = index,
            "cpu" => self.cpu = Some(index),
            "devices" => self.devices = Some(index),
            "freezer" => self.freezer = Some(index),
            _ => {}
        }
    }
}

/// What [`Cgroups::detect`] found and set up.
#[derive(Debug)]
pub(crate) struct Layout {
    pub version: CgroupVersion,
    pub hierarchies: Vec<Hierarchy>,
    pub roles: Roles,
    /// cgroup v2: the cgroup the daemon moved itself into to free its own, if it had to.
    pub moved_to: Option<PathBuf>,
}

impl Layout {
    /// A sandbox's directory in each hierarchy, in [`Layout::hierarchies`] order.
    fn dirs_for(&self, sandbox_id: &str) -> Vec<PathBuf> {
        let dirs = self.hierarchies.iter();
        dirs.map(|h| h.instance_dir.join(sandbox_id)).collect()
    }
}

/// The cgroup manager: one per daemon, cheap to clone.
#[derive(Clone)]
pub struct Cgroups {
    os: Arc<dyn CgroupOs>,
    layout: Arc<Layout>,
}

impl fmt::Debug for Cgroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cgroups").field(&self.describe()).finish()
    }
}

impl Cgroups {
    /// Finds a usable hierarchy under the daemon's own cgroup and creates
    /// `<own>/lambdalet-<instance>/` in it (in each v1 hierarchy used). Prefers v2 when the
    /// daemon's v2 cgroup offers the memory and pids controllers; else v1 when the memory and
    /// pids hierarchies are mounted (cpu, devices and freezer are used when mounted).
    /// `instance` is a short id the caller derives from its data directory.
    pub fn detect(instance: &str) -> Result<Self, CgroupError> {
        let os = fs::RealOs;
        let read = |path: &str| {
            os.read(Path::new(path))
                .map_err(|source| CgroupError::Read {
                    path: path.into(),
                    source,
                })
        };
        let self_cgroup = read("/proc/self/cgroup")?;
        let mountinfo = read("/proc/self/mountinfo")?;
        Self::detect_with(Arc::new(os), &self_cgroup, &mountinfo, instance)
    }

    /// [`Cgroups::detect`] against an injected OS and the given `/proc/self/cgroup` and
    /// `/proc/self/mountinfo` contents.
    pub(crate) fn detect_with(
        os: Arc<dyn CgroupOs>,
        self_cgroup: &str,
        mountinfo: &str,
        instance: &str,
    ) -> Result<Self, CgroupError> {
        check_name("instance", instance)?;
        let dir_name = format!("lambdalet-{instance}");
        let mounts = detect::parse_mountinfo(mountinfo);
        let own = detect::parse_self_cgroup(self_cgroup);
        let v2 = detect::locate_v2(&mounts, &own).and_then(|l| v2::usable(&*os, l));
        let layout = match v2 {
            Ok(usable) => v2::setup(&*os, usable, &dir_name)?,
            Err(no_v2) => match v1::locate(&mounts, &own) {
                Ok(found) => v1::setup(&*os, found, &dir_name)?,
                Err(no_v1) => return Err(CgroupError::Unavailable(format!("{no_v2} and {no_v1}"))),
            },
        };
        let cgroups = Cgroups {
            os,
            layout: Arc::new(layout),
        };
        tracing::info!("sandbox limits: {}", cgroups.describe());
        Ok(cgroups)
    }

    pub fn version(&self) -> CgroupVersion {
        self.layout.version
    }

    /// E.g. `cgroup v1 (memory, pids, cpu, devices, freezer) under
    /// /sys/fs/cgroup/memory/process_api/…/lambdalet-ab12cd34`.
    pub fn describe(&self) -> String {
        let layout = &self.layout;
        let used: Vec<&str> = layout
            .hierarchies
            .iter()
            .flat_map(|h| h.used.clone())
            .collect();
        let main = &layout.hierarchies[layout.roles.memory].instance_dir;
        let mut text = format!(
            "{} ({}) under {}",
            layout.version.label(),
            used.join(", "),
            main.display()
        );
        if let Some(moved) = &layout.moved_to {
            text.push_str(&format!(
                "; the daemon moved itself into {}",
                moved.display()
            ));
        }
        text
    }

    /// Kills every process in, and removes, each sandbox cgroup left under this instance's
    /// directory (by a previous run that crashed). Returns how many it removed.
    pub fn remove_stale(&self) -> usize {
        let mut names = BTreeSet::new();
        for hierarchy in &self.layout.hierarchies {
            match self.os.list_dirs(&hierarchy.instance_dir) {
                Ok(found) => names.extend(found),
                Err(e) => tracing::warn!(dir = %hierarchy.instance_dir.display(), error = %e,
                    "cgroup.remove_stale: cannot list stale sandbox cgroups"),
            }
        }
        let mut removed = 0;
        for name in names {
            let dirs = self.layout.dirs_for(&name);
            let stale = SandboxCgroup::attach(Arc::clone(&self.os), &self.layout, dirs);
            stale.kill_all();
            match stale.remove() {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(sandbox = %name, error = %e,
                    "cgroup.remove_stale: cannot remove a stale sandbox cgroup"),
            }
        }
        removed
    }

    /// Creates `<instance dir>/<sandbox_id>` (in every hierarchy used) with `limits` written.
    pub fn create(
        &self,
        sandbox_id: &str,
        limits: &CgroupLimits,
    ) -> Result<SandboxCgroup, CgroupError> {
        check_name("sandbox id", sandbox_id)?;
        let os = &*self.os;
        let dirs = self.layout.dirs_for(sandbox_id);
        let mut created = Created {
            os,
            dirs: Vec::new(),
        };
        for dir in &dirs {
            os.mkdir(dir).map_err(|source| CgroupError::Create {
                path: dir.clone(),
                source,
            })?;
            created.dirs.push(dir.clone());
        }
        match self.layout.version {
            CgroupVersion::V1 => v1::write_limits(os, &self.layout, &dirs, limits)?,
            CgroupVersion::V2 => v2::write_limits(os, &self.layout, &dirs[0], limits)?,
        }
        created.dirs.clear();
        tracing::debug!(sandbox = sandbox_id, ?limits, "cgroup.create");
        Ok(SandboxCgroup::open(
            Arc::clone(&self.os),
            &self.layout,
            dirs,
        ))
    }

    /// The instance directory in each hierarchy (tests clean these up).
    #[cfg(test)]
    pub(crate) fn instance_dirs(&self) -> Vec<PathBuf> {
        let dirs = self.layout.hierarchies.iter();
        dirs.map(|h| h.instance_dir.clone()).collect()
    }
}

/// Removes the directories of a half-created sandbox cgroup unless `dirs` was emptied.
struct Created<'a> {
    os: &'a dyn CgroupOs,
    dirs: Vec<PathBuf>,
}

impl Drop for Created<'_> {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            if let Err(e) = self.os.rmdir(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cgroup.create: cannot clean up");
            }
        }
    }
}

/// Checks that `name` is one safe directory name (it cannot collide with a cgroup interface
/// file, which all contain a dot).
fn check_name(what: &'static str, name: &str) -> Result<(), CgroupError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(CgroupError::InvalidName {
            what,
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
