//! Whiteouts: `.wh.NAME` and `.wh..wh..opq`, which remove what lower layers made.
//!
//! Each layer remembers what it unpacked (with every parent); a whiteout removes everything
//! at its path except that, so the result is the same whichever comes first in the tar, and
//! a layer's own entries are never hidden by its own whiteouts (OCI layer rules).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use super::{Extractor, Failure, OPAQUE, P, WHITEOUT, io_fail};
use crate::image::path::{Components, Parents, check_parents, join, lstat, show};

impl Extractor {
    pub(super) fn whiteout(&mut self, parts: &Components) -> Result<(), Failure> {
        let (name, dir) = parts.split_last().expect("a whiteout has a name");
        let name = name.as_bytes();
        let root = self.root.clone();
        match check_parents(&root, parts).map_err(io_fail("look at", join(&root, dir)))? {
            Parents::Dirs => {}
            Parents::Symlink(n) => {
                return Err(Failure::Entry(P::ThroughSymlink(show(&parts[..n]))));
            }
            // Nothing below a missing directory or a file to remove.
            Parents::Missing(_) | Parents::NotDir(_) => return Ok(()),
        }
        let mut dir = dir.to_vec();
        if name == OPAQUE {
            return self.remove_lower_children(&join(&root, &dir), &mut dir);
        }
        let hidden = &name[WHITEOUT.len()..];
        if hidden.starts_with(WHITEOUT) {
            // Other `.wh..wh.` names are aufs bookkeeping, with nothing to remove.
            return Ok(());
        }
        if matches!(hidden, b"" | b"." | b"..") {
            return Err(Failure::Entry(P::EmptyWhiteout));
        }
        dir.push(OsStr::from_bytes(hidden).to_owned());
        self.remove_lower(&join(&root, &dir), &mut dir)
    }

    /// Removes `path` except what this layer unpacked there.
    pub(super) fn remove_lower(
        &mut self,
        path: &Path,
        parts: &mut Components,
    ) -> Result<(), Failure> {
        if !self.this_layer.contains(parts) {
            return self.remove(path, parts);
        }
        match lstat(path).map_err(io_fail("look at", path))? {
            Some(meta) if meta.is_dir() => self.remove_lower_children(path, parts),
            _ => Ok(()),
        }
    }

    pub(super) fn remove_lower_children(
        &mut self,
        dir: &Path,
        parts: &mut Components,
    ) -> Result<(), Failure> {
        if !lstat(dir)
            .map_err(io_fail("look at", dir))?
            .is_some_and(|m| m.is_dir())
        {
            return Ok(());
        }
        let mut names = Vec::new();
        for child in fs::read_dir(dir).map_err(io_fail("list", dir))? {
            names.push(child.map_err(io_fail("list", dir))?.file_name());
        }
        for name in names {
            parts.push(name);
            let result = self.remove_lower(&dir.join(parts.last().expect("just pushed")), parts);
            parts.pop();
            result?;
        }
        Ok(())
    }

    /// Records that this layer unpacked `parts` (and so its parents).
    pub(super) fn mark(&mut self, parts: &Components) {
        for end in (1..=parts.len()).rev() {
            if self.this_layer.contains(&parts[..end]) {
                break;
            }
            self.this_layer.insert(parts[..end].to_vec());
        }
    }
}
