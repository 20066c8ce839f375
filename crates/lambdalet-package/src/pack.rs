//! Zipping a directory for upload (`lambdalet deploy DIR`).
//!
//! The zip is deterministic (sorted entries, fixed timestamps), keeps unix modes so
//! executables stay executable, stores symlinks as symlinks, and leaves out Python caches.
//! Before returning it is checked exactly as an upload would be, so `deploy` fails here with
//! a clear error instead of on the server. It reads the directory and never writes to it.

use std::fs::{self, File};
use std::io::{self, Cursor, Read, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use crate::plan::{self, Plan};
use crate::{Limits, PackageError};

const CHUNK: usize = 64 * 1024;

/// Zips a directory for upload: deterministic entry order, unix modes preserved, symlinks
/// stored as symlinks, `__pycache__` directories and `.pyc` files skipped. Calls
/// `progress(done_bytes, total_bytes)` as file contents are compressed. Fails with a clear
/// error when the result would exceed the upload or unzipped limits.
pub fn zip_directory(
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, PackageError> {
    pack_with(dir, &Limits::AWS, progress)
}

/// One thing found in the directory, named relative to it with `/` separators.
#[derive(Debug)]
struct Item {
    name: String,
    path: PathBuf,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Dir { mode: u32 },
    File { mode: u32, size: u64 },
    Symlink { target: String },
}

#[tracing::instrument(name = "package.zip_directory", skip_all, fields(dir = %dir.display()))]
pub(crate) fn pack_with(
    dir: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, PackageError> {
    let mut items = Vec::new();
    collect(dir, "", &mut items)?;
    let total: u64 = items
        .iter()
        .map(|i| match &i.kind {
            Kind::File { size, .. } => *size,
            Kind::Symlink { target } => target.len() as u64,
            Kind::Dir { .. } => 0,
        })
        .sum();
    if total > limits.unzipped_bytes {
        return Err(PackageError::DirUnzippedTooLarge {
            dir: dir.to_path_buf(),
            size: total,
            limit: limits.unzipped_bytes,
        });
    }
    let too_big = |size: u64| PackageError::DirZipTooLarge {
        dir: dir.to_path_buf(),
        size,
        limit: limits.zip_bytes,
    };
    let base = SimpleFileOptions::default()
        .system(System::Unix)
        .last_modified_time(DateTime::default())
        .compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut done = 0;
    progress(done, total);
    for item in &items {
        let name = item.name.as_str();
        let added = match &item.kind {
            Kind::Dir { mode } => zip.add_directory(name, base.unix_permissions(*mode)),
            Kind::Symlink { target } => zip.add_symlink(name, target, base),
            Kind::File { mode, .. } => zip.start_file(name, base.unix_permissions(*mode)),
        };
        added.map_err(|e| zip_error(&item.path, e))?;
        if matches!(item.kind, Kind::File { .. }) {
            let mut file = File::open(&item.path).map_err(read_error(&item.path))?;
            let mut buf = vec![0; CHUNK];
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(read_error(&item.path)(e)),
                };
                zip.write_all(&buf[..n])
                    .map_err(|e| zip_error(&item.path, e))?;
                done += n as u64;
                progress(done.min(total), total);
                let so_far = zip.get_ref().map_or(0, |c| c.get_ref().len() as u64);
                if so_far > limits.zip_bytes {
                    return Err(too_big(so_far));
                }
            }
        }
    }
    let bytes = zip.finish().map_err(|e| zip_error(dir, e))?.into_inner();
    if bytes.len() as u64 > limits.zip_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    // Check the result as an upload would be checked: names, symlink targets, sizes.
    let mut archive = plan::open(&bytes, limits)?;
    Plan::read(&mut archive, limits)?;
    progress(total, total);
    Ok(bytes)
}

/// Lists `dir` recursively (without following symlinks) in sorted order, parents first.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<Item>) -> Result<(), PackageError> {
    let mut entries = fs::read_dir(dir)
        .map_err(read_error(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(dir))?;
    entries.sort();
    for path in entries {
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(unsupported(&path, "its name is not utf-8"));
        };
        let name = format!("{prefix}{file_name}");
        let meta = fs::symlink_metadata(&path).map_err(read_error(&path))?;
        let mode = meta.permissions().mode() & 0o777;
        let kind = if meta.is_symlink() {
            let target = fs::read_link(&path).map_err(read_error(&path))?;
            let Some(target) = target.to_str() else {
                return Err(unsupported(&path, "its symlink target is not utf-8"));
            };
            Kind::Symlink {
                target: target.to_owned(),
            }
        } else if meta.is_dir() {
            if file_name == "__pycache__" {
                continue;
            }
            Kind::Dir { mode }
        } else if meta.is_file() {
            if file_name.ends_with(".pyc") {
                continue;
            }
            Kind::File {
                mode,
                size: meta.len(),
            }
        } else {
            return Err(unsupported(&path, "it is a socket, fifo or device"));
        };
        let is_dir = matches!(kind, Kind::Dir { .. });
        out.push(Item {
            name: name.clone(),
            path: path.clone(),
            kind,
        });
        if is_dir {
            collect(&path, &format!("{name}/"), out)?;
        }
    }
    Ok(())
}

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> PackageError {
    let path = path.to_path_buf();
    move |source| PackageError::ReadSource { path, source }
}

fn zip_error(path: &Path, detail: impl ToString) -> PackageError {
    PackageError::Zip {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

fn unsupported(path: &Path, reason: &'static str) -> PackageError {
    PackageError::UnsupportedSource {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests;
