//! Making files and directories appear whole or not at all.
//!
//! Everything the store writes is first built under a unique name in `tmp/`, synced, and
//! then renamed into place. [`TempPath`] removes the half-built thing if anything fails on
//! the way, so an error never leaves a partial file or directory behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::PackageError;

/// A name no other caller in this process (or another process) is using: `<label>.<pid>.<n>`.
pub(crate) fn temp_name(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{label}.{}.{n}", std::process::id())
}

/// A path that is deleted (file or whole tree) when dropped, unless [`TempPath::keep`] ran.
#[derive(Debug)]
pub(crate) struct TempPath {
    path: PathBuf,
    armed: bool,
    remove: fn(&Path) -> io::Result<()>,
}

impl TempPath {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self::removed_by(path, remove_any)
    }

    /// A temporary path that `remove` deletes (an image's tree needs more than `remove_any`).
    pub(crate) fn removed_by(path: PathBuf, remove: fn(&Path) -> io::Result<()>) -> Self {
        Self {
            path,
            armed: true,
            remove,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path was renamed away or must stay: do not delete it.
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed
            && let Err(error) = (self.remove)(&self.path)
        {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a temporary path");
        }
    }
}

/// Removes a file, symlink or directory tree; a path that is already gone is fine.
pub(crate) fn remove_any(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Whether anything (even a dangling symlink) is at `path`.
pub(crate) fn exists(path: &Path) -> Result<bool, PackageError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(PackageError::io("look at", path)(e)),
    }
}

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn sync_dir(path: &Path) -> Result<(), PackageError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(PackageError::io("sync directory", path))
}

/// Writes every change to the file system that holds `path` (data, inodes, directory entries)
/// out to disk, with one `syncfs`. Linux reports a write-back error here only since 5.8.
pub(crate) fn sync_filesystem(path: &Path) -> Result<(), PackageError> {
    File::open(path)
        .and_then(|dir| nix::unistd::syncfs(&dir).map_err(io::Error::from))
        .map_err(PackageError::io("sync the file system of", path))
}

/// Creates `path` (which must not exist) holding `bytes`, synced to disk.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(PackageError::io("create", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(PackageError::io("write", path))
}

/// Renames `from` to `to` and syncs the directory `to` lives in.
pub(crate) fn rename_synced(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    match to.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_unique() {
        assert_ne!(temp_name("x"), temp_name("x"));
    }

    #[test]
    fn a_temp_path_is_removed_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        fs::create_dir_all(gone.join("a/b")).unwrap();
        fs::write(gone.join("a/b/f"), b"x").unwrap();
        drop(TempPath::new(gone.clone()));
        assert!(!gone.exists());

        let kept = dir.path().join("kept");
        write_synced(&kept, b"data").unwrap();
        TempPath::new(kept.clone()).keep();
        assert_eq!(fs::read(&kept).unwrap(), b"data");
    }

    #[test]
    fn write_synced_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_synced(&path, b"one").unwrap();
        assert!(write_synced(&path, b"two").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"one");
    }
}
