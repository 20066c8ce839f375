//! The image store: each image unpacked once, by id, with a record of what it is.
//!
//! Layout under the root: `rootfs/<id>/` (the tree a sandbox runs), `images/<id>.json` (its
//! [`Record`]) and `tmp/` (work in progress, cleared on open). A tree is built in `tmp/`,
//! synced, and renamed into `rootfs/`; its record is written after, so a record always has a
//! whole tree. Two loads of one image race only at that rename, and the loser throws its
//! copy away. Records change under one lock, so tags move between images without loss.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::apply::Extractor;
use super::archive::ArchiveIndex;
use super::config::parse_config;
use super::digest::sha256_hex;
use super::layer::{LayerBlob, apply_layer};
use super::manifest::{candidates, pick};
use super::names::normalize_name;
use super::oci::read_verified;
use super::record::{self, Record};
use super::tree::{TempTree, remove_tree};
use super::{ImageError, ImageLimits, LoadedImage, Progress};
use crate::atomic::{rename_synced, temp_name};

mod lookup;

/// How often, in raw bytes read, a load reports [`Progress::Reading`].
const PROGRESS_STEP: u64 = 4 * 1024 * 1024;

/// Unpacked images on disk. Share it between threads (`&ImageStore`); only one process may
/// use a root at a time, since [`ImageStore::open`] clears `tmp/`.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    records: Mutex<()>,
    limits: ImageLimits,
}

impl ImageStore {
    /// Opens (creating) `<root>/rootfs`, `<root>/images` and `<root>/tmp`, and clears
    /// whatever an interrupted load left in `tmp/`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let store = Self {
            root: root.to_path_buf(),
            records: Mutex::new(()),
            limits: ImageLimits::default(),
        };
        for dir in [store.rootfs_dir(), store.records_dir(), store.tmp()] {
            fs::create_dir_all(&dir).map_err(ImageError::io("create directory", &dir))?;
        }
        let tmp = store.tmp();
        for entry in fs::read_dir(&tmp).map_err(ImageError::io("list", &tmp))? {
            let path = entry.map_err(ImageError::io("list", &tmp))?.path();
            remove_tree(&path).map_err(ImageError::io("remove leftover", &path))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This store with `limits` as the limits its owner loads with ([`Self::limits`]).
    pub fn with_limits(self, limits: ImageLimits) -> Self {
        Self { limits, ..self }
    }

    /// The limits a load into this store should use (the daemon's `--max-image-size`).
    pub fn limits(&self) -> ImageLimits {
        self.limits
    }

    /// Loads the one image in `archive` (see [`Self::load_named`] for archives with several).
    ///
    /// An image already stored is not unpacked again, only given the archive's names: its id
    /// is its config's hash, and the stored tree was checked against that config's diff ids
    /// when it was first loaded. On error nothing new is left behind. Blocking and long (it
    /// reads and writes the whole image): call it from a blocking thread.
    pub fn load(
        &self,
        archive: &Path,
        limits: ImageLimits,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<LoadedImage, ImageError> {
        self.load_inner(archive, None, limits, progress)
    }

    /// Loads the image called `name` (a repo tag, reference name or id) from `archive`.
    pub fn load_named(
        &self,
        archive: &Path,
        name: &str,
        limits: ImageLimits,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<LoadedImage, ImageError> {
        self.load_inner(archive, Some(name), limits, progress)
    }

    #[tracing::instrument(name = "package.image_load", skip_all, fields(archive = %archive.display()))]
    fn load_inner(
        &self,
        archive: &Path,
        name: Option<&str>,
        limits: ImageLimits,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<LoadedImage, ImageError> {
        let index = ArchiveIndex::scan(archive)?;
        let image = pick(candidates(&index)?, name)?;
        let config_bytes = read_verified(&index, &image.config, "the manifest")?;
        let id = sha256_hex(&config_bytes);
        let parsed = parse_config(&config_bytes, &image.config.file)?;
        if parsed.diff_ids.len() != image.layers.len() {
            return Err(ImageError::LayerCount {
                diff_ids: parsed.diff_ids.len(),
                layers: image.layers.len(),
            });
        }
        if let Some(loaded) = self.add_names_if_stored(&id, &image.names)? {
            progress(Progress::Done);
            return Ok(loaded);
        }
        let mut members = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            let member = index.require(&layer.file, "the manifest")?;
            if let Some(expected) = layer.size.filter(|s| *s != member.size) {
                return Err(ImageError::SizeMismatch {
                    file: layer.file.clone(),
                    expected,
                    actual: member.size,
                });
            }
            members.push(member);
        }
        let total: u64 = members.iter().map(|m| m.size).sum();
        let tree = super::tree::temp_tree(self.tmp().join(temp_name(&id)));
        fs::create_dir(tree.path()).map_err(ImageError::io("create directory", tree.path()))?;
        let as_root = nix::unistd::geteuid().is_root();
        let mut extractor = Extractor::new(tree.path(), limits, as_root);
        let count = image.layers.len();
        let mut done = 0;
        progress(Progress::Reading { done, total });
        for (i, (layer, member)) in image.layers.iter().zip(&members).enumerate() {
            progress(Progress::Layer {
                index: i + 1,
                count,
                bytes: member.size,
            });
            extractor.begin_layer(i + 1, &layer.file);
            let blob = LayerBlob {
                index: i + 1,
                file: &layer.file,
                media_type: layer.media_type.as_deref(),
                digest: layer.digest.as_ref(),
                diff_id: &parsed.diff_ids[i],
                size: member.size,
            };
            let mut reported = 0;
            apply_layer(index.open(*member)?, &blob, &mut extractor, &mut |read| {
                if read >= reported + PROGRESS_STEP || read == member.size {
                    reported = read;
                    progress(Progress::Reading {
                        done: done + read,
                        total,
                    });
                }
            })?;
            done += member.size;
        }
        let summary = extractor.finish()?;
        sync_filesystem(tree.path())?;
        let record = Record {
            id: id.clone(),
            names: image.names,
            config: parsed.config,
            size_bytes: summary.size_bytes,
            layers: count,
            skipped_special_files: summary.skipped_special,
        };
        let loaded = self.install(tree, record)?;
        tracing::info!(image = %id, layers = count, bytes = loaded.size_bytes, "loaded image");
        progress(Progress::Done);
        Ok(loaded)
    }

    /// When the image is stored already, records `names` for it and returns it.
    fn add_names_if_stored(
        &self,
        id: &str,
        names: &[String],
    ) -> Result<Option<LoadedImage>, ImageError> {
        let _records = self
            .records
            .lock()
            .expect("the records lock is never poisoned");
        let Some(mut record) = record::read(&self.record_path(id))? else {
            return Ok(None);
        };
        if !self.rootfs_path(id).is_dir() {
            return Ok(None);
        }
        record.names = merge_names(record.names, names);
        self.save_with_names(&record)?;
        Ok(Some(record.into_loaded(self.rootfs_path(id))))
    }

    /// Renames the built tree into place (or drops it, when a concurrent load won) and writes
    /// the record.
    fn install(&self, tree: TempTree, mut record: Record) -> Result<LoadedImage, ImageError> {
        let target = self.rootfs_path(&record.id);
        let records = self
            .records
            .lock()
            .expect("the records lock is never poisoned");
        let loser = match rename_synced(tree.path(), &target) {
            Ok(()) => {
                tree.keep();
                None
            }
            Err(_) if target.is_dir() => Some(tree),
            Err(e) => return Err(ImageError::io("move into place", &target)(e)),
        };
        if let Some(existing) = record::read(&self.record_path(&record.id))? {
            record.names = merge_names(existing.names, &record.names);
        }
        self.save_with_names(&record)?;
        drop(records);
        // A big tree takes a while to delete: outside the lock.
        drop(loser);
        Ok(record.into_loaded(target))
    }

    /// Writes `record`, taking its names away from any other image that had them. The caller
    /// holds the records lock.
    fn save_with_names(&self, record: &Record) -> Result<(), ImageError> {
        let taken: Vec<String> = record.names.iter().map(|n| normalize_name(n)).collect();
        for mut other in self.records()? {
            if other.id == record.id {
                continue;
            }
            let before = other.names.len();
            other.names.retain(|n| !taken.contains(&normalize_name(n)));
            if other.names.len() != before {
                record::write(&other, &self.record_path(&other.id), &self.tmp())?;
            }
        }
        record::write(record, &self.record_path(&record.id), &self.tmp())
    }

    /// Removes the image `id` (any reference [`Self::get`] takes): its record first, then its
    /// tree. `false` when there is no such image. The caller must know no sandbox runs it.
    #[tracing::instrument(name = "package.image_remove", skip(self))]
    pub fn remove(&self, id: &str) -> Result<bool, ImageError> {
        let Some(image) = self.get(id)? else {
            return Ok(false);
        };
        let doomed = super::tree::temp_tree(self.tmp().join(temp_name(&image.id)));
        {
            let _records = self
                .records
                .lock()
                .expect("the records lock is never poisoned");
            if !record::remove(&self.record_path(&image.id))? {
                return Ok(false);
            }
            match fs::rename(&image.rootfs, doomed.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ImageError::io("remove", &image.rootfs)(e));
                }
                _ => {}
            }
        }
        drop(doomed);
        tracing::info!(image = %image.id, "removed image");
        Ok(true)
    }

    /// Where the image `id`'s tree is (or would be).
    pub fn rootfs_path(&self, id: &str) -> PathBuf {
        self.rootfs_dir().join(id)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.records_dir().join(format!("{id}.json"))
    }

    fn rootfs_dir(&self) -> PathBuf {
        self.root.join("rootfs")
    }

    fn records_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

/// `old` names followed by the new ones it lacks.
fn merge_names(mut old: Vec<String>, new: &[String]) -> Vec<String> {
    for name in new {
        if !old
            .iter()
            .any(|o| normalize_name(o) == normalize_name(name))
        {
            old.push(name.clone());
        }
    }
    old
}

/// Writes the whole file system holding `path` to disk (one `syncfs`, not a sync per file).
fn sync_filesystem(path: &Path) -> Result<(), ImageError> {
    fs::File::open(path)
        .and_then(|dir| nix::unistd::syncfs(&dir).map_err(std::io::Error::from))
        .map_err(ImageError::io("sync the file system of", path))
}
