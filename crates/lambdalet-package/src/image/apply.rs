//! Applying layer entries, in order, to the tree under construction: the security-critical
//! part of loading an image.
//!
//! Rules (the OCI layer rules, made safe for hostile archives):
//! - An entry over an existing path unlinks it (a whole tree, for a directory) and creates
//!   the new thing; a directory over a directory keeps it and takes the new attributes.
//! - `dir/.wh.NAME` removes NAME as lower layers left it; `dir/.wh..wh..opq` removes every
//!   child of `dir` that lower layers made. Neither touches what this same layer unpacked,
//!   whatever their order in the tar, and neither appears in the result.
//! - Nothing is written outside the root: names are normalized by [`normalize`], and every
//!   parent is checked with `lstat` ([`check_parents`]); a parent that is a symlink is an
//!   error naming the entry, never something to follow. Files are created with
//!   `O_EXCL | O_NOFOLLOW`. Symlinks are stored as they are (the container resolves them
//!   in its own root later); hard links must point at something already in the tree.
//! - Device nodes and FIFOs are skipped and counted; the path they name is cleared.
//! - Modes keep the permission and sticky bits (`mode & 0o1777`): setuid and setgid are
//!   stripped, because a function never needs to gain privileges inside its sandbox and a
//!   setuid binary is the usual way to try. File capabilities (xattrs) are not restored.
//! - Owners come from the tar headers only when running as root (the sandbox's user
//!   namespace then maps them); otherwise everything belongs to the daemon's user.
//! - Directories stay `0700` while layers are applied and get their own modes at the end
//!   ([`Extractor::finish`]), so a read-only directory in one layer cannot stop a later layer
//!   from writing into it when the daemon is not root.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::{DirBuilder, File, Permissions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::digest::is_allowance_spent;
use super::error::LayerEntryProblem as P;
use super::path::{Components, Parents, check_parents, join, lstat, normalize, show};
use super::tree::{remove_tree, tree_size};
use super::{ImageError, ImageLimits};

mod file;
mod link;
mod whiteout;

const WORK_DIR_MODE: u32 = 0o700;
const IMPLICIT_DIR_MODE: u32 = 0o755;
const KEPT_MODE_BITS: u32 = 0o1777;
const CHUNK: usize = 64 * 1024;
const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// What applying every layer produced.
#[derive(Debug)]
pub(crate) struct Summary {
    pub size_bytes: u64,
    pub skipped_special: u64,
}

/// Applies layers to the directory `root`, which it alone writes to.
pub(crate) struct Extractor {
    root: PathBuf,
    limits: ImageLimits,
    chown: bool,
    bytes: u64,
    entries: u64,
    skipped: u64,
    /// The mode each directory gets once every layer is in.
    dir_modes: BTreeMap<Components, u32>,
    /// This layer's entries and their parents: what its whiteouts must not remove.
    this_layer: HashSet<Components>,
    layer: usize,
    layer_file: String,
    buf: Vec<u8>,
}

/// What a tar entry asks for.
enum Kind {
    File,
    Dir,
    Symlink(Vec<u8>),
    HardLink(Vec<u8>),
    Special,
    Ignore,
}

impl Extractor {
    /// `chown`: restore owners from the headers (only sensible when running as root).
    pub(crate) fn new(root: &Path, limits: ImageLimits, chown: bool) -> Self {
        Self {
            root: root.to_path_buf(),
            limits,
            chown,
            bytes: 0,
            entries: 0,
            skipped: 0,
            dir_modes: BTreeMap::new(),
            this_layer: HashSet::new(),
            layer: 0,
            layer_file: String::new(),
            buf: vec![0; CHUNK],
        }
    }

    /// Starts layer number `index` (from 1), read from `file` in the archive.
    pub(crate) fn begin_layer(&mut self, index: usize, file: &str) {
        self.layer = index;
        self.layer_file = file.to_owned();
        self.this_layer.clear();
    }

    pub(crate) fn corrupt(&self, detail: impl ToString) -> ImageError {
        ImageError::CorruptLayer {
            layer: self.layer,
            file: self.layer_file.clone(),
            detail: detail.to_string(),
        }
    }

    /// A read error inside the layer stream: damaged data, or the tar reader's allowance
    /// running out.
    pub(crate) fn read_error(&self, error: &io::Error) -> ImageError {
        if is_allowance_spent(error) {
            self.corrupt("an entry has more than 16 MiB of tar headers, or the tar has more than 16 MiB after its end")
        } else {
            self.corrupt(error)
        }
    }

    /// Applies one entry and consumes all of its data.
    pub(crate) fn apply<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), ImageError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ImageError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let layer = self.layer;
        let refuse = |problem| ImageError::UnsafeEntry {
            layer,
            entry: shown.clone(),
            problem,
        };
        let parts = normalize(&raw).map_err(refuse)?;
        let kind = match entry.header().entry_type() {
            EntryType::Regular if raw.ends_with(b"/") => Kind::Dir,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => Kind::File,
            EntryType::Directory => Kind::Dir,
            EntryType::Symlink => Kind::Symlink(link_name(entry)),
            EntryType::Link => Kind::HardLink(link_name(entry)),
            EntryType::Char | EntryType::Block | EntryType::Fifo => Kind::Special,
            EntryType::XGlobalHeader => Kind::Ignore,
            other => return Err(refuse(P::UnsupportedType(char::from(other.as_byte())))),
        };
        let is_whiteout = |name: &std::ffi::OsString| name.as_bytes().starts_with(WHITEOUT);
        if let Some(i) = parts.iter().rev().skip(1).position(is_whiteout) {
            let parent = show(&parts[..parts.len() - 1 - i]);
            return Err(refuse(P::InsideWhiteout(parent)));
        }
        let whiteout = parts.last().is_some_and(is_whiteout);
        if whiteout {
            self.whiteout(&parts).map_err(|e| e.entry(refuse))?;
        } else if !matches!(kind, Kind::Ignore) {
            self.create(entry, &parts, kind)
                .map_err(|e| e.entry(refuse))?;
        }
        self.drain(entry)
    }

    fn create<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parts: &Components,
        kind: Kind,
    ) -> Result<(), Failure> {
        if parts.is_empty() {
            // The root itself: it stays 0755 and owned by the daemon.
            return match kind {
                Kind::Dir => Ok(()),
                _ => Err(Failure::Entry(P::RootNotDir)),
            };
        }
        let header = entry.header();
        let mode = header.mode().map_err(|e| Failure::Fatal(self.corrupt(e)))? & KEPT_MODE_BITS;
        let owner = self.owner(header)?;
        let mtime = header.mtime().ok();
        let path = self.prepare_parents(parts)?;
        match kind {
            Kind::Dir => {
                if !self.clear(&path, parts, true)? {
                    DirBuilder::new()
                        .mode(WORK_DIR_MODE)
                        .create(&path)
                        .map_err(io_fail("create directory", &path))?;
                }
                self.dir_modes.insert(parts.clone(), mode);
                self.lchown(&path, owner)?;
            }
            Kind::File => {
                self.clear(&path, parts, false)?;
                self.write_file(entry, &path, mode, owner, mtime)?;
            }
            Kind::Symlink(target) => {
                if target.is_empty() || target.len() > 4095 || target.contains(&0) {
                    return Err(Failure::Entry(P::BadSymlink));
                }
                self.clear(&path, parts, false)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(io_fail("create symlink", &path))?;
                self.lchown(&path, owner)?;
            }
            Kind::HardLink(target) => self.hard_link(&target, &path, parts)?,
            Kind::Special => {
                self.clear(&path, parts, false)?;
                self.skipped += 1;
                tracing::debug!(entry = %show(parts), "skipped a device node or fifo");
            }
            Kind::Ignore => {}
        }
        self.mark(parts);
        Ok(())
    }

    /// Makes sure every parent of `parts` is a real directory, creating missing ones;
    /// returns the entry's full path.
    fn prepare_parents(&mut self, parts: &[std::ffi::OsString]) -> Result<PathBuf, Failure> {
        let root = self.root.clone();
        match check_parents(&root, parts)
            .map_err(io_fail("look at the parents of", join(&root, parts)))?
        {
            Parents::Dirs => {}
            Parents::Missing(n) => {
                for end in n..parts.len() {
                    let dir = join(&root, &parts[..end]);
                    DirBuilder::new()
                        .mode(WORK_DIR_MODE)
                        .create(&dir)
                        .map_err(io_fail("create directory", &dir))?;
                    self.dir_modes
                        .insert(parts[..end].to_vec(), IMPLICIT_DIR_MODE);
                }
            }
            Parents::Symlink(n) => {
                return Err(Failure::Entry(P::ThroughSymlink(show(&parts[..n]))));
            }
            Parents::NotDir(n) => return Err(Failure::Entry(P::InsideFile(show(&parts[..n])))),
        }
        Ok(join(&root, parts))
    }

    /// Clears `path` for a new entry; with `keep_dir`, an existing real directory stays.
    /// Returns whether it stayed.
    fn clear(&mut self, path: &Path, parts: &Components, keep_dir: bool) -> Result<bool, Failure> {
        match lstat(path).map_err(io_fail("look at", path))? {
            None => Ok(false),
            Some(meta) if keep_dir && meta.is_dir() => Ok(true),
            Some(_) => {
                self.remove(path, parts)?;
                Ok(false)
            }
        }
    }

    /// Removes whatever is at `path`, forgetting the modes of directories below it.
    fn remove(&mut self, path: &Path, parts: &Components) -> Result<(), Failure> {
        remove_tree(path).map_err(io_fail("remove", path))?;
        let doomed: Vec<Components> = self
            .dir_modes
            .range(parts.clone()..)
            .take_while(|(k, _)| k.starts_with(parts))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            self.dir_modes.remove(&key);
        }
        Ok(())
    }

    /// Gives directories their modes, once every layer is in, and sums up the tree.
    pub(crate) fn finish(self) -> Result<Summary, ImageError> {
        let size_bytes = tree_size(&self.root).map_err(ImageError::io("measure", &self.root))?;
        // Deepest first: a directory that loses its own search bit must come last.
        for (parts, mode) in self.dir_modes.iter().rev() {
            let path = join(&self.root, parts);
            set_dir_mode(&path, *mode).map_err(ImageError::io("set permissions of", &path))?;
        }
        set_dir_mode(&self.root, IMPLICIT_DIR_MODE)
            .map_err(ImageError::io("set permissions of", &self.root))?;
        Ok(Summary {
            size_bytes,
            skipped_special: self.skipped,
        })
    }
}

/// Sets a directory's mode through a handle opened without following a symlink.
fn set_dir_mode(path: &Path, mode: u32) -> io::Result<()> {
    let dir = File::options()
        .read(true)
        .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
        .open(path)?;
    dir.set_permissions(Permissions::from_mode(mode))
}

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Vec<u8> {
    entry
        .link_name_bytes()
        .map(|b| b.into_owned())
        .unwrap_or_default()
}

/// An entry's failure: its own fault (to be named with the entry), or anything else.
enum Failure {
    Entry(P),
    Fatal(ImageError),
}

impl Failure {
    fn entry(self, refuse: impl FnOnce(P) -> ImageError) -> ImageError {
        match self {
            Self::Entry(problem) => refuse(problem),
            Self::Fatal(error) => error,
        }
    }
}

fn io_fail(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Failure {
    let to_error = ImageError::io(action, path);
    move |e| Failure::Fatal(to_error(e))
}
