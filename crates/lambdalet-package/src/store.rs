//! The content-addressed code store: each zip kept once, unpacked once, by SHA-256.
//!
//! Layout under the root: `blobs/<sha256hex>.zip` (the uploaded bytes), `code/<sha256hex>/`
//! (the unpacked tree sandboxes run from) and `tmp/` (work in progress, cleared on open).
//! A code directory only ever appears after its blob, both by rename from `tmp/`, so a reader
//! never sees half of either. The store does not know which functions use which hash: the
//! caller says what to keep in [`CodeStore::remove_unreferenced`].

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::atomic::{self, TempPath, exists, rename_synced, temp_name, write_synced};
use crate::plan::{self, Archive, Plan};
use crate::{Limits, PackageError, ZipSummary, sha256, unpack};

/// Where a zip went once it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub sha256_hex: String,
    /// The digest as the Lambda API reports it (`CodeSha256`).
    pub sha256_base64: String,
    /// Size of the zip in bytes (`CodeSize`).
    pub size: u64,
    /// The unpacked code, `<root>/code/<sha256hex>`.
    pub dir: PathBuf,
    pub summary: ZipSummary,
}

/// Zips and unpacked code on disk. Cheap to share between threads (`&CodeStore`); every
/// method is safe to call concurrently, including for the same zip. Only one process may
/// use a root at a time: [`CodeStore::open`] clears `tmp/`.
#[derive(Debug)]
pub struct CodeStore {
    root: PathBuf,
    limits: Limits,
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

    /// `<root>/blobs/<sha256hex>.zip`. Pass only hashes from [`StoredCode::sha256_hex`].
    pub fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        self.blobs().join(format!("{sha256_hex}.zip"))
    }

    /// `<root>/code/<sha256hex>`. Pass only hashes from [`StoredCode::sha256_hex`].
    pub fn code_dir(&self, sha256_hex: &str) -> PathBuf {
        self.code().join(sha256_hex)
    }

    /// Validates the zip (size, entries, unzipped total), stores its blob and unpacks it,
    /// skipping either step when it was done before. On error nothing new is left behind.
    #[tracing::instrument(name = "package.put_zip", skip_all, fields(size = bytes.len()))]
    pub fn put_zip(&self, bytes: &[u8]) -> Result<StoredCode, PackageError> {
        let mut archive = plan::open(bytes, &self.limits)?;
        let plan = Plan::read(&mut archive, &self.limits)?;
        let (sha256_hex, sha256_base64) = sha256(bytes);
        let blob = self.blob_path(&sha256_hex);
        if !exists(&blob)? {
            let tmp = TempPath::new(self.tmp().join(temp_name(&sha256_hex)));
            write_synced(tmp.path(), bytes)?;
            rename_synced(tmp.path(), &blob).map_err(PackageError::io("store", &blob))?;
            tmp.keep();
        }
        let dir = self.unpack_once(&sha256_hex, &mut archive, &plan)?;
        Ok(StoredCode {
            sha256_hex,
            sha256_base64,
            size: bytes.len() as u64,
            dir,
            summary: plan.summary,
        })
    }

    /// Re-unpacks from the blob if the code dir is missing (e.g. someone deleted it).
    #[tracing::instrument(name = "package.ensure_unpacked", skip(self))]
    pub fn ensure_unpacked(&self, sha256_hex: &str) -> Result<PathBuf, PackageError> {
        check_hash(sha256_hex)?;
        let dir = self.code_dir(sha256_hex);
        if exists(&dir)? {
            return Ok(dir);
        }
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
        let mut archive = plan::open(&bytes, &self.limits)?;
        let plan = Plan::read(&mut archive, &self.limits)?;
        self.unpack_once(sha256_hex, &mut archive, &plan)
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
            let dir = self.code_dir(hash);
            if exists(&dir)? {
                // Move it out of sight first, so no reader ever sees a half-deleted tree.
                let doomed = TempPath::new(self.tmp().join(temp_name(hash)));
                fs::rename(&dir, doomed.path()).map_err(PackageError::io("remove", &dir))?;
                atomic::remove_any(doomed.path()).map_err(PackageError::io("remove", &dir))?;
            }
            let blob = self.blob_path(hash);
            atomic::remove_any(&blob).map_err(PackageError::io("remove", &blob))?;
            tracing::info!(sha256 = %hash, "removed unreferenced code");
            removed += 1;
        }
        if removed > 0 {
            atomic::sync_dir(&self.code())?;
            atomic::sync_dir(&self.blobs())?;
        }
        Ok(removed)
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
