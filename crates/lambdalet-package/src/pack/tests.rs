//! Zipping directories: what goes in, in which order, and the round trip through the store.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;

use lambdalet_core::{ErrorCode, HasErrorCode as _};

use super::*;
use crate::CodeStore;

fn write(root: &Path, rel: &str, data: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, data).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "bootstrap",
        b"#!/bin/sh\nexec python3 app.py\n",
        0o755,
    );
    write(root, "app.py", b"print('hi')\n", 0o644);
    write(root, "lib/helper.py", b"x = 1\n", 0o600);
    write(
        root,
        "lib/__pycache__/helper.cpython-312.pyc",
        b"junk",
        0o644,
    );
    write(root, "stale.pyc", b"junk", 0o644);
    fs::create_dir(root.join("empty")).unwrap();
    symlink("lib/helper.py", root.join("helper.py")).unwrap();
    dir
}

fn names(zip: &[u8]) -> Vec<String> {
    let archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect()
}

#[test]
fn entries_are_sorted_and_caches_skipped() {
    let dir = project();
    let zip = zip_directory(dir.path(), &mut |_, _| {}).unwrap();
    assert_eq!(
        names(&zip),
        [
            "app.py",
            "bootstrap",
            "empty/",
            "helper.py",
            "lib/",
            "lib/helper.py"
        ]
    );
}

#[test]
fn the_same_directory_gives_the_same_bytes() {
    let dir = project();
    let first = zip_directory(dir.path(), &mut |_, _| {}).unwrap();
    let second = zip_directory(dir.path(), &mut |_, _| {}).unwrap();
    assert_eq!(first, second);
}

#[test]
fn zipped_directories_unpack_with_their_modes_and_links() {
    let dir = project();
    let zip = zip_directory(dir.path(), &mut |_, _| {}).unwrap();
    let root = tempfile::tempdir().unwrap();
    let stored = CodeStore::open(root.path()).unwrap().put_zip(&zip).unwrap();
    assert!(stored.summary.has_bootstrap && stored.summary.bootstrap_executable);
    let modes: BTreeMap<&str, u32> = ["bootstrap", "app.py", "lib/helper.py", "lib", "empty"]
        .into_iter()
        .map(|n| {
            let meta = fs::metadata(stored.dir.join(n)).unwrap();
            (n, meta.permissions().mode() & 0o777)
        })
        .collect();
    assert_eq!(
        modes,
        BTreeMap::from([
            ("app.py", 0o644),
            ("bootstrap", 0o755),
            ("empty", 0o755),
            ("lib", 0o755),
            ("lib/helper.py", 0o600),
        ])
    );
    let link = stored.dir.join("helper.py");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("lib/helper.py"));
    assert_eq!(fs::read(&link).unwrap(), b"x = 1\n");
    assert!(!stored.dir.join("stale.pyc").exists());
    assert!(!stored.dir.join("lib/__pycache__").exists());
}

#[test]
fn progress_reaches_the_total() {
    let dir = project();
    let mut calls = Vec::new();
    zip_directory(dir.path(), &mut |done, total| calls.push((done, total))).unwrap();
    let total = (30 + 12 + 6 + "lib/helper.py".len()) as u64;
    assert_eq!(calls.first(), Some(&(0, total)));
    assert_eq!(calls.last(), Some(&(total, total)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn directories_over_the_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    write(dir.path(), "noise.bin", &noise, 0o644);

    let small_zip = Limits {
        zip_bytes: 100_000,
        unzipped_bytes: 1 << 30,
    };
    let err = pack_with(dir.path(), &small_zip, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(err, PackageError::DirZipTooLarge { .. }),
        "{err:?}"
    );
    assert_eq!(err.error_code(), ErrorCode::RequestTooLarge);

    let small_unzipped = Limits {
        zip_bytes: 1 << 30,
        unzipped_bytes: 100_000,
    };
    let err = pack_with(dir.path(), &small_unzipped, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::DirUnzippedTooLarge {
                size: 200_000,
                limit: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("holds 200000 bytes of files"));
}

#[test]
fn links_that_leave_the_directory_are_refused_before_upload() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.py", b"", 0o644);
    symlink("../../etc/passwd", dir.path().join("passwd")).unwrap();
    let err = zip_directory(dir.path(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, PackageError::UnsafeEntry { .. }), "{err:?}");
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = zip_directory(&missing, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, PackageError::ReadSource { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"));
}
