//! A fake [`Os`] for tests: records the calls instead of making them.

use std::io;
use std::path::Path;

use super::{Kind, MsFlags, Os};

/// Records every call as a line of text, for tests of the set-up's order. The filesystem it
/// pretends to have is empty but for what the calls create (or a test puts in `created`: an
/// image's entries) and a kernel's `/proc`; paths in `missing` (and removed ones) do not exist
/// until created; `fail_on` makes the call whose line starts with it fail with EPERM. A call
/// whose path would go through a symbolic link of `created` (a parent, or the path itself for
/// calls that follow a final link: mounts, chmod, chdir) is also listed in `followed`: the real
/// call would have left the root.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub calls: Vec<String>,
    pub missing: Vec<std::path::PathBuf>,
    pub created: std::collections::HashMap<std::path::PathBuf, Kind>,
    pub fail_on: Option<String>,
    pub followed: Vec<String>,
}

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
        self.watch(path, false, &line);
        if self.created.get(path) == Some(&Kind::Symlink) {
            self.calls.push(line);
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        self.record(line)?;
        self.created.insert(path.to_owned(), kind);
        Ok(())
    }

    /// Lists `line` in `followed` if `path` goes through a symbolic link (`last`: the path
    /// itself counts).
    fn watch(&mut self, path: &Path, last: bool, line: &str) {
        let link = |p: &Path| self.created.get(p) == Some(&Kind::Symlink);
        if path.ancestors().skip(1).any(link) || (last && link(path)) {
            self.followed.push(line.to_owned());
        }
    }
}

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
        let line = format!(
            "mount {} {} {} [{}]{}",
            source.map_or("-".to_owned(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            f.join(","),
            data.map(|d| format!(" {d}")).unwrap_or_default()
        );
        if let Some(s) = source {
            self.watch(s, true, &line);
        }
        self.watch(target, true, &line);
        self.record(line)
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
            Kind::Symlink,
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
    fn remove(&mut self, path: &Path) -> io::Result<()> {
        let line = format!("unlink {}", path.display());
        self.watch(path, false, &line);
        self.record(line)?;
        self.created.retain(|p, _| !p.starts_with(path));
        self.missing.push(path.to_owned());
        Ok(())
    }
    fn chown(&mut self, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
        let line = format!("chown {} {uid}:{gid}", path.display());
        self.watch(path, false, &line);
        self.record(line)
    }
    fn chmod(&mut self, path: &Path, mode: u32) -> io::Result<()> {
        let line = format!("chmod {} {mode:o}", path.display());
        self.watch(path, true, &line);
        self.record(line)
    }
    fn kind(&mut self, path: &Path) -> Option<Kind> {
        if let Some(k) = self.created.get(path) {
            return Some(*k);
        }
        if self.missing.iter().any(|m| m == path) {
            return None;
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
        let line = format!("chdir {}", path.display());
        self.watch(path, true, &line);
        self.record(line)
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
