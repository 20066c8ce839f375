//! Everything that can go wrong loading, finding or removing an image. Messages name the
//! file, layer or entry and say what to do; [`LayerEntryProblem`] reads after
//! `layer N entry "<name>"`.

use std::io;
use std::path::PathBuf;

use lambdalet_core::{ErrorCode, HasErrorCode};

const GIB: u64 = 1024 * 1024 * 1024;

/// Why one entry of a layer was refused. Each reads after `layer N entry "<name>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerEntryProblem {
    #[error("contains a NUL byte")]
    Nul,
    #[error("has a '..' component that climbs above the image root")]
    ParentDir,
    #[error("has a path component longer than 255 bytes")]
    ComponentTooLong,
    #[error("has a path longer than 4095 bytes")]
    PathTooLong,
    #[error("names the image root itself but is not a directory")]
    RootNotDir,
    #[error("is inside {0:?}, which is a symlink; entries must not be written through symlinks")]
    ThroughSymlink(String),
    #[error("is inside {0:?}, which is not a directory")]
    InsideFile(String),
    #[error("is a symlink without a target, or with a target over 4095 bytes")]
    BadSymlink,
    #[error("is a hard link to {0:?}, which climbs above the image root")]
    HardLinkEscapes(String),
    #[error("is a hard link to {0:?}, which no earlier entry created")]
    HardLinkMissing(String),
    #[error("is a hard link to {0:?}, which is a directory")]
    HardLinkToDir(String),
    #[error("is a hard link to {target:?}, which is inside {parent:?}, a symlink")]
    HardLinkThroughSymlink { target: String, parent: String },
    #[error("is inside {0:?}, a whiteout name, which cannot be a directory")]
    InsideWhiteout(String),
    #[error("is a whiteout without a name to remove")]
    EmptyWhiteout,
    #[error("has a uid or gid that does not fit in 32 bits")]
    BadOwner,
    #[error("has tar entry type {0:?}, which images do not use")]
    UnsupportedType(char),
}

/// Why an image could not be loaded, found or removed. Mistakes in the archive map to
/// `InvalidParameterValueException`, failures of the store to `ServiceException`.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "{path} is not an image archive ({detail}): pass the tar file `docker save` writes, \
         or an OCI image layout packed in a tar"
    )]
    NotAnArchive { path: PathBuf, detail: String },

    #[error(
        "the image archive {path} is {compression}-compressed: decompress it first (for \
         example `gunzip image.tar.gz`) and load the plain tar"
    )]
    CompressedArchive {
        path: PathBuf,
        compression: &'static str,
    },

    #[error(
        "could not read the image archive {path}: {source}; check that the file exists, is \
         readable and is complete"
    )]
    ReadArchive { path: PathBuf, source: io::Error },

    #[error(
        "the image archive has no file {file:?}, which {needed_by} names: the archive is \
         incomplete; save the image again"
    )]
    MissingFile { file: String, needed_by: String },

    #[error(
        "{file} in the image archive is not valid ({detail}): the archive is damaged or was \
         not written by docker save or an OCI tool; save the image again"
    )]
    BadJson { file: String, detail: String },

    #[error(
        "the image archive holds no image (its manifest lists none): save an image into it \
         again"
    )]
    NoImage,

    #[error(
        "the image archive holds {} images ({}): load one of them by name",
        names.len(),
        names.join(", ")
    )]
    SeveralImages { names: Vec<String> },

    #[error("the image archive has no image named {name:?}; it holds: {}", available.join(", "))]
    NameNotInArchive {
        name: String,
        available: Vec<String>,
    },

    #[error(
        "{file} in the image archive does not match its digest (expected sha256:{expected}, \
         it hashes to sha256:{actual}): the archive is damaged or was altered; save the \
         image again"
    )]
    DigestMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    #[error(
        "{file} in the image archive is {actual} bytes but its manifest says {expected}: the \
         archive is damaged or was altered; save the image again"
    )]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "layer {layer} ({file}) unpacks to a tar with sha256:{actual}, but the image config \
         lists sha256:{expected}: the archive is damaged or was altered; save the image again"
    )]
    DiffIdMismatch {
        layer: usize,
        file: String,
        expected: String,
        actual: String,
    },

    #[error(
        "the image config lists {diff_ids} layers but the manifest has {layers}: the archive \
         is inconsistent; save the image again"
    )]
    LayerCount { diff_ids: usize, layers: usize },

    #[error("{what} {value:?} is not supported: {hint}")]
    Unsupported {
        what: &'static str,
        value: String,
        hint: &'static str,
    },

    #[error(
        "layer {layer} ({file}) is not a valid layer ({detail}): the archive is damaged; save \
         the image again"
    )]
    CorruptLayer {
        layer: usize,
        file: String,
        detail: String,
    },

    #[error(
        "layer {layer} entry {entry:?} {problem}: the image cannot be unpacked safely; \
         rebuild it without that entry"
    )]
    UnsafeEntry {
        layer: usize,
        entry: String,
        problem: LayerEntryProblem,
    },

    #[error(
        "the image unpacks to more than {limit} bytes ({:.1} GiB) of files: make the image \
         smaller, or raise max_unpacked_bytes in the image limits if the device has room",
        *limit as f64 / GIB as f64
    )]
    TooLarge { limit: u64 },

    #[error(
        "the image has more than {limit} entries: make the image smaller, or raise \
         max_entries in the image limits"
    )]
    TooManyEntries { limit: u64 },

    #[error(
        "could not {action} {path}: {source}; check that lambdalet's data directory is \
         writable and has free space"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error(
        "{reference:?} is not an image reference: give an image id (64 hex digits, with or \
         without sha256:), at least 12 of its first digits, or a name such as repo:tag"
    )]
    InvalidReference { reference: String },

    #[error(
        "image id prefix {prefix:?} matches {} images ({}): give more digits",
        matches.len(),
        matches.join(", ")
    )]
    AmbiguousPrefix {
        prefix: String,
        matches: Vec<String>,
    },

    #[error("the image record {path} is damaged ({detail}): remove the image and load it again")]
    BadRecord { path: PathBuf, detail: String },
}

impl ImageError {
    /// A closure for `map_err` that records what was being done to which path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn bad_json(file: &str, detail: impl ToString) -> Self {
        Self::BadJson {
            file: file.to_owned(),
            detail: detail.to_string(),
        }
    }
}

impl HasErrorCode for ImageError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Io { .. } | Self::BadRecord { .. } => ErrorCode::Service,
            _ => ErrorCode::InvalidParameterValue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_limit_message_names_the_limit_and_how_to_raise_it() {
        let e = ImageError::TooLarge { limit: 10 * GIB };
        let text = e.to_string();
        assert!(text.contains("10737418240 bytes (10.0 GiB)"), "{text}");
        assert!(text.contains("raise max_unpacked_bytes"), "{text}");
        // Too big for Lambda is a bad parameter; CodeStorageExceeded is the account's total.
        assert_eq!(e.error_code(), ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn an_unsafe_entry_names_the_layer_and_the_entry() {
        let e = ImageError::UnsafeEntry {
            layer: 2,
            entry: "etc/x".into(),
            problem: LayerEntryProblem::ThroughSymlink("etc".into()),
        };
        assert!(
            e.to_string()
                .starts_with("layer 2 entry \"etc/x\" is inside \"etc\", which is a symlink")
        );
        assert_eq!(e.error_code(), ErrorCode::InvalidParameterValue);
    }
}
