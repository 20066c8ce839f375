//! Names inside a layer, and the walk from the image root down to one without following a
//! symlink.
//!
//! [`normalize`] turns a tar entry name into plain components that stay below the root, or
//! says why not. [`check_parents`] then looks at each parent of the entry on disk with
//! `lstat`: a parent that is a symlink, whether an earlier entry of this layer or an earlier
//! layer made it, is never walked through. That is what keeps `etc -> /` followed by
//! `etc/passwd` from writing outside the rootfs. The walk is race-free because the tree
//! under construction is a private directory in the store's `tmp/` that only this load
//! writes to.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use super::error::LayerEntryProblem;

/// A path below the image root: plain components, never empty, `.` or `..`.
pub(crate) type Components = Vec<OsString>;

const MAX_PATH: usize = 4095;
const MAX_COMPONENT: usize = 255;

/// Turns a raw tar name into components. A leading `/` is dropped (layers name paths from
/// the image root either way), `.` and empty components vanish, and `..` takes one away,
/// but one that would climb above the root is refused: so `a/../b` is `b`, while `../x` and
/// `/../../x` are errors. An empty result is the root itself.
pub(crate) fn normalize(raw: &[u8]) -> Result<Components, LayerEntryProblem> {
    if raw.contains(&0) {
        return Err(LayerEntryProblem::Nul);
    }
    if raw.len() > MAX_PATH {
        return Err(LayerEntryProblem::PathTooLong);
    }
    let mut parts = Components::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(LayerEntryProblem::ParentDir);
                }
            }
            p if p.len() > MAX_COMPONENT => return Err(LayerEntryProblem::ComponentTooLong),
            p => parts.push(OsStr::from_bytes(p).to_owned()),
        }
    }
    Ok(parts)
}

/// `parts` joined with `/`, for messages.
pub(crate) fn show(parts: &[OsString]) -> String {
    let joined: Vec<_> = parts.iter().map(|p| p.to_string_lossy()).collect();
    joined.join("/")
}

/// `root` joined with every component.
pub(crate) fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

/// What the parents of a path are on disk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parents {
    /// Every parent is a real directory.
    Dirs,
    /// The parent with this many components does not exist (nor anything below it).
    Missing(usize),
    /// The parent with this many components is a symlink.
    Symlink(usize),
    /// The parent with this many components is neither a directory nor a symlink.
    NotDir(usize),
}

/// Looks at each parent of `parts` under `root` with `lstat`, top down, and stops at the
/// first that is not a real directory.
pub(crate) fn check_parents(root: &Path, parts: &[OsString]) -> io::Result<Parents> {
    let mut path = root.to_path_buf();
    for (i, part) in parts.iter().enumerate().take(parts.len().saturating_sub(1)) {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => return Ok(Parents::Symlink(i + 1)),
            Ok(_) => return Ok(Parents::NotDir(i + 1)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Parents::Missing(i + 1)),
            Err(e) => return Err(e),
        }
    }
    Ok(Parents::Dirs)
}

/// `lstat`, with "nothing there" as `None`.
pub(crate) fn lstat(path: &Path) -> io::Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(name: &str) -> Result<Vec<String>, LayerEntryProblem> {
        normalize(name.as_bytes()).map(|parts| {
            parts
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn names_become_plain_components() {
        assert_eq!(norm("usr/bin/env").unwrap(), ["usr", "bin", "env"]);
        assert_eq!(norm("./etc//passwd").unwrap(), ["etc", "passwd"]);
        assert_eq!(norm("/etc/passwd").unwrap(), ["etc", "passwd"]);
        assert_eq!(norm("a/../b").unwrap(), ["b"]);
        assert_eq!(norm("dir\\file").unwrap(), ["dir\\file"]);
        assert!(norm("./").unwrap().is_empty());
        assert!(norm("/").unwrap().is_empty());
    }

    #[test]
    fn names_that_climb_out_are_refused() {
        assert_eq!(norm("../x"), Err(LayerEntryProblem::ParentDir));
        assert_eq!(norm("/../../x"), Err(LayerEntryProblem::ParentDir));
        assert_eq!(norm("a/../../x"), Err(LayerEntryProblem::ParentDir));
        assert_eq!(norm("a/b/../../.."), Err(LayerEntryProblem::ParentDir));
        assert_eq!(normalize(b"a\0b"), Err(LayerEntryProblem::Nul));
        assert_eq!(
            norm(&"x".repeat(256)),
            Err(LayerEntryProblem::ComponentTooLong)
        );
        assert_eq!(
            norm(&"x/".repeat(2100)),
            Err(LayerEntryProblem::PathTooLong)
        );
    }

    #[test]
    fn parents_are_looked_at_without_following_symlinks() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("d")).unwrap();
        fs::write(root.path().join("f"), b"").unwrap();
        std::os::unix::fs::symlink("/", root.path().join("l")).unwrap();
        let check = |name: &str| check_parents(root.path(), &normalize(name.as_bytes()).unwrap());
        assert_eq!(check("d/x").unwrap(), Parents::Dirs);
        assert_eq!(check("x").unwrap(), Parents::Dirs);
        assert_eq!(check("l").unwrap(), Parents::Dirs);
        assert_eq!(check("l/etc/x").unwrap(), Parents::Symlink(1));
        assert_eq!(check("d/l2/x").unwrap(), Parents::Missing(2));
        assert_eq!(check("f/x").unwrap(), Parents::NotDir(1));
    }

    proptest! {
        /// Whatever the name, the components are plain, so joining them to the root can only
        /// name something below it.
        #[test]
        fn normalized_names_never_leave_the_root(
            name in proptest::collection::vec(
                prop_oneof![
                    Just(b"..".to_vec()), Just(b".".to_vec()), Just(b"/".to_vec()),
                    Just(b"a".to_vec()), Just(b".wh.x".to_vec()), Just(vec![0u8]),
                    Just(vec![0xff, b'\\']),
                ],
                0..24,
            ).prop_map(|parts| parts.concat())
        ) {
            if let Ok(parts) = normalize(&name) {
                let root = Path::new("/image/root");
                let joined = join(root, &parts);
                prop_assert!(joined.starts_with(root));
                let plain = joined.components().skip(3).all(|c| {
                    matches!(c, std::path::Component::Normal(_))
                });
                prop_assert!(plain);
                prop_assert_eq!(joined.components().count(), 3 + parts.len());
            }
        }
    }
}
