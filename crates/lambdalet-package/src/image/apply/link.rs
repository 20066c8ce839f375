//! Hard links: only to something already in the tree, reached without a symlink.

use std::fs;
use std::io;
use std::path::Path;

use super::{Extractor, Failure, P, io_fail};
use crate::image::path::{Components, Parents, check_parents, join, lstat, normalize, show};

impl Extractor {
    pub(super) fn hard_link(
        &mut self,
        target: &[u8],
        path: &Path,
        parts: &Components,
    ) -> Result<(), Failure> {
        let shown = String::from_utf8_lossy(target).into_owned();
        let target = normalize(target).map_err(|p| match p {
            P::ParentDir => Failure::Entry(P::HardLinkEscapes(shown.clone())),
            other => Failure::Entry(other),
        })?;
        if target.is_empty() {
            return Err(Failure::Entry(P::HardLinkToDir(shown)));
        }
        let root = self.root.clone();
        match check_parents(&root, &target).map_err(io_fail("look at", join(&root, &target)))? {
            Parents::Dirs => {}
            Parents::Symlink(n) => {
                return Err(Failure::Entry(P::HardLinkThroughSymlink {
                    target: shown,
                    parent: show(&target[..n]),
                }));
            }
            Parents::Missing(_) | Parents::NotDir(_) => {
                return Err(Failure::Entry(P::HardLinkMissing(shown)));
            }
        }
        let source = join(&root, &target);
        match lstat(&source).map_err(io_fail("look at", &source))? {
            None => return Err(Failure::Entry(P::HardLinkMissing(shown))),
            Some(meta) if meta.is_dir() => return Err(Failure::Entry(P::HardLinkToDir(shown))),
            Some(_) if target == *parts => return Ok(()),
            Some(_) => {}
        }
        self.clear(path, parts, false)?;
        // link(2) does not follow a symlink at `source`: the new name is the symlink itself.
        fs::hard_link(&source, path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Failure::Entry(P::HardLinkMissing(shown)),
            _ => io_fail("create hard link", path)(e),
        })
    }
}
