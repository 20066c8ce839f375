//! A recording fake of the kernel's cgroup file systems, for unit tests (youki's pattern).
//!
//! It holds an in-memory tree: `mkdir` in a mounted hierarchy creates the interface files a v1
//! or v2 kernel would, and writes to the special files behave as in the kernel (`kernel.rs`,
//! including v2's "no internal processes" rule); `kill` removes a process from every cgroup.
//! Any operation on a path can be told to fail with an errno, and every operation is recorded
//! in order (`"write <path> <value>"`, with `" -> EBUSY"` appended when it failed) so tests
//! can assert exact sequences. `hosts.rs` builds the hosts the tests run on.

mod hosts;
mod kernel;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::fs::{CgroupOs, PreadFile};
pub(crate) use hosts::*;
use kernel::{Kind, State};

/// The fake OS; clones share one tree.
#[derive(Clone)]
pub(crate) struct FakeOs {
    state: Arc<Mutex<State>>,
}

/// The pid the fake reports as its own.
pub(crate) const OWN_PID: u32 = 4242;

impl FakeOs {
    pub(crate) fn new() -> Self {
        let state = State {
            pid: OWN_PID,
            ..State::default()
        };
        FakeOs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake state lock")
    }

    /// Mounts a v1 hierarchy with `controllers` at `point`.
    pub(crate) fn mount_v1(&self, point: &str, controllers: &[&str]) {
        let list = controllers.iter().map(|c| (*c).to_owned()).collect();
        let mut s = self.lock();
        s.mounts.push((point.into(), Kind::V1(list)));
        s.dirs.insert(point.into());
        s.files
            .insert(Path::new(point).join("cgroup.procs"), String::new());
    }

    /// Mounts a v2 hierarchy at `point` whose root offers `controllers`.
    pub(crate) fn mount_v2(&self, point: &str, controllers: &[&str]) {
        let mut s = self.lock();
        s.mounts.push((point.into(), Kind::V2));
        s.dirs.insert(point.into());
        let root = Path::new(point);
        s.files
            .insert(root.join("cgroup.controllers"), controllers.join(" "));
        s.files
            .insert(root.join("cgroup.subtree_control"), String::new());
        s.files.insert(root.join("cgroup.procs"), String::new());
    }

    /// Creates the cgroup at `path` and any missing parents, without recording it.
    pub(crate) fn add_cgroup(&self, path: &str) {
        let mut s = self.lock();
        let mut missing: Vec<&Path> = Path::new(path)
            .ancestors()
            .take_while(|p| !s.dirs.contains(*p))
            .collect();
        missing.reverse();
        for dir in missing {
            kernel::make_cgroup(&mut s, dir).expect("parent exists");
        }
    }

    /// Puts `pids` into the cgroup at `dir`.
    pub(crate) fn add_procs(&self, dir: &str, pids: &[u32]) {
        let mut s = self.lock();
        for pid in pids {
            kernel::move_pid(&mut s, Path::new(dir), *pid);
        }
    }

    pub(crate) fn set_file(&self, path: &str, contents: &str) {
        self.lock().files.insert(path.into(), contents.to_owned());
    }

    pub(crate) fn file(&self, path: &str) -> Option<String> {
        self.lock().files.get(Path::new(path)).cloned()
    }

    pub(crate) fn is_dir(&self, path: &str) -> bool {
        self.lock().dirs.contains(Path::new(path))
    }

    /// Makes the next `times` calls of `op` ("write", "mkdir", "rmdir", ...) on `path` fail.
    pub(crate) fn fail(&self, op: &'static str, path: &str, errno: i32, times: usize) {
        self.lock().failures.push((op, path.into(), errno, times));
    }

    /// Makes `mkdir` leave out the interface file `name`, as a kernel without it would.
    pub(crate) fn omit(&self, name: &str) {
        self.lock().omitted.insert(name.to_owned());
    }

    /// Makes `pid` survive SIGKILL (a process stuck in the kernel).
    pub(crate) fn unkillable(&self, pid: u32) {
        self.lock().unkillable.insert(pid);
    }

    /// Every operation so far, in order.
    pub(crate) fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// The operations that change something (mkdir, rmdir, write, kill), in order.
    pub(crate) fn changes(&self) -> Vec<String> {
        let changing = ["mkdir ", "rmdir ", "write ", "kill "];
        let log = self.log();
        log.into_iter()
            .filter(|l| changing.iter().any(|c| l.starts_with(c)))
            .collect()
    }

    pub(crate) fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Runs `op` on the state, unless a failure was set up for it; records it either way.
    fn run<T>(
        &self,
        op: &'static str,
        path: &Path,
        detail: &str,
        f: impl FnOnce(&mut State) -> Result<T, Errno>,
    ) -> io::Result<T> {
        let mut s = self.lock();
        let injected = s
            .failures
            .iter_mut()
            .find(|(o, p, _, left)| *o == op && p == path && *left > 0);
        let result = match injected {
            Some(failure) => {
                failure.3 -= 1;
                Err(Errno::from_raw(failure.2))
            }
            None => f(&mut s),
        };
        let mut line = format!("{op} {}{detail}", path.display());
        if let Err(errno) = &result {
            line.push_str(&format!(" -> {errno:?}"));
        }
        s.log.push(line);
        result.map_err(io::Error::from)
    }
}

/// A file "kept open": reads the tree's current contents of its path.
struct FakeFile {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

impl PreadFile for FakeFile {
    fn read_from_start(&self, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.state.lock().expect("fake state lock");
        let text = s.files.get(&self.path).ok_or(Errno::ENOENT)?;
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

impl CgroupOs for FakeOs {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.run("read", path, "", |s| {
            s.files.get(path).cloned().ok_or(Errno::ENOENT)
        })
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.run("write", path, &format!(" {value}"), |s| {
            kernel::write_file(s, path, value)
        })
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        self.run("mkdir", path, "", |s| kernel::make_cgroup(s, path))
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        self.run("rmdir", path, "", |s| kernel::remove_cgroup(s, path))
    }

    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        self.run("list", path, "", |s| {
            if !s.dirs.contains(path) {
                return Err(Errno::ENOENT);
            }
            let children = s.dirs.iter().filter(|d| d.parent() == Some(path));
            Ok(children
                .filter_map(|d| d.file_name()?.to_str().map(str::to_owned))
                .collect())
        })
    }

    fn exists(&self, path: &Path) -> bool {
        let found = self.run("exists", path, "", |s| {
            Ok(s.dirs.contains(path) || s.files.contains_key(path))
        });
        found.unwrap_or(false)
    }

    fn kill(&self, pid: u32, signal: Signal) -> io::Result<()> {
        let path = PathBuf::from(pid.to_string());
        let detail = format!(" {signal}");
        self.run("kill", &path, &detail, |s| kernel::kill(s, pid, signal))
    }

    fn own_pid(&self) -> u32 {
        self.lock().pid
    }

    fn open_for_pread(&self, path: &Path) -> io::Result<Box<dyn PreadFile>> {
        self.run("open", path, "", |s| {
            s.files.get(path).ok_or(Errno::ENOENT)?;
            Ok(())
        })?;
        Ok(Box::new(FakeFile {
            state: Arc::clone(&self.state),
            path: path.to_owned(),
        }))
    }

    fn sleep(&self, _duration: Duration) {}
}
