//! Function packages: the zip a caller uploads, checked, stored once and unpacked once.
//!
//! A Lambda function's code arrives as a zip (`Code.ZipFile`). This crate is the only place
//! that looks inside such a zip. It checks the archive against the AWS limits and against
//! every way an entry could land outside the code directory ([`inspect_zip`]), stores it
//! content-addressed by SHA-256 and unpacks it once per hash ([`CodeStore`]), and builds
//! zips from a directory for `lambdalet deploy DIR` ([`zip_directory`]).
//!
//! It also reads the other package format lambdalet accepts, Greengrass component recipes
//! ([`recipe`]): parsed and checked, with the pure rules a deployment applies to them.
//!
//! It must not know about functions, versions or sandboxes: callers keep the mapping from a
//! function version to a code hash, and sandboxes only ever see [`StoredCode::dir`].

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        reason = "a failing unwrap is how a test reports failure"
    )
)]

mod atomic;
mod entry;
mod error;
pub mod image;
mod pack;
mod plan;
pub mod recipe;
mod store;
mod unpack;

#[cfg(test)]
mod testzip;

use base64::Engine as _;
use lambdalet_core::limits::{MAX_UNZIPPED_BYTES, MAX_ZIP_BYTES};
use sha2::{Digest as _, Sha256};

pub use entry::EntryProblem;
pub use error::PackageError;
pub use pack::zip_directory;
pub use plan::inspect_zip;
pub use store::{CodeStore, StoredCode};

/// What a valid zip holds, as far as the rest of lambdalet cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipSummary {
    /// Entries in the archive's central directory, directories included.
    pub entries: usize,
    /// Bytes the archive unpacks to (file contents plus symlink targets).
    pub unzipped_bytes: u64,
    /// Whether the archive has a file (or a symlink) named `bootstrap` at its top level.
    pub has_bootstrap: bool,
    /// Whether that `bootstrap` (or what its symlink points to) has an execute bit set.
    pub bootstrap_executable: bool,
}

/// The SHA-256 of `bytes` as lowercase hex (our storage key) and as standard base64
/// (what the Lambda API reports as `CodeSha256`).
pub fn sha256(bytes: &[u8]) -> (String, String) {
    let digest = Sha256::digest(bytes);
    (
        hex::encode(digest),
        base64::engine::general_purpose::STANDARD.encode(digest),
    )
}

/// The size limits a zip is checked against. Always [`Limits::AWS`] outside tests; tests use
/// small limits so they need not allocate hundreds of megabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Largest zip, in bytes.
    pub zip_bytes: u64,
    /// Largest total of decompressed bytes.
    pub unzipped_bytes: u64,
}

impl Limits {
    pub(crate) const AWS: Limits = Limits {
        zip_bytes: MAX_ZIP_BYTES,
        unzipped_bytes: MAX_UNZIPPED_BYTES,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_matches_the_well_known_digest() {
        let (hex, b64) = sha256(b"");
        assert_eq!(
            hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }
}
