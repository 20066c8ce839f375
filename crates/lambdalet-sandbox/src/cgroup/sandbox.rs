//! One sandbox's cgroup: how a process joins it, what it used, and how everything in it is
//! killed and removed. It does not create cgroups or write limits (`mod.rs`, `v1.rs`, `v2.rs`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::fs::{self, CgroupOs, PreadFile};
use super::{CgroupVersion, Layout};

/// Rounds of freeze, kill, thaw before [`SandboxCgroup::kill_all`] gives up.
pub(super) const KILL_ROUNDS: usize = 50;
/// Pause after each round, for killed processes to exit.
const KILL_PAUSE: Duration = Duration::from_millis(10);
/// Polls of `freezer.state` while waiting for `FROZEN`, one per `FREEZE_PAUSE`.
const FREEZE_POLLS: usize = 20;
const FREEZE_PAUSE: Duration = Duration::from_millis(1);
/// Tries of `rmdir` while it says EBUSY (a process still exiting), one per `REMOVE_PAUSE`.
const REMOVE_TRIES: usize = 50;
const REMOVE_PAUSE: Duration = Duration::from_millis(2);

/// A sandbox's cgroup (one directory per hierarchy used).
///
/// [`SandboxCgroup::kill_all`] and [`SandboxCgroup::remove`] block for up to about half a
/// second when processes are slow to die; call them from a blocking thread in async code.
pub struct SandboxCgroup {
    os: Arc<dyn CgroupOs>,
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
    /// cgroup v1: the sandbox's directory in the freezer hierarchy, if mounted.
    freezer: Option<PathBuf>,
    /// `memory.max_usage_in_bytes` (v1) or `memory.peak`/`memory.current` (v2), kept open.
    peak: Option<Box<dyn PreadFile>>,
    /// `memory.oom_control` (v1) or `memory.events` (v2), kept open.
    oom: Option<Box<dyn PreadFile>>,
}

impl fmt::Debug for SandboxCgroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxCgroup")
            .field("version", &self.version)
            .field("dirs", &self.dirs)
            .finish_non_exhaustive()
    }
}

impl SandboxCgroup {
    /// A handle to the cgroup at `dirs`, with its memory statistics files opened.
    pub(crate) fn open(os: Arc<dyn CgroupOs>, layout: &Layout, dirs: Vec<PathBuf>) -> Self {
        let mut cgroup = Self::attach(os, layout, dirs);
        let memory = &cgroup.dirs[layout.roles.memory];
        let (peak, oom) = match layout.version {
            CgroupVersion::V1 => (
                memory.join("memory.max_usage_in_bytes"),
                "memory.oom_control",
            ),
            CgroupVersion::V2 => {
                let peak = memory.join("memory.peak");
                match cgroup.os.exists(&peak) {
                    true => (peak, "memory.events"),
                    false => (memory.join("memory.current"), "memory.events"),
                }
            }
        };
        let oom = memory.join(oom);
        cgroup.peak = cgroup.os.open_for_pread(&peak).ok();
        cgroup.oom = cgroup.os.open_for_pread(&oom).ok();
        cgroup
    }

    /// A handle to the cgroup at `dirs` without open files (to kill and remove a stale one).
    pub(crate) fn attach(os: Arc<dyn CgroupOs>, layout: &Layout, dirs: Vec<PathBuf>) -> Self {
        let freezer = layout.roles.freezer.map(|i| dirs[i].clone());
        SandboxCgroup {
            os,
            version: layout.version,
            dirs,
            freezer,
            peak: None,
            oom: None,
        }
    }

    /// The `cgroup.procs` files a new process writes `0` to in order to join (one per v1
    /// hierarchy, one on v2).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The files a new, single-threaded process writes `0` to from itself (before it execs) to
    /// join: v1's `tasks`, which moves the writing thread alone and so skips the kernel's
    /// global threadgroup lock (writing `cgroup.procs` waits for an RCU grace period, 5 to 20
    /// ms on the benchmark machine; `tasks` takes 30 µs), and v2's `cgroup.procs`. The writer
    /// must have no other threads: the vfork child of `spawn` and a forked child both qualify.
    pub fn join_files(&self) -> Vec<PathBuf> {
        let file = match self.version {
            CgroupVersion::V1 => "tasks",
            CgroupVersion::V2 => "cgroup.procs",
        };
        self.dirs.iter().map(|d| d.join(file)).collect()
    }

    /// The most memory the cgroup's processes used at once, in bytes (v2 kernels before 5.19
    /// have no `memory.peak`: the current usage then).
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let mut buf = [0u8; 64];
        let text = read_open(self.peak.as_deref()?, &mut buf)?;
        text.trim().parse().ok()
    }

    /// Times the kernel's OOM killer killed a process in this cgroup (0 on v1 kernels before
    /// 4.13, which do not count them).
    pub fn oom_kills(&self) -> u64 {
        let mut buf = [0u8; 512];
        let text = self.oom.as_deref().and_then(|f| read_open(f, &mut buf));
        text.and_then(parse_oom_kills).unwrap_or(0)
    }

    /// SIGKILLs every process in the cgroup, so children that called `setsid()` or daemonized
    /// die too. v2: writes `1` to `cgroup.kill` when the kernel has it (5.14+). Then, and
    /// always on v1, rounds of: freeze (v1, when the freezer is mounted, so nothing forks
    /// meanwhile), SIGKILL each pid in `cgroup.procs`, thaw; until it is empty, or a warning
    /// after [`KILL_ROUNDS`]. Without a freezer a pid could be reused between reading and
    /// killing it; frozen processes cannot exit, so with one it cannot.
    pub fn kill_all(&self) {
        if self.version == CgroupVersion::V2 {
            let kill = self.dirs[0].join("cgroup.kill");
            if self.os.exists(&kill)
                && let Err(e) = self.os.write(&kill, "1")
            {
                tracing::warn!(file = %kill.display(), error = %e, "cgroup.kill_all");
            }
        }
        for _ in 0..KILL_ROUNDS {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            self.freeze("FROZEN");
            for pid in pids {
                match self.os.kill(pid, Signal::SIGKILL) {
                    Err(e) if !fs::is_errno(&e, libc::ESRCH) => {
                        tracing::warn!(pid, error = %e, "cgroup.kill_all: cannot kill");
                    }
                    _ => {}
                }
            }
            self.freeze("THAWED");
            self.os.sleep(KILL_PAUSE);
        }
        let left = self.pids();
        if !left.is_empty() {
            tracing::warn!(dir = %self.dirs[0].display(), ?left, rounds = KILL_ROUNDS,
                "cgroup.kill_all: processes survive SIGKILL; giving up");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pids().is_empty()
    }

    /// Removes the cgroup's directory in every hierarchy; retries briefly on EBUSY (a process
    /// that is exiting). An already-removed directory is fine.
    pub fn remove(&self) -> std::io::Result<()> {
        let mut first_error = None;
        for dir in &self.dirs {
            if let Err(e) = self.rmdir(dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn rmdir(&self, dir: &std::path::Path) -> std::io::Result<()> {
        let mut tries = 0;
        loop {
            match self.os.rmdir(dir) {
                Err(e) if fs::is_errno(&e, libc::EBUSY) && tries + 1 < REMOVE_TRIES => {
                    tries += 1;
                    self.os.sleep(REMOVE_PAUSE);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                other => return other,
            }
        }
    }

    /// Every pid in the cgroup, in any hierarchy.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .dirs
            .iter()
            .flat_map(|d| fs::read_pids(&*self.os, &d.join("cgroup.procs")))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// cgroup v1: sets `freezer.state` and, for `FROZEN`, waits briefly until it is reached.
    fn freeze(&self, state: &str) {
        let Some(dir) = &self.freezer else { return };
        let file = dir.join("freezer.state");
        if let Err(e) = self.os.write(&file, state) {
            tracing::warn!(file = %file.display(), state, error = %e, "cgroup.kill_all");
            return;
        }
        if state != "FROZEN" {
            return;
        }
        for _ in 0..FREEZE_POLLS {
            match self.os.read(&file) {
                Ok(now) if now.trim() != "FREEZING" => return,
                Err(_) => return,
                Ok(_) => self.os.sleep(FREEZE_PAUSE),
            }
        }
    }
}

/// Re-reads an open statistics file into `buf`.
fn read_open<'b>(file: &dyn PreadFile, buf: &'b mut [u8]) -> Option<&'b str> {
    let n = file.read_from_start(buf).ok()?;
    std::str::from_utf8(&buf[..n]).ok()
}

/// The `oom_kill N` line of v1's `memory.oom_control` or v2's `memory.events`.
fn parse_oom_kills(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("oom_kill "))?;
    line.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kills_are_read_from_either_format() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_oom_kills(v1), Some(3));
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 1\n";
        assert_eq!(parse_oom_kills(v2), Some(2));
        let old_v1 = "oom_kill_disable 0\nunder_oom 0\n";
        assert_eq!(parse_oom_kills(old_v1), None);
    }
}
