//! Paths under the sandbox's root, walked one component at a time with `lstat`, so that the
//! set-up never goes through a symbolic link. The init runs as root with the host's whole
//! mount tree reachable until it pivots, and an image function's root is the image's own tree:
//! a link in it (`/etc -> /`, `/tmp -> /etc`) would otherwise lead a mount or a write onto the
//! host. Paths the plan owns are made fresh ([`fresh`]: whatever file or link the image has
//! there is removed); anything else that meets a link is refused.

use std::io;
use std::path::{Component, Path, PathBuf};

use super::os::{Kind, Os};

/// `path` (as the sandbox sees it) under the root.
pub(super) fn inside(root: &Path, path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        root.to_owned()
    } else {
        root.join(rel)
    }
}

/// `cur` (a host path under `root`) as the sandbox sees it, for messages.
fn shown(root: &Path, cur: &Path) -> PathBuf {
    Path::new("/").join(cur.strip_prefix(root).unwrap_or(cur))
}

fn refused(root: &Path, cur: &Path, kind: Kind) -> io::Error {
    let what = match kind {
        Kind::Symlink => "a symbolic link, which is never followed",
        Kind::Other => "a file, not a directory",
        Kind::Dir => "a directory, not a file",
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {what}", shown(root, cur).display()),
    )
}

/// The host paths of `path`'s components under `root`, from the top.
fn steps(root: &Path, path: &Path) -> Vec<PathBuf> {
    let mut cur = root.to_owned();
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .map(|c| {
            cur.push(c);
            cur.clone()
        })
        .collect()
}

/// Creates `path` and its missing parents as directories, refusing to pass through anything
/// that is not a directory.
pub(super) fn mkdir_p(os: &mut dyn Os, root: &Path, path: &Path, mode: u32) -> io::Result<()> {
    let target = inside(root, path);
    for cur in steps(root, path) {
        match os.kind(&cur) {
            Some(Kind::Dir) => {}
            None => os.mkdir(&cur, if cur == target { mode } else { 0o755 })?,
            Some(other) => return Err(refused(root, &cur, other)),
        }
    }
    Ok(())
}

/// Checks that every existing parent of `path` is a directory (no link, no file), creating
/// nothing.
pub(super) fn real_parents(os: &mut dyn Os, root: &Path, path: &Path) -> io::Result<()> {
    let mut all = steps(root, path);
    all.pop();
    for cur in all {
        match os.kind(&cur) {
            Some(Kind::Dir) | None => {}
            Some(other) => return Err(refused(root, &cur, other)),
        }
    }
    Ok(())
}

/// Creates a mount point for a file: its directory, then an empty file if there is none. An
/// existing file will do; a link or a directory will not.
pub(super) fn file_point(os: &mut dyn Os, root: &Path, path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        mkdir_p(os, root, parent, 0o755)?;
    }
    let target = inside(root, path);
    match os.kind(&target) {
        None => os.touch(&target),
        Some(Kind::Other) => Ok(()),
        Some(Kind::Dir) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a directory, the source is a file", path.display()),
        )),
        Some(Kind::Symlink) => Err(refused(root, &target, Kind::Symlink)),
    }
}

/// Makes `path` a directory (or, with `file`, an empty file) of the root's own, for a path
/// the plan owns: whatever file or link the image has there or at a parent is removed (from
/// the overlay; the image is untouched) and a directory made in its place, never followed.
/// An existing directory stays; at a file's path, it is refused.
pub(super) fn fresh(os: &mut dyn Os, root: &Path, path: &Path, file: bool) -> io::Result<()> {
    let all = steps(root, path);
    let last = all.len().saturating_sub(1);
    for (i, cur) in all.iter().enumerate() {
        let dir = i < last || !file;
        match os.kind(cur) {
            Some(Kind::Dir) if dir => continue,
            Some(Kind::Dir) => return Err(refused(root, cur, Kind::Dir)),
            Some(_) => os.remove(cur)?,
            None => {}
        }
        if dir {
            os.mkdir(cur, 0o755)?;
        } else {
            os.touch(cur)?;
        }
    }
    Ok(())
}
