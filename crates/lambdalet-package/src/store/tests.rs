//! The store on a real file system: round trips, idempotence, races, cleanup.

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use lambdalet_core::{ErrorCode, HasErrorCode as _};

use super::*;
use crate::testzip::{E, build, data_start, one_file};

fn store() -> (tempfile::TempDir, CodeStore) {
    let root = tempfile::tempdir().unwrap();
    let store = CodeStore::open(root.path()).unwrap();
    (root, store)
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn sample() -> Vec<u8> {
    build(&[
        E::File("bootstrap", b"#!/bin/sh\necho hi\n", 0o755),
        E::Dir("lib/"),
        E::File("lib/deep/data.json", b"{}", 0o644),
        E::File("lib/secret", b"s", 0o600),
        E::Link("lib/link.json", "deep/data.json"),
    ])
}

#[test]
fn put_zip_stores_and_unpacks_with_modes_and_symlinks() {
    let (_root, store) = store();
    let zip = sample();
    let stored = store.put_zip(&zip).unwrap();
    let (hex, b64) = sha256(&zip);
    assert_eq!(
        (stored.sha256_hex.as_str(), stored.sha256_base64.as_str()),
        (&*hex, &*b64)
    );
    assert_eq!(stored.size, zip.len() as u64);
    assert_eq!(stored.dir, store.code_dir(&hex));
    assert!(stored.summary.has_bootstrap && stored.summary.bootstrap_executable);
    assert_eq!(fs::read(store.blob_path(&hex)).unwrap(), zip);

    let dir = &stored.dir;
    assert_eq!(
        fs::read(dir.join("bootstrap")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(mode(&dir.join("bootstrap")), 0o755);
    assert_eq!(mode(&dir.join("lib/secret")), 0o600);
    assert_eq!(mode(&dir.join("lib/deep/data.json")), 0o644);
    assert_eq!(mode(&dir.join("lib")), 0o755);
    assert_eq!(mode(&dir.join("lib/deep")), 0o755);
    assert_eq!(mode(dir), 0o755);
    let link = dir.join("lib/link.json");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("deep/data.json"));
    assert_eq!(fs::read(&link).unwrap(), b"{}");
    assert!(names(&store.tmp()).is_empty());
}

#[test]
fn put_zip_twice_is_idempotent() {
    let (_root, store) = store();
    let first = store.put_zip(&sample()).unwrap();
    fs::write(first.dir.join("marker"), b"kept").unwrap();
    let second = store.put_zip(&sample()).unwrap();
    assert_eq!(facts(&first), facts(&second));
    assert_eq!(
        fs::read(second.dir.join("marker")).unwrap(),
        b"kept",
        "not unpacked again"
    );
    assert_eq!(names(&store.blobs()).len(), 1);
    assert_eq!(names(&store.code()).len(), 1);
}

#[test]
fn concurrent_puts_of_the_same_zip_all_succeed() {
    let (_root, store) = store();
    let store = Arc::new(store);
    let zip = Arc::new(sample());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, zip) = (Arc::clone(&store), Arc::clone(&zip));
            std::thread::spawn(move || store.put_zip(&zip).unwrap())
        })
        .collect();
    let results: Vec<StoredCode> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| facts(&w[0]) == facts(&w[1])));
    assert_eq!(
        fs::read(results[0].dir.join("lib/deep/data.json")).unwrap(),
        b"{}"
    );
    assert_eq!(names(&store.code()).len(), 1);
    assert!(
        names(&store.tmp()).is_empty(),
        "losers cleaned up: {:?}",
        names(&store.tmp())
    );
}

#[test]
fn a_refused_zip_leaves_nothing_behind() {
    let (_root, store) = store();
    for bad in [one_file("../evil", b"x"), b"not a zip".to_vec(), build(&[])] {
        let err = store.put_zip(&bad).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue, "{err}");
    }
    let limited = CodeStore::open_with(
        store.root(),
        Limits {
            zip_bytes: 10,
            ..Limits::AWS
        },
    )
    .unwrap();
    assert_eq!(
        limited.put_zip(&sample()).unwrap_err().error_code(),
        ErrorCode::RequestTooLarge
    );
    for dir in [store.blobs(), store.code(), store.tmp()] {
        assert!(
            names(&dir).is_empty(),
            "{} holds {:?}",
            dir.display(),
            names(&dir)
        );
    }
}

#[test]
fn a_failure_while_unpacking_removes_the_partial_tree() {
    let (_root, store) = store();
    // The listing passes (the budget is checked per file), but the data is damaged.
    let mut zip = build(&[
        E::File("ok", b"fine", 0o644),
        E::File("z", &[b'z'; 4096], 0o644),
    ]);
    let at = data_start(&zip, 1) + 2;
    zip[at] ^= 0xff;
    assert!(store.put_zip(&zip).is_err());
    assert!(names(&store.tmp()).is_empty());
    assert!(names(&store.code()).is_empty());
}

#[test]
fn open_clears_leftovers_in_tmp() {
    let (root, store) = store();
    fs::create_dir_all(store.tmp().join("half/done")).unwrap();
    fs::write(store.tmp().join("half.zip"), b"x").unwrap();
    let store = CodeStore::open(root.path()).unwrap();
    assert!(names(&store.tmp()).is_empty());
}

#[test]
fn ensure_unpacked_restores_a_deleted_code_dir() {
    let (_root, store) = store();
    let stored = store.put_zip(&sample()).unwrap();
    fs::remove_dir_all(&stored.dir).unwrap();
    let dir = store.ensure_unpacked(&stored.sha256_hex).unwrap();
    assert_eq!(dir, stored.dir);
    assert_eq!(mode(&dir.join("bootstrap")), 0o755);
    assert_eq!(store.ensure_unpacked(&stored.sha256_hex).unwrap(), dir);
}

#[test]
fn ensure_unpacked_reports_missing_corrupt_and_malformed_hashes() {
    let (_root, store) = store();
    let stored = store.put_zip(&sample()).unwrap();
    fs::remove_dir_all(&stored.dir).unwrap();
    fs::write(store.blob_path(&stored.sha256_hex), b"tampered").unwrap();
    let err = store.ensure_unpacked(&stored.sha256_hex).unwrap_err();
    assert!(matches!(err, PackageError::BlobCorrupt { .. }), "{err:?}");

    let (missing, _) = sha256(b"never stored");
    let err = store.ensure_unpacked(&missing).unwrap_err();
    assert!(matches!(err, PackageError::BlobMissing { .. }), "{err:?}");
    assert_eq!(err.error_code(), ErrorCode::Service);

    let err = store.ensure_unpacked("../../etc").unwrap_err();
    assert!(matches!(err, PackageError::InvalidHash { .. }), "{err:?}");
}

#[test]
fn remove_unreferenced_keeps_only_what_is_asked_for() {
    let (_root, store) = store();
    let keep = unpinned(store.put_zip(&one_file("a.py", b"a")).unwrap());
    let drop1 = unpinned(store.put_zip(&one_file("b.py", b"b")).unwrap());
    let drop2 = unpinned(store.put_zip(&one_file("c.py", b"c")).unwrap());
    let pinned = store.put_zip(&one_file("d.py", b"d")).unwrap();
    fs::remove_dir_all(&drop2.1).unwrap(); // only its blob is left
    fs::write(store.code().join("not-a-hash"), b"left alone").unwrap();

    let kept = HashSet::from([keep.0.clone()]);
    assert_eq!(store.remove_unreferenced(&kept).unwrap(), 2);
    assert!(keep.1.is_dir() && store.blob_path(&keep.0).is_file());
    for (hash, dir) in [&drop1, &drop2] {
        assert!(!exists(dir).unwrap());
        assert!(!exists(&store.blob_path(hash)).unwrap());
    }
    assert!(pinned.dir.is_dir(), "a pinned hash is left alone");
    drop(pinned);
    assert_eq!(store.remove_unreferenced(&kept).unwrap(), 1);
    assert!(store.code().join("not-a-hash").exists());
    assert!(names(&store.tmp()).is_empty());
    assert_eq!(store.remove_unreferenced(&kept).unwrap(), 0);
}

/// What a put answers, but its pin.
fn facts(code: &StoredCode) -> (&str, &str, u64, &Path, &ZipSummary) {
    (
        &code.sha256_hex,
        &code.sha256_base64,
        code.size,
        &code.dir,
        &code.summary,
    )
}

/// The hash and directory of stored code, its pin dropped.
fn unpinned(code: StoredCode) -> (String, PathBuf) {
    (code.sha256_hex, code.dir)
}

#[test]
fn discard_removes_what_only_its_caller_holds() {
    let (_root, store) = store();
    let first = store.put_zip(&sample()).unwrap();
    let second = store.put_zip(&sample()).unwrap();
    let (hash, dir) = (first.sha256_hex.clone(), first.dir.clone());
    assert!(
        store.discard(first).unwrap().is_none(),
        "second still holds it"
    );
    assert!(dir.is_dir() && store.blob_path(&hash).is_file());

    let gone = store.discard(second).unwrap().expect("the last holder");
    assert!(!exists(&dir).unwrap() && !exists(&store.blob_path(&hash)).unwrap());
    assert_eq!(names(&store.tmp()).len(), 1, "hidden until dropped");
    drop(gone);
    assert!(names(&store.tmp()).is_empty());
    assert!(names(&store.code()).is_empty() && names(&store.blobs()).is_empty());

    // Stored again after a discard, it is written anew.
    let again = store.put_zip(&sample()).unwrap();
    assert_eq!(
        fs::read(again.dir.join("lib/deep/data.json")).unwrap(),
        b"{}"
    );
}

#[test]
fn unzipped_size_reads_the_listing_once_and_remembers() {
    let (_root, store) = store();
    let zip = sample();
    let stored = store.put_zip(&zip).unwrap();
    let hash = stored.sha256_hex.clone();
    let expected = stored.summary.unzipped_bytes;
    drop(stored);
    assert_eq!(store.unzipped_size(&hash).unwrap(), expected);
    // A store opened anew reads it from the blob, without the unpacked tree.
    let again = CodeStore::open(store.root()).unwrap();
    fs::remove_dir_all(again.code_dir(&hash)).unwrap();
    assert_eq!(again.unzipped_size(&hash).unwrap(), expected);
    assert!(!exists(&again.code_dir(&hash)).unwrap(), "nothing unpacked");
    let missing = "0".repeat(64);
    assert!(matches!(
        again.unzipped_size(&missing),
        Err(PackageError::BlobMissing { .. })
    ));
    assert!(again.unzipped_size("../x").is_err());
}

mod hostile;
