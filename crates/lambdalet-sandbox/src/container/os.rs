//! The system calls a container's set-up makes, behind a small trait (youki's `Syscall`
//! pattern): [`Linux`] makes them; tests use a recorder that checks the exact sequence without
//! root. Only the init process (single-threaded, freshly exec'd) runs this code, so it may
//! allocate.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Mount flags, as the kernel takes them.
pub(crate) type MsFlags = libc::c_ulong;

/// What kind of file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    Other,
}

pub(crate) trait Os {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()>;
    fn umount_detach(&mut self, target: &Path) -> io::Result<()>;
    /// Creates a directory; an existing one is fine.
    fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()>;
    /// Creates an empty file (a mount point for a file); an existing one is fine.
    fn touch(&mut self, path: &Path) -> io::Result<()>;
    fn write_file(&mut self, path: &Path, contents: &str, mode: u32) -> io::Result<()>;
    fn symlink(&mut self, target: &Path, path: &Path) -> io::Result<()>;
    fn mknod(
        &mut self,
        path: &Path,
        char: bool,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> io::Result<()>;
    fn chown(&mut self, path: &Path, uid: u32, gid: u32) -> io::Result<()>;
    fn chmod(&mut self, path: &Path, mode: u32) -> io::Result<()>;
    /// What `path` is, without following a final symbolic link; `None` if it does not exist.
    fn kind(&mut self, path: &Path) -> Option<Kind>;
    fn chdir(&mut self, path: &Path) -> io::Result<()>;
    /// `pivot_root(".", ".")` from the new root, then detaches the old one (runc's way: no
    /// directory for the old root is needed).
    fn pivot_here(&mut self) -> io::Result<()>;
    fn sethostname(&mut self, name: &str) -> io::Result<()>;
    fn unshare(&mut self, flags: libc::c_int) -> io::Result<()>;
}

/// The real system calls.
#[derive(Debug, Default)]
pub(crate) struct Linux;

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a mount option"))
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn exists_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        other => other,
    }
}

impl Os for Linux {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        let source = source.map(cpath).transpose()?;
        let target = cpath(target)?;
        let fstype = fstype.map(cstr).transpose()?;
        let data = data.map(cstr).transpose()?;
        let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: every pointer is a live NUL-terminated string or null, as mount(2) accepts.
        check(unsafe {
            libc::mount(
                ptr(&source),
                target.as_ptr(),
                ptr(&fstype),
                flags,
                ptr(&data).cast(),
            )
        })
    }

    fn umount_detach(&mut self, target: &Path) -> io::Result<()> {
        let target = cpath(target)?;
        // SAFETY: a live NUL-terminated path.
        check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) })
    }

    fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        exists_ok(std::fs::DirBuilder::new().mode(mode).create(path))?;
        // The umask must not take bits away (0o1777 for /tmp).
        self.chmod(path, mode)
    }

    fn touch(&mut self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map(drop)
    }

    fn write_file(&mut self, path: &Path, contents: &str, mode: u32) -> io::Result<()> {
        std::fs::write(path, contents)?;
        self.chmod(path, mode)
    }

    fn symlink(&mut self, target: &Path, path: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, path)
    }

    fn mknod(
        &mut self,
        path: &Path,
        char: bool,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> io::Result<()> {
        let p = cpath(path)?;
        let kind = if char { libc::S_IFCHR } else { libc::S_IFBLK };
        // SAFETY: a live NUL-terminated path; makedev only combines numbers.
        check(unsafe {
            libc::mknod(
                p.as_ptr(),
                kind | (mode & 0o7777),
                libc::makedev(major, minor),
            )
        })?;
        self.chmod(path, mode)
    }

    fn chown(&mut self, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
    }

    fn chmod(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    fn kind(&mut self, path: &Path) -> Option<Kind> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(if m.is_dir() { Kind::Dir } else { Kind::Other })
    }

    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        std::env::set_current_dir(path)
    }

    fn pivot_here(&mut self) -> io::Result<()> {
        let dot = cpath(Path::new("."))?;
        // SAFETY: pivot_root takes two live NUL-terminated paths; "." for both stacks the old
        // root under the new one, which is then detached.
        let r = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
        check(r as libc::c_int)?;
        self.umount_detach(Path::new("."))?;
        self.chdir(Path::new("/"))
    }

    fn sethostname(&mut self, name: &str) -> io::Result<()> {
        // SAFETY: a pointer and length of a live byte string.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
    }

    fn unshare(&mut self, flags: libc::c_int) -> io::Result<()> {
        // SAFETY: unshare takes only flags.
        check(unsafe { libc::unshare(flags) })
    }
}

/// Records every call as a line of text, for tests of the set-up's order. The filesystem it
/// pretends to have is empty but for what the calls create and a kernel's `/proc`; paths in
/// `missing` never exist; `fail_on` makes the call whose line starts with it fail with EPERM.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub calls: Vec<String>,
    pub missing: Vec<std::path::PathBuf>,
    pub created: std::collections::HashMap<std::path::PathBuf, Kind>,
    pub fail_on: Option<String>,
}

#[cfg(test)]
impl Recorder {
    fn record(&mut self, line: String) -> io::Result<()> {
        let fail = self
            .fail_on
            .as_ref()
            .is_some_and(|f| line.starts_with(f.as_str()));
        self.calls.push(line);
        if fail {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        } else {
            Ok(())
        }
    }

    fn create(&mut self, path: &Path, kind: Kind, line: String) -> io::Result<()> {
        self.record(line)?;
        self.created.insert(path.to_owned(), kind);
        Ok(())
    }
}

#[cfg(test)]
impl Os for Recorder {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        let names = [
            (libc::MS_BIND, "bind"),
            (libc::MS_REC, "rec"),
            (libc::MS_REMOUNT, "remount"),
            (libc::MS_RDONLY, "ro"),
            (libc::MS_NOSUID, "nosuid"),
            (libc::MS_NODEV, "nodev"),
            (libc::MS_NOEXEC, "noexec"),
            (libc::MS_PRIVATE, "private"),
        ];
        let f: Vec<&str> = names
            .iter()
            .filter(|(b, _)| flags & b != 0)
            .map(|(_, n)| *n)
            .collect();
        self.record(format!(
            "mount {} {} {} [{}]{}",
            source.map_or("-".to_owned(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            f.join(","),
            data.map(|d| format!(" {d}")).unwrap_or_default()
        ))
    }
    fn umount_detach(&mut self, target: &Path) -> io::Result<()> {
        self.record(format!("umount {}", target.display()))
    }
    fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        self.create(
            path,
            Kind::Dir,
            format!("mkdir {} {mode:o}", path.display()),
        )
    }
    fn touch(&mut self, path: &Path) -> io::Result<()> {
        self.create(path, Kind::Other, format!("touch {}", path.display()))
    }
    fn write_file(&mut self, path: &Path, contents: &str, mode: u32) -> io::Result<()> {
        self.create(
            path,
            Kind::Other,
            format!(
                "write {} {mode:o} {} lines",
                path.display(),
                contents.lines().count()
            ),
        )
    }
    fn symlink(&mut self, target: &Path, path: &Path) -> io::Result<()> {
        self.create(
            path,
            Kind::Other,
            format!("symlink {} -> {}", path.display(), target.display()),
        )
    }
    fn mknod(
        &mut self,
        path: &Path,
        char: bool,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> io::Result<()> {
        self.create(
            path,
            Kind::Other,
            format!(
                "mknod {} {} {major}:{minor} {mode:o}",
                path.display(),
                if char { 'c' } else { 'b' }
            ),
        )
    }
    fn chown(&mut self, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
        self.record(format!("chown {} {uid}:{gid}", path.display()))
    }
    fn chmod(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        self.record(format!("chmod {} {mode:o}", path.display()))
    }
    fn kind(&mut self, path: &Path) -> Option<Kind> {
        if self.missing.iter().any(|m| m == path) {
            return None;
        }
        if let Some(k) = self.created.get(path) {
            return Some(*k);
        }
        let s = path.to_string_lossy();
        let (_, rest) = s.split_once("/proc/")?;
        let dirs = ["acpi", "asound", "scsi", "bus", "fs", "irq", "sys"];
        Some(if dirs.contains(&rest) {
            Kind::Dir
        } else {
            Kind::Other
        })
    }
    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        self.record(format!("chdir {}", path.display()))
    }
    fn pivot_here(&mut self) -> io::Result<()> {
        self.record("pivot_root . .".to_owned())
    }
    fn sethostname(&mut self, name: &str) -> io::Result<()> {
        self.record(format!("sethostname {name}"))
    }
    fn unshare(&mut self, flags: libc::c_int) -> io::Result<()> {
        self.record(format!("unshare {flags:#x}"))
    }
}
