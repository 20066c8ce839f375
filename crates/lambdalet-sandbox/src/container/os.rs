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
    /// A symbolic link: the set-up never goes through one (it could lead anywhere on the host).
    Symlink,
    /// A file, device node, socket or fifo.
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
    /// Creates a directory; an existing one is fine (a symbolic link is not, and is not
    /// followed).
    fn mkdir(&mut self, path: &Path, mode: u32) -> io::Result<()>;
    /// Creates an empty file (a mount point for a file); an existing one is fine (a symbolic
    /// link is not, and is not followed).
    fn touch(&mut self, path: &Path) -> io::Result<()>;
    /// Creates a new file with `contents`; anything already at `path` (a symbolic link
    /// included, which is not followed) is an error.
    fn write_file(&mut self, path: &Path, contents: &str, mode: u32) -> io::Result<()>;
    /// Removes a file or symbolic link (not what it points to). On an overlayfs root this
    /// hides the image's entry behind a whiteout; the image itself is untouched.
    fn remove(&mut self, path: &Path) -> io::Result<()>;
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
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        exists_ok(std::fs::DirBuilder::new().mode(mode).create(path))?;
        // The umask must not take bits away (0o1777 for /tmp). Through a descriptor opened
        // without following a link, so an existing link is refused instead of its target
        // changed.
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(path)?
            .set_permissions(std::fs::Permissions::from_mode(mode))
    }

    fn touch(&mut self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map(drop)
    }

    fn write_file(&mut self, path: &Path, contents: &str, mode: u32) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // O_CREAT | O_EXCL: never through a final link, never into an existing file.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        file.write_all(contents.as_bytes())?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
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
        let t = std::fs::symlink_metadata(path).ok()?.file_type();
        Some(if t.is_dir() {
            Kind::Dir
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        })
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

#[cfg(test)]
#[path = "recorder.rs"]
mod recorder;
#[cfg(test)]
pub(crate) use recorder::Recorder;
