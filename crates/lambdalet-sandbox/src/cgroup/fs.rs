//! The operating-system calls the cgroup manager makes, behind [`CgroupOs`] so unit tests can
//! run the manager against a recording fake (`fake.rs`) instead of the kernel.
//!
//! [`RealOs`] is a thin layer over `std::fs` and `kill(2)`: it must stay free of cgroup logic,
//! which belongs to the modules that call it. The helpers below it only spare those modules
//! repeating the same error mapping and tolerance of "already exists".

use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::CgroupError;

/// A file kept open to be re-read from offset 0 (no path lookup per read).
pub(crate) trait PreadFile: Send + Sync {
    /// Reads the file's current contents from offset 0 into `buf`; returns the length read.
    fn read_from_start(&self, buf: &mut [u8]) -> io::Result<usize>;
}

/// The file and process operations the cgroup manager needs.
pub(crate) trait CgroupOs: Send + Sync {
    /// The whole contents of a (small) file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `value` to an existing file in one `write(2)` (cgroup files take one value per
    /// write).
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// Names of the directories directly inside `path`.
    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>>;
    fn exists(&self, path: &Path) -> bool;
    /// Sends `signal` to process `pid`.
    fn kill(&self, pid: u32, signal: Signal) -> io::Result<()>;
    /// This process's id.
    fn own_pid(&self) -> u32;
    fn open_for_pread(&self, path: &Path) -> io::Result<Box<dyn PreadFile>>;
    /// Waits a little (for processes to die); the fake returns at once.
    fn sleep(&self, duration: Duration);
}

/// The kernel's cgroup file systems and `kill(2)`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RealOs;

impl PreadFile for std::fs::File {
    fn read_from_start(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_at(buf, 0)
    }
}

impl CgroupOs for RealOs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // Not `fs::write`: it would try to create a missing file, which cgroupfs refuses with
        // a less helpful error than "not found".
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.write_all(value.as_bytes())
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn list_dirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn kill(&self, pid: u32, signal: Signal) -> io::Result<()> {
        let pid = i32::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        nix::sys::signal::kill(Pid::from_raw(pid), signal).map_err(io::Error::from)
    }

    fn own_pid(&self) -> u32 {
        std::process::id()
    }

    fn open_for_pread(&self, path: &Path) -> io::Result<Box<dyn PreadFile>> {
        Ok(Box::new(std::fs::File::open(path)?))
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Writes `value` to a cgroup file, saying which file and value on failure.
pub(crate) fn write(os: &dyn CgroupOs, path: &Path, value: &str) -> Result<(), CgroupError> {
    os.write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_owned(),
        value: value.to_owned(),
        source,
    })
}

/// Whether `error` is the errno `code`.
pub(crate) fn is_errno(error: &io::Error, code: i32) -> bool {
    error.raw_os_error() == Some(code)
}

/// Creates a directory; one that already exists is fine.
pub(crate) fn mkdir_existing_ok(os: &dyn CgroupOs, path: &Path) -> io::Result<()> {
    match os.mkdir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// The pids listed in a `cgroup.procs` file (empty if it cannot be read: the cgroup is gone).
pub(crate) fn read_pids(os: &dyn CgroupOs, procs: &Path) -> Vec<u32> {
    os.read(procs)
        .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_os_reads_writes_and_rereads_an_open_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let os = RealOs;
        let file = dir.path().join("value");
        std::fs::write(&file, "12\n").expect("seed file");
        let open = os.open_for_pread(&file).expect("open");
        os.write(&file, "345").expect("write");
        let mut buf = [0u8; 16];
        let n = open.read_from_start(&mut buf).expect("pread");
        assert_eq!(&buf[..n], b"345");
        assert!(os.write(&dir.path().join("missing"), "1").is_err());

        mkdir_existing_ok(&os, &dir.path().join("sub")).expect("mkdir");
        mkdir_existing_ok(&os, &dir.path().join("sub")).expect("mkdir again");
        assert_eq!(os.list_dirs(dir.path()).expect("list"), vec!["sub"]);
        os.rmdir(&dir.path().join("sub")).expect("rmdir");
        assert!(!os.exists(&dir.path().join("sub")));
    }

    #[test]
    fn pids_are_parsed_one_per_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let procs = dir.path().join("cgroup.procs");
        std::fs::write(&procs, "12\n345\n\n").expect("seed");
        assert_eq!(read_pids(&RealOs, &procs), vec![12, 345]);
        assert!(read_pids(&RealOs, &dir.path().join("gone")).is_empty());
    }
}
