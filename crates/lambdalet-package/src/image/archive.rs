//! The image archive itself: a plain tar, indexed once so each blob can be read in place.
//!
//! `docker save` and OCI tools write an uncompressed tar of a few JSON files and one file per
//! blob. [`ArchiveIndex::scan`] lists it (seeking over the data, so a 5 GB archive is listed
//! in a moment) and records where each member's bytes lie; blobs are then read straight from
//! the archive file, with nothing copied to disk first. Members that are symlinks or hard
//! links (Docker ≥ 25 links its legacy `<id>/layer.tar` names to `blobs/sha256/<hex>`) are
//! followed inside the archive only.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::ImageError;
use super::digest::Allowance;
use super::layer::{Compression, sniff};
use super::path::normalize;

/// Members an image archive may have; real ones have a few per layer.
const MAX_MEMBERS: usize = 100_000;
/// Most bytes of headers (long names, PAX records) one member may have.
const MEMBER_HEADER_ALLOWANCE: u64 = 1024 * 1024;
/// How many links deep a member name may lead.
const MAX_LINK_DEPTH: usize = 16;

/// Where one member's bytes are in the archive file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub offset: u64,
    pub size: u64,
}

/// The members of an image archive, by normalized name (`blobs/sha256/<hex>`).
#[derive(Debug)]
pub(crate) struct ArchiveIndex {
    path: PathBuf,
    file: File,
    files: HashMap<String, Member>,
    /// Links, to the normalized name of what they point at.
    links: HashMap<String, String>,
}

impl ArchiveIndex {
    pub(crate) fn scan(path: &Path) -> Result<Self, ImageError> {
        let read_error = |source| ImageError::ReadArchive {
            path: path.to_path_buf(),
            source,
        };
        let not_archive = |detail: String| ImageError::NotAnArchive {
            path: path.to_path_buf(),
            detail,
        };
        let mut file = File::open(path).map_err(read_error)?;
        let mut magic = [0u8; 6];
        let got = read_up_to(&mut file, &mut magic).map_err(read_error)?;
        let compression = match sniff(&magic[..got]) {
            Ok(Compression::None) => None,
            Ok(Compression::Gzip) => Some("gzip"),
            Ok(Compression::Zstd) => Some("zstd"),
            Err(name) => Some(name),
        };
        if let Some(compression) = compression {
            return Err(ImageError::CompressedArchive {
                path: path.to_path_buf(),
                compression,
            });
        }
        file.seek(SeekFrom::Start(0)).map_err(read_error)?;
        // Member data is seeked over; what the tar reader reads is headers, long names and
        // PAX records, which it keeps in memory, so each member gets a small allowance.
        let allowance = Allowance::new();
        let reader = allowance.guard(BufReader::new(file.try_clone().map_err(read_error)?));
        let mut archive = tar::Archive::new(reader);
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        let mut entries = archive
            .entries_with_seek()
            .map_err(|e| not_archive(e.to_string()))?;
        loop {
            allowance.set(MEMBER_HEADER_ALLOWANCE);
            let Some(entry) = entries.next() else { break };
            let entry = entry.map_err(|e| not_archive(e.to_string()))?;
            if files.len() + links.len() >= MAX_MEMBERS {
                return Err(not_archive(format!(
                    "it has more than {MAX_MEMBERS} members"
                )));
            }
            let raw = entry.path_bytes();
            let Some(name) = member_name(&raw) else {
                return Err(not_archive(format!(
                    "member {:?} climbs out of the archive",
                    String::from_utf8_lossy(&raw)
                )));
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                let member = Member {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                };
                files.insert(name, member);
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry.link_name_bytes().unwrap_or_default();
                // A symlink is relative to its directory, a hard link to the archive root.
                let base = match name.rsplit_once('/') {
                    Some((dir, _)) if kind.is_symlink() => format!("{dir}/"),
                    _ => String::new(),
                };
                let joined = [base.as_bytes(), &target].concat();
                if let Some(target) = member_name(&joined) {
                    links.insert(name, target);
                }
            }
        }
        if files.is_empty() {
            return Err(not_archive("it has no files".into()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            files,
            links,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The member called `name` (`./` and leading `/` ignored), following links.
    pub(crate) fn member(&self, name: &str) -> Option<Member> {
        let mut name = member_name(name.as_bytes())?;
        for _ in 0..MAX_LINK_DEPTH {
            if let Some(member) = self.files.get(&name) {
                return Some(*member);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    /// Reads the whole of a small member (a manifest, an index, a config).
    pub(crate) fn read_small(&self, name: &str, needed_by: &str) -> Result<Vec<u8>, ImageError> {
        const MAX_JSON: u64 = 16 * 1024 * 1024;
        let member = self.require(name, needed_by)?;
        if member.size > MAX_JSON {
            return Err(ImageError::bad_json(
                name,
                format_args!(
                    "it is {} bytes; documents over {MAX_JSON} bytes are refused",
                    member.size
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(member.size as usize);
        self.open(member)?
            .read_to_end(&mut bytes)
            .map_err(|source| ImageError::ReadArchive {
                path: self.path.clone(),
                source,
            })?;
        if bytes.len() as u64 != member.size {
            return Err(self.truncated());
        }
        Ok(bytes)
    }

    pub(crate) fn require(&self, name: &str, needed_by: &str) -> Result<Member, ImageError> {
        self.member(name).ok_or_else(|| ImageError::MissingFile {
            file: name.to_owned(),
            needed_by: needed_by.to_owned(),
        })
    }

    /// A reader of exactly the member's bytes (fewer if the archive file is cut short). It
    /// reads at its own offset, so readers of different members never disturb each other.
    pub(crate) fn open(&self, member: Member) -> Result<MemberReader<'_>, ImageError> {
        Ok(MemberReader {
            file: &self.file,
            pos: member.offset,
            end: member.offset.saturating_add(member.size),
        })
    }

    fn truncated(&self) -> ImageError {
        ImageError::ReadArchive {
            path: self.path.clone(),
            source: io::ErrorKind::UnexpectedEof.into(),
        }
    }
}

/// A member name as `a/b/c`, or `None` if it climbs out of the archive.
fn member_name(raw: &[u8]) -> Option<String> {
    let parts = normalize(raw).ok()?;
    let parts: Vec<_> = parts.iter().map(|p| p.to_string_lossy()).collect();
    Some(parts.join("/"))
}

pub(crate) struct MemberReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for MemberReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
