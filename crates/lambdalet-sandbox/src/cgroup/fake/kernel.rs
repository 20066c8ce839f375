//! What the fake's kernel does: the interface files `mkdir` creates in a v1 or v2 cgroup, and
//! the side effects of writes to `cgroup.procs`, `cgroup.subtree_control` and `cgroup.kill`,
//! of `rmdir` and of `kill`. Plain functions on the in-memory tree; recording and failure
//! injection are `mod.rs`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// What kind of hierarchy a fake mount is.
#[derive(Clone)]
pub(super) enum Kind {
    V1(Vec<String>),
    V2,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) dirs: BTreeSet<PathBuf>,
    pub(super) files: BTreeMap<PathBuf, String>,
    pub(super) mounts: Vec<(PathBuf, Kind)>,
    /// (operation, path, errno, times left)
    pub(super) failures: Vec<(&'static str, PathBuf, i32, usize)>,
    pub(super) log: Vec<String>,
    pub(super) pid: u32,
    pub(super) unkillable: BTreeSet<u32>,
    /// Interface files `mkdir` does not create (an older kernel, no swap accounting).
    pub(super) omitted: BTreeSet<String>,
}

/// The mount `path` is in, and whether `path` is that mount's root.
pub(super) fn mount_of(s: &State, path: &Path) -> Option<(Kind, bool)> {
    s.mounts
        .iter()
        .filter(|(point, _)| path.starts_with(point))
        .max_by_key(|(point, _)| point.as_os_str().len())
        .map(|(point, kind)| (kind.clone(), point == path))
}

pub(super) fn procs_of(s: &State, dir: &Path) -> Vec<u32> {
    let text = s.files.get(&dir.join("cgroup.procs")).cloned();
    let text = text.unwrap_or_default();
    text.lines().filter_map(|l| l.parse().ok()).collect()
}

pub(super) fn set_procs(s: &mut State, dir: &Path, pids: &[u32]) {
    let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
    s.files.insert(dir.join("cgroup.procs"), text);
}

/// Moves `pid` into the cgroup at `dir`, out of any other cgroup of the same hierarchy.
pub(super) fn move_pid(s: &mut State, dir: &Path, pid: u32) {
    let mount = s
        .mounts
        .iter()
        .map(|(point, _)| point)
        .filter(|point| dir.starts_with(point))
        .max_by_key(|point| point.as_os_str().len())
        .cloned();
    let others: Vec<PathBuf> = s
        .dirs
        .iter()
        .filter(|d| mount.as_ref().is_some_and(|m| d.starts_with(m)))
        .cloned()
        .collect();
    for other in others {
        let mut pids = procs_of(s, &other);
        pids.retain(|p| *p != pid);
        set_procs(s, &other, &pids);
    }
    let mut pids = procs_of(s, dir);
    pids.push(pid);
    set_procs(s, dir, &pids);
}

/// What the kernel does on mkdir in a cgroup file system: the directory and its interface files.
pub(super) fn make_cgroup(s: &mut State, dir: &Path) -> Result<(), Errno> {
    if s.dirs.contains(dir) || s.files.contains_key(dir) {
        return Err(Errno::EEXIST);
    }
    let parent = dir.parent().ok_or(Errno::EINVAL)?;
    if !s.dirs.contains(parent) {
        return Err(Errno::ENOENT);
    }
    let (kind, _) = mount_of(s, dir).ok_or(Errno::EPERM)?;
    let mut files: Vec<(&str, String)> = vec![("cgroup.procs", String::new())];
    match kind {
        Kind::V1(controllers) => {
            for c in &controllers {
                files.extend(v1_files(c));
            }
        }
        Kind::V2 => {
            let enabled = s.files.get(&parent.join("cgroup.subtree_control")).cloned();
            let enabled = enabled.unwrap_or_default();
            files.push(("cgroup.controllers", enabled.clone()));
            files.push(("cgroup.subtree_control", String::new()));
            files.push(("cgroup.kill", String::new()));
            for c in enabled.split_whitespace() {
                files.extend(v2_files(c));
            }
        }
    }
    s.dirs.insert(dir.to_owned());
    for (name, value) in files {
        if !s.omitted.contains(name) {
            s.files.insert(dir.join(name), value);
        }
    }
    Ok(())
}

pub(super) fn v1_files(controller: &str) -> Vec<(&'static str, String)> {
    let unlimited = "9223372036854771712".to_owned();
    match controller {
        "memory" => vec![
            ("memory.limit_in_bytes", unlimited.clone()),
            ("memory.memsw.limit_in_bytes", unlimited),
            ("memory.max_usage_in_bytes", "0".into()),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n".into(),
            ),
        ],
        "pids" => vec![("pids.max", "max".into())],
        "cpu" => vec![("cpu.shares", "1024".into())],
        "devices" => vec![
            ("devices.allow", String::new()),
            ("devices.deny", String::new()),
        ],
        "freezer" => vec![("freezer.state", "THAWED".into())],
        _ => vec![],
    }
}

pub(super) fn v2_files(controller: &str) -> Vec<(&'static str, String)> {
    match controller {
        "memory" => vec![
            ("memory.max", "max".into()),
            ("memory.swap.max", "max".into()),
            ("memory.oom.group", "0".into()),
            ("memory.peak", "0".into()),
            ("memory.current", "0".into()),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n".into(),
            ),
        ],
        "pids" => vec![("pids.max", "max".into())],
        "cpu" => vec![("cpu.weight", "100".into())],
        _ => vec![],
    }
}

/// A write to an existing file, with the side effects of the kernel's special files.
pub(super) fn write_file(s: &mut State, path: &Path, value: &str) -> Result<(), Errno> {
    if !s.files.contains_key(path) {
        return Err(Errno::ENOENT);
    }
    let dir = path.parent().ok_or(Errno::EINVAL)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (kind, is_root) = mount_of(s, dir).ok_or(Errno::EPERM)?;
    let v2 = matches!(kind, Kind::V2);
    match name {
        "cgroup.procs" => {
            let pid = match value.trim().parse::<u32>().map_err(|_| Errno::EINVAL)? {
                0 => s.pid,
                pid => pid,
            };
            let subtree = s.files.get(&dir.join("cgroup.subtree_control"));
            if v2 && !is_root && subtree.is_some_and(|t| !t.is_empty()) {
                return Err(Errno::EBUSY);
            }
            move_pid(s, dir, pid);
        }
        "cgroup.subtree_control" => enable(s, dir, value, v2 && !is_root)?,
        "cgroup.kill" => set_procs(s, dir, &[]),
        _ => {
            s.files.insert(path.to_owned(), value.to_owned());
        }
    }
    Ok(())
}

/// v2's `+controller` writes: each must be offered in `cgroup.controllers`, and a non-root
/// cgroup with processes may not enable any (no internal processes).
pub(super) fn enable(
    s: &mut State,
    dir: &Path,
    value: &str,
    check_procs: bool,
) -> Result<(), Errno> {
    let offered = s
        .files
        .get(&dir.join("cgroup.controllers"))
        .cloned()
        .unwrap_or_default();
    let key = dir.join("cgroup.subtree_control");
    let mut enabled: Vec<String> = s
        .files
        .get(&key)
        .cloned()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for token in value.split_whitespace() {
        let name = token.strip_prefix('+').ok_or(Errno::EINVAL)?;
        if !offered.split_whitespace().any(|c| c == name) {
            return Err(Errno::ENOENT);
        }
        if !enabled.iter().any(|c| c == name) {
            if check_procs && !procs_of(s, dir).is_empty() {
                return Err(Errno::EBUSY);
            }
            enabled.push(name.to_owned());
        }
    }
    s.files.insert(key, enabled.join(" "));
    Ok(())
}

/// rmdir: only an empty cgroup (no children, no processes) can go.
pub(super) fn remove_cgroup(s: &mut State, path: &Path) -> Result<(), Errno> {
    if !s.dirs.contains(path) {
        return Err(Errno::ENOENT);
    }
    let has_child = s.dirs.iter().any(|d| d != path && d.starts_with(path));
    if has_child || !procs_of(s, path).is_empty() {
        return Err(Errno::EBUSY);
    }
    s.dirs.remove(path);
    s.files.retain(|f, _| f.parent() != Some(path));
    Ok(())
}

/// kill(2): SIGKILL takes the process out of every cgroup, unless it is unkillable.
pub(super) fn kill(s: &mut State, pid: u32, signal: Signal) -> Result<(), Errno> {
    let holding: Vec<PathBuf> = s
        .dirs
        .iter()
        .filter(|d| procs_of(s, d).contains(&pid))
        .cloned()
        .collect();
    if holding.is_empty() {
        return Err(Errno::ESRCH);
    }
    if signal == Signal::SIGKILL && !s.unkillable.contains(&pid) {
        for dir in holding {
            let mut pids = procs_of(s, &dir);
            pids.retain(|p| *p != pid);
            set_procs(s, &dir, &pids);
        }
    }
    Ok(())
}
