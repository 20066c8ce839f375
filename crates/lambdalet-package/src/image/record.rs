//! `images/<id>.json`: what a load learned about an image, written whole or not at all.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ImageConfig, ImageError, LoadedImage};
use crate::atomic::{rename_synced, temp_name};

/// The stored form of a [`LoadedImage`] (its rootfs path is derived from the store's root).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub names: Vec<String>,
    pub config: ImageConfig,
    pub size_bytes: u64,
    pub layers: usize,
    #[serde(default)]
    pub skipped_special_files: u64,
}

impl Record {
    pub(crate) fn into_loaded(self, rootfs: PathBuf) -> LoadedImage {
        LoadedImage {
            id: self.id,
            names: self.names,
            rootfs,
            config: self.config,
            size_bytes: self.size_bytes,
            layers: self.layers,
            skipped_special_files: self.skipped_special_files,
        }
    }
}

/// Reads the record at `path`; `None` when there is none.
pub(crate) fn read(path: &Path) -> Result<Option<Record>, ImageError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ImageError::io("read", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ImageError::BadRecord {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// Writes `record` to `path` by way of a synced file in `tmp`, renamed into place.
pub(crate) fn write(record: &Record, path: &Path, tmp: &Path) -> Result<(), ImageError> {
    let bytes = serde_json::to_vec_pretty(record).expect("a record serializes");
    let staged = tmp.join(temp_name("record"));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        rename_synced(&staged, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&staged);
    }
    result.map_err(ImageError::io("write", path))
}

/// Removes the record at `path` and syncs its directory; `false` if there was none.
pub(crate) fn remove(path: &Path) -> Result<bool, ImageError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(ImageError::io("remove", path)(e)),
    }
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(ImageError::io("sync directory", dir))?;
    }
    Ok(true)
}
