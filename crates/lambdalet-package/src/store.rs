//! The content-addressed code store: each zip kept once, unpacked once, by SHA-256.
//!
//! Layout under the root: `blobs/<sha256hex>.zip` (the uploaded bytes), `code/<sha256hex>/`
//! (the unpacked tree sandboxes run from) and `tmp/` (work in progress, cleared on open).
//! A code directory only ever appears after its blob, both by rename from `tmp/`, so a reader
//! never sees half of either. The store does not know which functions use which hash: the
//! caller says what to keep in [`CodeStore::remove_unreferenced`], and what it stored but will
//! not use in [`CodeStore::discard`]; each stored zip comes with a [`CodePin`] that keeps its
//! hash from both until the caller has recorded that it uses it (see `pins.rs`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::atomic::{self, TempPath, exists, rename_synced, temp_name, write_synced};
use crate::plan::{self, Archive, Plan};
use crate::{Limits, PackageError, ZipSummary, sha256, unpack};

pub use pins::CodePin;

mod pins;

/// Where a zip went once it was accepted. While it lives, its pin keeps the hash from being
/// removed.
#[derive(Debug)]
pub struct StoredCode {
    pub sha256_hex: String,
    /// The digest as the Lambda API reports it (`CodeSha256`).
    pub sha256_base64: String,
    /// Size of the zip in bytes (`CodeSize`).
    pub size: u64,
    /// The unpacked code, `<root>/code/<sha256hex>`.
    pub dir: PathBuf,
    pub summary: ZipSummary,
    pub pin: CodePin,
}

/// Code that [`CodeStore::discard`] moved out of sight, deleted when dropped. A big tree takes
/// a while to delete: drop it off the async threads, and outside any lock.
#[derive(Debug)]
#[must_use = "dropping it deletes the tree; keep it to choose where that happens"]
pub struct Discarded(#[allow(dead_code, reason = "held for its Drop")] TempPath);

/// Zips and unpacked code on disk. Cheap to share between threads (`&CodeStore`); every
/// method is safe to call concurrently, including for the same zip. Only one process may
/// use a root at a time: [`CodeStore::open`] clears `tmp/`.
#[derive(Debug)]
pub struct CodeStore {
    root: PathBuf,
    limits: Limits,
    pins: Arc<pins::Pins>,
    /// What each zip unpacks to, as [`CodeStore::unzipped_size`] found it.
    sizes: Mutex<HashMap<String, u64>>,
}

impl CodeStore {
    /// Opens (creating) `<root>/blobs`, `<root>/code` and `<root>/tmp`; clears leftovers in tmp.
    pub fn open(root: &Path) -> Result<Self, PackageError> {
        Self::open_with(root, Limits::AWS)
    }

    pub(crate) fn open_with(root: &Path, limits: Limits) -> Result<Self, PackageError> {
        let store = Self {
            root: root.to_path_buf(),
            limits,
            pins: Arc::default(),
            sizes: Mutex::default(),
        };
        for dir in [store.blobs(), store.code(), store.tmp()] {
            fs::create_dir_all(&dir).map_err(PackageError::io("create directory", &dir))?;
        }
        let tmp = store.tmp();
        for entry in fs::read_dir(&tmp).map_err(PackageError::io("list", &tmp))? {
            let path = entry.map_err(PackageError::io("list", &tmp))?.path();
            atomic::remove_any(&path).map_err(PackageError::io("remove leftover", &path))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes free for the code store on its file system (for an unprivileged writer), if the
    /// system says.
    pub fn available_bytes(&self) -> Option<u64> {
        let s = nix::sys::statvfs::statvfs(&self.root).ok()?;
        // Both are 32 bits on 32-bit ARM (fsblkcnt_t, unsigned long), 64 elsewhere.
        let (blocks, size) = (s.blocks_available() as u64, s.fragment_size() as u64);
        Some(blocks.saturating_mul(size))
    }

    /// `<root>/blobs/<sha256hex>.zip`. Pass only hashes from [`StoredCode::sha256_hex`].
    pub fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        self.blobs().join(format!("{sha256_hex}.zip"))
    }

    /// `<root>/code/<sha256hex>`. Pass only hashes from [`StoredCode::sha256_hex`].
    pub fn code_dir(&self, sha256_hex: &str) -> PathBuf {
        self.code().join(sha256_hex)
    }

    /// Validates the zip (size, entries, unzipped total), stores its blob and unpacks it,
    /// skipping either step when it was done before. On error nothing new is left behind. The
    /// answer's pin keeps the hash from removal until the caller drops it, having recorded its
    /// use (or [`Self::discard`]s it).
    #[tracing::instrument(name = "package.put_zip", skip_all, fields(size = bytes.len()))]
    pub fn put_zip(&self, bytes: &[u8]) -> Result<StoredCode, PackageError> {
        self.put_zip_within(bytes, self.limits)
    }

    /// As [`Self::put_zip`], for a zip that came from an S3 bucket: AWS takes those up to the
    /// unzipped limit (250 MB), not the 50 MB of a direct upload.
    pub fn put_zip_from_bucket(&self, bytes: &[u8]) -> Result<StoredCode, PackageError> {
        let limits = Limits {
            zip_bytes: self.limits.unzipped_bytes.max(self.limits.zip_bytes),
            ..self.limits
        };
        self.put_zip_within(bytes, limits)
    }

    fn put_zip_within(&self, bytes: &[u8], limits: Limits) -> Result<StoredCode, PackageError> {
        let mut archive = plan::open(bytes, &limits)?;
        let plan = Plan::read(&mut archive, &limits)?;
        let (sha256_hex, sha256_base64) = sha256(bytes);
        // Before looking at what exists: a removal now either happened already or skips it.
        let pin = self.pins.pin(&sha256_hex);
        let blob = self.blob_path(&sha256_hex);
        if !exists(&blob)? {
            let tmp = TempPath::new(self.tmp().join(temp_name(&sha256_hex)));
            write_synced(tmp.path(), bytes)?;
            rename_synced(tmp.path(), &blob).map_err(PackageError::io("store", &blob))?;
            tmp.keep();
        }
        let dir = self.unpack_once(&sha256_hex, &mut archive, &plan)?;
        self.remember_size(&sha256_hex, plan.summary.unzipped_bytes);
        Ok(StoredCode {
            sha256_hex,
            sha256_base64,
            size: bytes.len() as u64,
            dir,
            summary: plan.summary,
            pin,
        })
    }

    /// Removes the blob and code of a zip the caller stored but will not use (a deploy refused
    /// after the upload), unless another caller holds a pin on the same hash. The caller must
    /// know that no function version uses the hash, and keep that true until this returns (hold
    /// the lock under which uses are recorded). Only the renames happen here; the tree is
    /// deleted when the answer is dropped. `None` when the hash is someone else's too.
    #[tracing::instrument(name = "package.discard", skip_all, fields(sha256 = %code.sha256_hex))]
    pub fn discard(&self, code: StoredCode) -> Result<Option<Discarded>, PackageError> {
        let pins = self.pins.lock();
        if pins.get(&code.sha256_hex).copied().unwrap_or(0) > 1 {
            return Ok(None);
        }
        let hidden = self.hide(&code.sha256_hex)?;
        drop(pins);
        // Its pin goes now, after the table's lock (dropping a pin takes it).
        drop(code);
        Ok(Some(Discarded(hidden)))
    }

    /// Re-unpacks from the blob if the code dir is missing (e.g. someone deleted it).
    #[tracing::instrument(name = "package.ensure_unpacked", skip(self))]
    pub fn ensure_unpacked(&self, sha256_hex: &str) -> Result<PathBuf, PackageError> {
        check_hash(sha256_hex)?;
        let dir = self.code_dir(sha256_hex);
        if exists(&dir)? {
            return Ok(dir);
        }
        let bytes = self.read_blob(sha256_hex)?;
        let mut archive = plan::open(&bytes, &self.limits)?;
        let plan = Plan::read(&mut archive, &self.limits)?;
        self.remember_size(sha256_hex, plan.summary.unzipped_bytes);
        self.unpack_once(sha256_hex, &mut archive, &plan)
    }

    /// What the stored zip of `sha256_hex` unpacks to, in bytes: a function's share of the
    /// unzipped size it shares with its layers. Read from the zip's listing the first time
    /// (without unpacking anything), then remembered.
    pub fn unzipped_size(&self, sha256_hex: &str) -> Result<u64, PackageError> {
        check_hash(sha256_hex)?;
        let known = self
            .sizes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sha256_hex)
            .copied();
        if let Some(n) = known {
            return Ok(n);
        }
        let bytes = self.read_blob(sha256_hex)?;
        let mut archive = plan::open(&bytes, &self.limits)?;
        let n = Plan::read(&mut archive, &self.limits)?
            .summary
            .unzipped_bytes;
        self.remember_size(sha256_hex, n);
        Ok(n)
    }

    fn remember_size(&self, sha256_hex: &str, unzipped: u64) {
        self.sizes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sha256_hex.to_owned(), unzipped);
    }

    /// The stored zip of `sha256_hex`, checked against its hash.
    fn read_blob(&self, sha256_hex: &str) -> Result<Vec<u8>, PackageError> {
        let blob = self.blob_path(sha256_hex);
        let bytes = fs::read(&blob).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PackageError::BlobMissing {
                hash: sha256_hex.to_owned(),
                path: blob.clone(),
            },
            _ => PackageError::io("read", &blob)(e),
        })?;
        let (actual, _) = sha256(&bytes);
        if actual != sha256_hex {
            return Err(PackageError::BlobCorrupt { path: blob, actual });
        }
        Ok(bytes)
    }

    /// Deletes blobs and code dirs whose hash is not in `keep`; returns how many hashes were
    /// removed. Names in `blobs/` and `code/` that are not hashes are left alone. The caller
    /// must keep every hash a `put_zip` in flight may return.
    #[tracing::instrument(name = "package.remove_unreferenced", skip_all, fields(keep = keep.len()))]
    pub fn remove_unreferenced(&self, keep: &HashSet<String>) -> Result<usize, PackageError> {
        let mut stored = BTreeSet::new();
        for (dir, suffix) in [(self.blobs(), ".zip"), (self.code(), "")] {
            for entry in fs::read_dir(&dir).map_err(PackageError::io("list", &dir))? {
                let name = entry.map_err(PackageError::io("list", &dir))?.file_name();
                let hash = name.to_str().and_then(|n| n.strip_suffix(suffix));
                if let Some(hash) = hash.filter(|h| check_hash(h).is_ok()) {
                    stored.insert(hash.to_owned());
                }
            }
        }
        let mut removed = 0;
        for hash in stored.iter().filter(|h| !keep.contains(*h)) {
            let hidden = {
                let pins = self.pins.lock();
                if pins.contains_key(hash) {
                    continue;
                }
                self.hide(hash)?
            };
            drop(hidden);
            tracing::info!(sha256 = %hash, "removed unreferenced code");
            removed += 1;
        }
        if removed > 0 {
            atomic::sync_dir(&self.code())?;
            atomic::sync_dir(&self.blobs())?;
        }
        Ok(removed)
    }

    /// Moves `code/<hash>` into `tmp/` (so no reader ever sees a half-deleted tree) and removes
    /// the blob; the tree goes when the answer is dropped.
    fn hide(&self, hash: &str) -> Result<TempPath, PackageError> {
        let dir = self.code_dir(hash);
        let doomed = TempPath::new(self.tmp().join(temp_name(hash)));
        match fs::rename(&dir, doomed.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(PackageError::io("remove", &dir)(e));
            }
            _ => {}
        }
        let blob = self.blob_path(hash);
        atomic::remove_any(&blob).map_err(PackageError::io("remove", &blob))?;
        Ok(doomed)
    }

    /// Unpacks into `code/<hash>` unless it exists; a concurrent caller may win the race.
    fn unpack_once(
        &self,
        hash: &str,
        archive: &mut Archive<'_>,
        plan: &Plan,
    ) -> Result<PathBuf, PackageError> {
        let dir = self.code_dir(hash);
        if exists(&dir)? {
            return Ok(dir);
        }
        let tmp = TempPath::new(self.tmp().join(temp_name(hash)));
        fs::create_dir(tmp.path()).map_err(PackageError::io("create directory", tmp.path()))?;
        unpack::unpack(archive, plan, tmp.path(), &self.limits)?;
        match rename_synced(tmp.path(), &dir) {
            Ok(()) => {
                tmp.keep();
                tracing::info!(sha256 = %hash, entries = plan.summary.entries, "unpacked code");
            }
            // Another caller renamed the same tree into place first; ours is dropped.
            Err(_) if exists(&dir)? => {}
            Err(e) => return Err(PackageError::io("move into place", &dir)(e)),
        }
        Ok(dir)
    }

    fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    fn code(&self) -> PathBuf {
        self.root.join("code")
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

/// A code hash is 64 lowercase hex digits; anything else could name a path outside the store.
fn check_hash(hash: &str) -> Result<(), PackageError> {
    let ok = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(PackageError::InvalidHash {
            hash: hash.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
