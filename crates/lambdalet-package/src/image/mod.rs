//! Container-image functions: a saved image, checked and unpacked once into a root file
//! system addressed by its image id.
//!
//! [`ImageStore::load`] reads the archive `docker save` writes (legacy or Docker ≥ 25) or an
//! OCI image layout tarball, picks the image in it, verifies every blob against its digest
//! and every layer against the config's diff ids, applies the layers in order under the
//! whiteout rules, and renames the finished tree to `rootfs/<id>`, where the id is the
//! config's sha256 (Docker's image id). A layer is hostile input: the rules that keep it
//! inside its tree are in [`apply`](self::apply).
//!
//! This module does not pull from registries, know about functions, or run anything: the
//! daemon maps a function to an image id and hands the sandbox [`LoadedImage::rootfs`] and
//! [`LoadedImage::config`].

mod apply;
mod archive;
mod config;
mod digest;
mod error;
mod layer;
mod manifest;
mod names;
mod oci;
mod path;
mod record;
mod store;
mod tree;
mod zstd;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use config::ImageConfig;
pub use error::{ImageError, LayerEntryProblem};
pub use names::MIN_ID_PREFIX;
pub use store::ImageStore;

/// Lambda's limit on an image's unpacked size, all layers together (spec §3): 10 GiB.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// Default limit on the entries of all layers together.
pub const MAX_IMAGE_ENTRIES: u64 = 1_000_000;

/// How much a load may unpack. Both are running totals over all layers, checked as the
/// data arrives: bytes written to regular files (a file that a later layer replaces still
/// counts), and tar entries of any kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_unpacked_bytes: u64,
    pub max_entries: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_unpacked_bytes: MAX_IMAGE_BYTES,
            max_entries: MAX_IMAGE_ENTRIES,
        }
    }
}

/// What a load is doing, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes of layer blobs read (and hashed and applied) so far, of all layers' total.
    Reading { done: u64, total: u64 },
    /// Layer `index` (from 1) of `count` starts; its blob is `bytes` long.
    Layer {
        index: usize,
        count: usize,
        bytes: u64,
    },
    /// The image is stored (or was already).
    Done,
}

/// A stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The config blob's sha256, as 64 hex digits: Docker's image id.
    pub id: String,
    /// Repo tags or reference names recorded when it was loaded.
    pub names: Vec<String>,
    /// The unpacked tree, `<root>/rootfs/<id>`.
    pub rootfs: PathBuf,
    pub config: ImageConfig,
    /// Bytes of regular files in the tree (hard links counted once).
    pub size_bytes: u64,
    /// How many layers it was made from.
    pub layers: usize,
    /// Device nodes and FIFOs in the layers that were not created.
    pub skipped_special_files: u64,
}
