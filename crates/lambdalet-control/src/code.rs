//! Storing a function's code for CreateFunction and UpdateFunctionCode, and taking back what a
//! refused operation stored.
//!
//! Unpacking happens before the operation takes `Control::writes` (a zip of 60,000 files takes
//! seconds, and other functions' operations must not wait for it); the package store's pin keeps
//! the new hash until the operation has recorded its use under the lock, or has given it up
//! here.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use lambdalet_core::{FunctionConfig, LambdaError, RuntimeFamily};
use lambdalet_package::StoredCode;

use crate::control::Control;
use crate::error::ControlError;

impl Control {
    /// Validates, stores and unpacks a zip, off the async threads, without any lock.
    pub(crate) async fn put_code(&self, zip: Vec<u8>) -> Result<StoredCode, ControlError> {
        let code = self.code.clone();
        Ok(tokio::task::spawn_blocking(move || code.put_zip(&zip)).await??)
    }

    /// Removes code an operation stored but will not use (refused after the upload, or a dry
    /// run), unless a version uses it or another operation in flight holds it. The caller holds
    /// `writes` (under which uses are recorded); the tree itself is deleted in the background.
    pub(crate) async fn discard_code(&self, stored: StoredCode) {
        let in_use = self.table.read().values().any(|e| {
            e.all_versions()
                .any(|v| v.record.code_sha256 == stored.sha256_hex)
        });
        if in_use {
            return;
        }
        let code = self.code.clone();
        match tokio::task::spawn_blocking(move || code.discard(stored)).await {
            Ok(Ok(Some(hidden))) => {
                tokio::task::spawn_blocking(move || drop(hidden));
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot remove the code of a refused deploy; it goes at the next start")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove the code of a refused deploy; it goes at the next start")
            }
        }
    }
}

/// A `provided` runtime needs an executable `bootstrap` at the top of its code.
pub(crate) fn check_code(config: &FunctionConfig, dir: &Path) -> Result<(), ControlError> {
    if config.runtime.family() != RuntimeFamily::Provided {
        return Ok(());
    }
    let bootstrap = dir.join("bootstrap");
    match std::fs::metadata(&bootstrap) {
        Err(_) => Err(LambdaError::invalid(format!(
            "runtime {} runs the file `bootstrap` at the top of the zip, and this zip has none: add your executable as `bootstrap` (for Rust: name the binary bootstrap)",
            config.runtime
        ))
        .into()),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(LambdaError::invalid(
            "`bootstrap` in the zip is not executable: run `chmod +x bootstrap` before zipping (zips made on Windows lose the bit; use `zip` on Linux or set the mode)",
        )
        .into()),
        Ok(_) => Ok(()),
    }
}
