//! Regular files and owners: data copied in chunks and counted against the size limit as it
//! arrives, the file created with `O_EXCL | O_NOFOLLOW`, its owner, mode and time set
//! through the open handle.

use std::fs::{OpenOptions, Permissions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Extractor, Failure, P, io_fail};
use crate::image::ImageError;

impl Extractor {
    /// The uid and gid to give the entry, when owners are restored.
    pub(super) fn owner(&self, header: &tar::Header) -> Result<Option<(u32, u32)>, Failure> {
        if !self.chown {
            return Ok(None);
        }
        let id = |n: io::Result<u64>| -> Result<u32, Failure> {
            let n = n.map_err(|e| Failure::Fatal(self.corrupt(e)))?;
            u32::try_from(n).map_err(|_| Failure::Entry(P::BadOwner))
        };
        Ok(Some((id(header.uid())?, id(header.gid())?)))
    }

    pub(super) fn lchown(&self, path: &Path, owner: Option<(u32, u32)>) -> Result<(), Failure> {
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                .map_err(io_fail("change the owner of", path))?;
        }
        Ok(())
    }

    pub(super) fn write_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
        mode: u32,
        owner: Option<(u32, u32)>,
        mtime: Option<u64>,
    ) -> Result<(), Failure> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_fail("create", path))?;
        self.copy(entry, &mut file, path).map_err(Failure::Fatal)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
                .map_err(io_fail("change the owner of", path))?;
        }
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io_fail("set permissions of", path))?;
        let when = mtime.and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)));
        if let Some(when) = when {
            file.set_modified(when)
                .map_err(io_fail("set the time of", path))?;
        }
        Ok(())
    }

    /// Copies the entry's data into `out`, counting every byte against the size limit as it
    /// arrives, whatever the header claimed.
    fn copy<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        out: &mut dyn io::Write,
        path: &Path,
    ) -> Result<(), ImageError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = (|| loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(&e)),
            };
            self.bytes = self.bytes.saturating_add(n as u64);
            if self.bytes > self.limits.max_unpacked_bytes {
                return Err(ImageError::TooLarge {
                    limit: self.limits.max_unpacked_bytes,
                });
            }
            out.write_all(&buf[..n])
                .map_err(ImageError::io("write", path))?;
        })();
        self.buf = buf;
        result
    }

    /// Reads whatever data an entry has left (a directory or link with a size, say),
    /// counted like file data, so the tar reader never skips through unchecked bytes.
    pub(super) fn drain<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), ImageError> {
        self.copy(entry, &mut io::sink(), Path::new("nowhere"))
    }
}
