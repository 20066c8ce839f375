//! Reading a zip's listing into a checked plan of what unpacking will create.
//!
//! [`Plan::read`] walks the central directory once: it refuses oversize archives, escaping
//! or clashing names and escaping symlinks, and sums the declared sizes so an honest zip
//! bomb is refused before a byte is decompressed. It reads only symlink targets (a few
//! bytes each). The plan is what [`crate::unpack`] executes; it never writes anything.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use zip::ZipArchive;

use crate::entry::{self, Components, EntryProblem, LinkResolver};
use crate::unpack::{Budget, copy_entry};
use crate::{Limits, PackageError, ZipSummary};

pub(crate) type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const DEFAULT_FILE_MODE: u32 = 0o644;

/// What write errors name when decompressing into memory (which cannot fail).
fn nowhere() -> &'static Path {
    Path::new("memory")
}

/// One thing unpacking creates. Directories are always `0755`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Dir,
    File { index: usize, mode: u32, size: u64 },
    Symlink { target: String },
}

/// A checked listing: every path it holds stays inside the destination, parents come before
/// children (the map is ordered by components), and no path goes through a file or symlink.
#[derive(Debug)]
pub(crate) struct Plan {
    pub nodes: BTreeMap<Components, Node>,
    /// Bytes of symlink targets, already decompressed while reading the listing.
    pub link_bytes: u64,
    pub summary: ZipSummary,
}

/// Validates a zip without writing anything: the listing, every entry name and symlink,
/// and the limits, decompressing every entry (into nothing) to check its data and size.
pub fn inspect_zip(bytes: &[u8]) -> Result<ZipSummary, PackageError> {
    inspect_with(bytes, &Limits::AWS)
}

pub(crate) fn inspect_with(bytes: &[u8], limits: &Limits) -> Result<ZipSummary, PackageError> {
    let mut archive = open(bytes, limits)?;
    let plan = Plan::read(&mut archive, limits)?;
    let mut budget = Budget::new(limits.unzipped_bytes);
    for (path, node) in &plan.nodes {
        if let Node::File { index, size, .. } = node {
            let sink = &mut std::io::sink();
            copy_entry(
                &mut archive,
                *index,
                path,
                *size,
                &mut budget,
                sink,
                nowhere(),
            )?;
        }
    }
    Ok(plan.summary)
}

/// Opens the archive after checking its size against the upload limit.
pub(crate) fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Archive<'a>, PackageError> {
    let size = bytes.len() as u64;
    if size > limits.zip_bytes {
        return Err(PackageError::ZipTooLarge {
            size,
            limit: limits.zip_bytes,
        });
    }
    let archive = ZipArchive::new(Cursor::new(bytes)).map_err(PackageError::not_a_zip)?;
    if archive.has_duplicate_names() {
        return Err(PackageError::not_a_zip(
            "its central directory lists the same entry name twice",
        ));
    }
    if archive.is_empty() {
        return Err(PackageError::EmptyZip);
    }
    Ok(archive)
}

impl Plan {
    pub(crate) fn read(archive: &mut Archive<'_>, limits: &Limits) -> Result<Plan, PackageError> {
        let mut nodes = BTreeMap::new();
        let mut links = BTreeMap::new();
        let mut declared: u64 = 0;
        let mut budget = Budget::new(limits.unzipped_bytes);
        for index in 0..archive.len() {
            let meta = EntryMeta::read(archive, index)?;
            let shown = meta.shown.as_str();
            let path = entry::parse_name(&meta.raw_name, &meta.name)
                .map_err(|p| PackageError::unsafe_entry(shown, p))?;
            let kind = meta.unix_mode.map(|m| m & S_IFMT);
            let perms = meta
                .unix_mode
                .filter(|_| meta.unix_system)
                .map_or(DEFAULT_FILE_MODE, |m| (m & 0o777) | 0o400);
            let size = meta.size;
            declared = declared.saturating_add(size);
            let node = if kind == Some(S_IFLNK) {
                let target = read_target(archive, index, &path, size, &mut budget)?;
                entry::check_target(&target).map_err(|p| PackageError::unsafe_entry(shown, p))?;
                links.insert(path.clone(), target.clone());
                Node::Symlink { target }
            } else if meta.is_dir || kind == Some(S_IFDIR) {
                Node::Dir
            } else {
                Node::File {
                    index,
                    mode: perms,
                    size,
                }
            };
            if path.is_empty() && node == Node::Dir {
                continue;
            }
            insert(&mut nodes, path, node).map_err(|p| PackageError::unsafe_entry(shown, p))?;
        }
        if declared > limits.unzipped_bytes {
            return Err(PackageError::UnzippedTooLarge {
                size: declared,
                limit: limits.unzipped_bytes,
                exact: true,
            });
        }
        let mut resolver = LinkResolver::new(&links);
        for link in links.keys() {
            resolver
                .resolve(link)
                .map_err(|p| PackageError::unsafe_entry(link.join("/"), p))?;
        }
        let bootstrap_mode = bootstrap_mode(&nodes, &mut resolver);
        let summary = ZipSummary {
            entries: archive.len(),
            unzipped_bytes: declared,
            has_bootstrap: bootstrap_mode.is_some(),
            bootstrap_executable: bootstrap_mode.is_some_and(|m| m & 0o111 != 0),
        };
        Ok(Plan {
            nodes,
            link_bytes: budget.used(),
            summary,
        })
    }
}

/// The mode of the top-level `bootstrap` (of what it links to, if a symlink), or `None`
/// when there is no such file. A link to nothing runnable counts as a non-executable file.
fn bootstrap_mode(nodes: &BTreeMap<Components, Node>, links: &mut LinkResolver<'_>) -> Option<u32> {
    let bootstrap = vec!["bootstrap".to_owned()];
    let file_mode = |path: &Components| match nodes.get(path) {
        Some(Node::File { mode, .. }) => Some(*mode),
        _ => None,
    };
    match nodes.get(&bootstrap)? {
        Node::File { mode, .. } => Some(*mode),
        Node::Symlink { .. } => links
            .resolve(&bootstrap)
            .ok()
            .and_then(|to| file_mode(&to))
            .or(Some(0)),
        Node::Dir => None,
    }
}

/// What the plan needs from one central-directory record, copied out so the archive can be
/// read again (for symlink targets) while it is in use.
struct EntryMeta {
    shown: String,
    raw_name: Vec<u8>,
    name: String,
    unix_mode: Option<u32>,
    unix_system: bool,
    is_dir: bool,
    size: u64,
}

impl EntryMeta {
    fn read(archive: &Archive<'_>, index: usize) -> Result<Self, PackageError> {
        let entry = archive
            .by_index_data(index)
            .map_err(PackageError::not_a_zip)?;
        Ok(Self {
            shown: String::from_utf8_lossy(entry.name_raw()).into_owned(),
            raw_name: entry.name_raw().to_vec(),
            name: entry.name().map_err(PackageError::not_a_zip)?.into_owned(),
            unix_mode: entry.unix_mode(),
            unix_system: entry.system() == zip::System::Unix,
            is_dir: entry.is_dir(),
            size: entry.size(),
        })
    }
}

/// Adds `node` at `path`, creating missing parents as directories and refusing clashes.
fn insert(
    nodes: &mut BTreeMap<Components, Node>,
    path: Components,
    node: Node,
) -> Result<(), EntryProblem> {
    if path.is_empty() {
        return Err(EntryProblem::EmptyName);
    }
    for end in 1..path.len() {
        let parent = &path[..end];
        match nodes.get(parent) {
            Some(Node::Dir) => {}
            Some(Node::File { .. }) => return Err(EntryProblem::InsideFile(parent.join("/"))),
            Some(Node::Symlink { .. }) => {
                return Err(EntryProblem::ThroughSymlink(parent.join("/")));
            }
            None => {
                nodes.insert(parent.to_vec(), Node::Dir);
            }
        }
    }
    match nodes.get(&path) {
        None => {
            nodes.insert(path, node);
            Ok(())
        }
        Some(Node::Dir) if node == Node::Dir => Ok(()),
        Some(_) => Err(EntryProblem::Duplicate),
    }
}

/// Reads a symlink entry's target: small, utf-8, and counted against the budget.
fn read_target(
    archive: &mut Archive<'_>,
    index: usize,
    path: &[String],
    size: u64,
    budget: &mut Budget,
) -> Result<String, PackageError> {
    let shown = path.join("/");
    if size > entry::MAX_LINK_TARGET as u64 {
        return Err(PackageError::unsafe_entry(shown, EntryProblem::BadTarget));
    }
    let mut bytes = Vec::new();
    copy_entry(archive, index, path, size, budget, &mut bytes, nowhere())?;
    let mut target = String::new();
    bytes
        .as_slice()
        .read_to_string(&mut target)
        .map_err(|_| PackageError::unsafe_entry(shown, EntryProblem::BadTarget))?;
    Ok(target)
}

#[cfg(test)]
mod tests;
