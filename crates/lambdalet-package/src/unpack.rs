//! Executing a checked [`Plan`]: creating its directories, files and symlinks under a fresh
//! directory, counting every decompressed byte against the unzipped limit.
//!
//! The plan already refused every name and symlink that could escape; this module adds a
//! second line of defence that does not depend on the plan being right: files are created
//! with `O_EXCL` (never through an existing name), directories one level at a time, and
//! symlinks only after every file and directory exists, so nothing is written through one.
//! It must be given an empty directory that nobody else writes to.
//!
//! Durability: files are not synced one by one (60,000 `fsync`s are 60,000 journal commits);
//! once the whole tree is written, one `syncfs` writes out the file system it lives on, every
//! file's data and every directory's entries with it, before the caller renames the tree into
//! place. A crash before that sync leaves only a temporary directory, which the store clears at
//! its next open.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::atomic::sync_filesystem;
use crate::plan::{Archive, Node, Plan};
use crate::{Limits, PackageError};

const DIR_MODE: u32 = 0o755;
const CHUNK: usize = 64 * 1024;

/// Decompressed bytes counted against the unzipped limit, whatever the headers claim.
#[derive(Debug)]
pub(crate) struct Budget {
    used: u64,
    limit: u64,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Self {
        Self { used: 0, limit }
    }

    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    pub(crate) fn take(&mut self, bytes: u64) -> Result<(), PackageError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(PackageError::UnzippedTooLarge {
                size: self.used,
                limit: self.limit,
                exact: false,
            });
        }
        Ok(())
    }
}

/// Decompresses entry `index` into `out`, stopping as soon as the budget runs out, and
/// checks that it holds exactly the `declared` number of bytes. `out_path` names `out` in
/// write errors.
pub(crate) fn copy_entry(
    archive: &mut Archive<'_>,
    index: usize,
    path: &[String],
    declared: u64,
    budget: &mut Budget,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<u64, PackageError> {
    let corrupt = |detail: &dyn std::fmt::Display| {
        PackageError::not_a_zip(format!("entry {:?}: {detail}", path.join("/")))
    };
    let mut entry = archive.by_index(index).map_err(|e| corrupt(&e))?;
    if entry.encrypted() {
        return Err(corrupt(
            &"it is encrypted; lambdalet needs an unencrypted zip",
        ));
    }
    let mut buf = vec![0; CHUNK];
    let mut total: u64 = 0;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(&e)),
        };
        budget.take(n as u64)?;
        total += n as u64;
        out.write_all(&buf[..n])
            .map_err(PackageError::io("write", out_path))?;
    }
    if total != declared {
        return Err(corrupt(&format_args!(
            "it holds {total} bytes but its header declares {declared}"
        )));
    }
    Ok(total)
}

/// Creates everything in `plan` under `dest` (an existing, empty directory) and syncs it to
/// disk.
pub(crate) fn unpack(
    archive: &mut Archive<'_>,
    plan: &Plan,
    dest: &Path,
    limits: &Limits,
) -> Result<(), PackageError> {
    let mut budget = Budget::new(limits.unzipped_bytes);
    budget.take(plan.link_bytes)?;
    set_mode(dest, DIR_MODE)?;
    for (path, node) in &plan.nodes {
        let target = join(dest, path);
        match node {
            Node::Dir => {
                fs::create_dir(&target).map_err(PackageError::io("create directory", &target))?;
                set_mode(&target, DIR_MODE)?;
            }
            Node::File { index, mode, size } => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .map_err(PackageError::io("create", &target))?;
                copy_entry(
                    archive,
                    *index,
                    path,
                    *size,
                    &mut budget,
                    &mut file,
                    &target,
                )?;
                file.set_permissions(Permissions::from_mode(*mode))
                    .map_err(PackageError::io("write", &target))?;
            }
            Node::Symlink { .. } => {}
        }
    }
    for (path, node) in &plan.nodes {
        if let Node::Symlink { target: to } = node {
            let link = join(dest, path);
            std::os::unix::fs::symlink(to, &link)
                .map_err(PackageError::io("create symlink", &link))?;
        }
    }
    sync_filesystem(dest)
}

fn join(dest: &Path, path: &[String]) -> PathBuf {
    path.iter().fold(dest.to_path_buf(), |p, c| p.join(c))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), PackageError> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(PackageError::io("set permissions of", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;
    use crate::testzip::{E, build, one_file};

    const ROOMY: Limits = Limits {
        zip_bytes: 1 << 20,
        unzipped_bytes: 1 << 30,
    };

    fn planned(zip: &[u8]) -> (Archive<'_>, Plan) {
        let mut archive = plan::open(zip, &ROOMY).unwrap();
        let plan = Plan::read(&mut archive, &ROOMY).unwrap();
        (archive, plan)
    }

    #[test]
    fn the_budget_counts_every_byte() {
        let mut budget = Budget::new(10);
        budget.take(6).unwrap();
        budget.take(4).unwrap();
        let err = budget.take(1).unwrap_err();
        assert!(matches!(
            err,
            PackageError::UnzippedTooLarge {
                size: 11,
                limit: 10,
                exact: false
            }
        ));
    }

    #[test]
    fn extraction_stops_at_the_limit_even_when_the_listing_passed() {
        let zeros = vec![0u8; 300 * 1024];
        let zip = build(&[E::File("a", &zeros, 0o644), E::File("b", &zeros, 0o644)]);
        let (mut archive, plan) = planned(&zip);
        let dest = tempfile::tempdir().unwrap();
        let small = Limits {
            unzipped_bytes: 512 * 1024,
            ..ROOMY
        };
        let err = unpack(&mut archive, &plan, dest.path(), &small).unwrap_err();
        assert!(
            matches!(err, PackageError::UnzippedTooLarge { exact: false, .. }),
            "{err:?}"
        );
        let written = fs::metadata(dest.path().join("b")).unwrap().len();
        assert!(
            written < 300 * 1024,
            "stopped part way through b, at {written}"
        );
    }

    #[test]
    fn files_are_never_written_through_an_existing_name() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"original").unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&victim, dest.path().join("x")).unwrap();
        let zip = one_file("x", b"overwritten");
        let (mut archive, plan) = planned(&zip);
        let err = unpack(&mut archive, &plan, dest.path(), &ROOMY).unwrap_err();
        assert!(matches!(err, PackageError::Io { .. }), "{err:?}");
        assert_eq!(fs::read(&victim).unwrap(), b"original");
    }

    #[test]
    fn symlinks_are_created_after_everything_else() {
        // Listed first, the link still cannot redirect the directory created after it.
        let zip = build(&[E::Link("a-link", "a"), E::File("a/f", b"x", 0o644)]);
        let (mut archive, plan) = planned(&zip);
        let dest = tempfile::tempdir().unwrap();
        unpack(&mut archive, &plan, dest.path(), &ROOMY).unwrap();
        assert_eq!(fs::read(dest.path().join("a-link/f")).unwrap(), b"x");
        assert!(
            fs::symlink_metadata(dest.path().join("a"))
                .unwrap()
                .is_dir()
        );
    }
}
