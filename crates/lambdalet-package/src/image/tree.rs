//! Whole trees on disk: removing them even when an image made directories read-only, and
//! measuring them. Neither follows a symlink.

use std::collections::HashSet;
use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// A path in the store's `tmp/` that is removed (file or whole tree) when dropped, unless
/// `keep` ran: a load that fails leaves nothing behind.
pub(crate) type TempTree = crate::atomic::TempPath;

/// A [`TempTree`] at `path`, removed with [`remove_tree`] (read-only directories included).
pub(crate) fn temp_tree(path: PathBuf) -> TempTree {
    crate::atomic::TempPath::removed_by(path, remove_tree)
}

/// Removes a file, symlink or directory tree; a path that is already gone is fine.
///
/// An image may hold directories without write permission (`0555` is common), which a
/// daemon that is not root cannot empty; those are made writable on the way down.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return ignore_missing(fs::remove_file(path));
    }
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_writable(path)?;
            ignore_missing(fs::remove_dir_all(path))
        }
        other => ignore_missing(other),
    }
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Gives the owner full access to every directory in the tree at `top`.
fn make_writable(top: &Path) -> io::Result<()> {
    let mut stack = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let handle = File::options()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
            .open(&dir);
        let handle = match handle {
            Ok(handle) => handle,
            // Not a directory (any more), or not ours to change: remove_dir_all will say.
            Err(_) => continue,
        };
        let mode = handle.metadata()?.permissions().mode();
        handle.set_permissions(Permissions::from_mode(mode | 0o700))?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Bytes of regular files in the tree at `top`, counting a hard-linked file once.
pub(crate) fn tree_size(top: &Path) -> io::Result<u64> {
    let mut total: u64 = 0;
    let mut linked = HashSet::new();
    let mut stack: Vec<PathBuf> = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let meta = entry.metadata()?;
                if meta.nlink() == 1 || linked.insert((meta.dev(), meta.ino())) {
                    total = total.saturating_add(meta.len());
                }
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_directories_are_removed_too() {
        let top = tempfile::tempdir().unwrap();
        let tree = top.path().join("t");
        fs::create_dir_all(tree.join("a/b")).unwrap();
        fs::write(tree.join("a/b/f"), b"x").unwrap();
        for dir in ["a/b", "a"] {
            fs::set_permissions(tree.join(dir), Permissions::from_mode(0o555)).unwrap();
        }
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        remove_tree(&tree).unwrap();
    }

    #[test]
    fn removal_does_not_follow_symlinks() {
        let top = tempfile::tempdir().unwrap();
        let outside = top.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), b"x").unwrap();
        let tree = top.path().join("t");
        fs::create_dir(&tree).unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("link")).unwrap();
        remove_tree(&tree).unwrap();
        assert!(outside.join("keep").exists());
    }

    #[test]
    fn hard_links_are_counted_once() {
        let top = tempfile::tempdir().unwrap();
        fs::create_dir(top.path().join("d")).unwrap();
        fs::write(top.path().join("d/f"), b"12345").unwrap();
        fs::hard_link(top.path().join("d/f"), top.path().join("g")).unwrap();
        fs::write(top.path().join("h"), b"123").unwrap();
        std::os::unix::fs::symlink("d/f", top.path().join("l")).unwrap();
        assert_eq!(tree_size(top.path()).unwrap(), 8);
    }
}
