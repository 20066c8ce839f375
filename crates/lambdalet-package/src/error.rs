//! Everything that can go wrong with a package, and the Lambda error code each failure
//! travels with. Messages name the limit, the entry or the path, and say what to do.

use std::io;
use std::path::PathBuf;

use lambdalet_core::{ErrorCode, HasErrorCode};

use crate::entry::EntryProblem;

const MB: u64 = 1024 * 1024;

/// Why a zip was refused, or why the code store could not do its work. Client mistakes map
/// to `InvalidParameterValueException` (or `RequestTooLargeException` for size), store
/// failures to `ServiceException`.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "zip file is {size} bytes; the limit for a direct upload is {limit} bytes ({} MB): \
         make the package smaller and upload it again",
        limit / MB
    )]
    ZipTooLarge { size: u64, limit: u64 },

    #[error(
        "the zip unpacks to {}{size} bytes; the limit for unzipped code is {limit} bytes \
         ({} MB): make the package smaller and upload it again",
        if *.exact { "" } else { "at least " },
        limit / MB
    )]
    UnzippedTooLarge {
        /// Bytes counted when the limit was hit (or the declared total, when `exact`).
        size: u64,
        limit: u64,
        /// `false` when extraction stopped early, so `size` is a lower bound.
        exact: bool,
    },

    #[error(
        "could not unzip the uploaded file ({detail}): check that it is a zip archive, \
         then upload it again"
    )]
    NotAZip { detail: String },

    #[error(
        "the uploaded zip file has no entries: add the function code to it and upload it again"
    )]
    EmptyZip,

    #[error("zip entry {entry:?} {problem}: fix the archive and upload it again")]
    UnsafeEntry {
        entry: String,
        problem: EntryProblem,
    },

    #[error(
        "could not {action} {path}: {source}; check that lambdalet's data directory is \
         writable and has free space"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("{hash:?} is not a code hash: expected 64 lowercase hexadecimal digits (a sha-256)")]
    InvalidHash { hash: String },

    #[error(
        "the code with sha-256 {hash} is not in the code store (no {path}): deploy the \
         function's code again"
    )]
    BlobMissing { hash: String, path: PathBuf },

    #[error(
        "the stored zip {path} does not match its sha-256 (it hashes to {actual}): the data \
         directory is damaged; deploy the function's code again"
    )]
    BlobCorrupt { path: PathBuf, actual: String },

    #[error(
        "could not read {path} while zipping it: {source}; check that it exists and is readable"
    )]
    ReadSource { path: PathBuf, source: io::Error },

    #[error(
        "cannot zip {path}: {reason}; only regular files, directories and symlinks with \
         utf-8 names can be deployed"
    )]
    UnsupportedSource { path: PathBuf, reason: &'static str },

    #[error("could not add {path} to the zip: {detail}")]
    Zip { path: PathBuf, detail: String },

    #[error(
        "zipping {dir} gives a zip of {size} bytes; the limit for a direct upload is {limit} \
         bytes ({} MB): remove files the function does not need and try again",
        limit / MB
    )]
    DirZipTooLarge { dir: PathBuf, size: u64, limit: u64 },

    #[error(
        "{dir} holds {size} bytes of files; the limit for unzipped code is {limit} bytes \
         ({} MB): remove files the function does not need and try again",
        limit / MB
    )]
    DirUnzippedTooLarge { dir: PathBuf, size: u64, limit: u64 },
}

impl PackageError {
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

    pub(crate) fn not_a_zip(detail: impl ToString) -> Self {
        Self::NotAZip {
            detail: detail.to_string(),
        }
    }

    pub(crate) fn unsafe_entry(entry: impl Into<String>, problem: EntryProblem) -> Self {
        Self::UnsafeEntry {
            entry: entry.into(),
            problem,
        }
    }
}

impl HasErrorCode for PackageError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::ZipTooLarge { .. } | Self::DirZipTooLarge { .. } => ErrorCode::RequestTooLarge,
            Self::UnzippedTooLarge { .. }
            | Self::NotAZip { .. }
            | Self::EmptyZip
            | Self::UnsafeEntry { .. }
            | Self::InvalidHash { .. }
            | Self::UnsupportedSource { .. }
            | Self::DirUnzippedTooLarge { .. } => ErrorCode::InvalidParameterValue,
            // The disk (or the data directory's quota) is full: AWS's name for running out of
            // code storage.
            Self::Io { source, .. }
                if matches!(
                    source.kind(),
                    io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
                ) =>
            {
                ErrorCode::CodeStorageExceeded
            }
            Self::Io { .. }
            | Self::BlobMissing { .. }
            | Self::BlobCorrupt { .. }
            | Self::ReadSource { .. }
            | Self::Zip { .. } => ErrorCode::Service,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambdalet_core::limits::MAX_ZIP_BYTES;

    #[test]
    fn zip_too_large_is_a_413_that_names_the_limit() {
        let e = PackageError::ZipTooLarge {
            size: MAX_ZIP_BYTES + 1,
            limit: MAX_ZIP_BYTES,
        };
        assert_eq!(e.error_code(), ErrorCode::RequestTooLarge);
        assert_eq!(e.error_code().http_status(), 413);
        assert!(e.to_string().starts_with(
            "zip file is 52428801 bytes; the limit for a direct upload is 52428800 bytes (50 MB)"
        ));
    }

    #[test]
    fn unzipped_too_large_says_whether_the_size_is_exact() {
        let exact = PackageError::UnzippedTooLarge {
            size: 300,
            limit: 200,
            exact: true,
        };
        let partial = PackageError::UnzippedTooLarge {
            size: 300,
            limit: 200,
            exact: false,
        };
        assert!(
            exact
                .to_string()
                .starts_with("the zip unpacks to 300 bytes")
        );
        assert!(
            partial
                .to_string()
                .starts_with("the zip unpacks to at least 300 bytes")
        );
        assert_eq!(exact.error_code(), ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn io_failures_are_service_errors_naming_the_path() {
        let e = PackageError::io("create", "/data/code/x")(io::Error::other("disk full"));
        assert_eq!(e.error_code(), ErrorCode::Service);
        assert!(
            e.to_string()
                .starts_with("could not create /data/code/x: disk full")
        );
    }

    #[test]
    fn a_full_disk_is_code_storage_exceeded() {
        for errno in [28, 122] {
            // ENOSPC, EDQUOT
            let e = PackageError::io("store", "/data/blobs/x")(io::Error::from_raw_os_error(errno));
            assert_eq!(e.error_code(), ErrorCode::CodeStorageExceeded);
            assert_eq!(e.error_code().http_status(), 400);
            assert!(e.to_string().contains("free space"), "{e}");
        }
    }

    #[test]
    fn not_a_zip_message_matches_the_lambda_wording() {
        let e = PackageError::not_a_zip("bad magic");
        assert_eq!(
            e.to_string(),
            "could not unzip the uploaded file (bad magic): check that it is a zip archive, \
             then upload it again"
        );
    }
}
