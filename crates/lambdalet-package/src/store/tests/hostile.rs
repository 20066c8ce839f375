//! Random archives, hostile names included: whatever happens, nothing lands outside the
//! code directory and no symlink in it leads out.

use std::io::{Cursor, Write as _};

use proptest::prelude::*;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::*;

fn zip_of(entries: &[(u8, String, String)]) -> Vec<u8> {
    let options = SimpleFileOptions::default();
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (kind, name, target) in entries {
        let added = match kind {
            0 => zip
                .start_file(name.as_str(), options)
                .and_then(|()| Ok(zip.write_all(b"data")?)),
            1 => zip.add_directory(name.as_str(), options),
            _ => zip.add_symlink(name.as_str(), target.as_str(), options),
        };
        if added.is_err() {
            let _ = zip.abort_file();
        }
    }
    zip.finish().unwrap().into_inner()
}

/// Every path under `dir`, without following symlinks.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            walk(&path, out);
        }
    }
}

/// Directories `a` and `b`, nested `depth` deep, under `at`.
fn decoy(at: &Path, depth: u32, made: &mut Vec<PathBuf>) {
    if depth == 0 {
        return;
    }
    for name in ["a", "b"] {
        let dir = at.join(name);
        fs::create_dir_all(&dir).unwrap();
        made.push(dir.clone());
        decoy(&dir, depth - 1, made);
    }
}

/// Mostly plain names, so that many archives are accepted, with hostile parts mixed in.
fn name() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        8 => "[ab]{1,2}",
        1 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("C:".to_owned()),
        1 => Just("a\\..".to_owned()),
    ];
    (any::<u8>(), proptest::collection::vec(part, 1..4)).prop_map(|(lead, parts)| {
        let slash = if lead < 16 { "/" } else { "" };
        format!("{slash}{}", parts.join("/"))
    })
}

/// Symlink targets that climb, descend and go through each other.
fn target() -> impl Strategy<Value = String> {
    let part = prop_oneof![Just("..".to_owned()), "[ab]", Just(".".to_owned())];
    proptest::collection::vec(part, 1..5).prop_map(|parts| parts.join("/"))
}

/// Plain names only, so that almost every archive is accepted: links to links to links.
fn plain_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ab](/[ab]){0,2}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hostile_names_never_escape(
        entries in proptest::collection::vec((0u8..3, name(), target()), 1..6)
    ) {
        nothing_escapes(&entries)?;
    }

    #[test]
    fn symlink_farms_never_escape(
        entries in proptest::collection::vec((1u8..3, plain_name(), target()), 1..8)
    ) {
        nothing_escapes(&entries)?;
    }
}

/// Unpacks `entries` in a fresh store and checks that nothing exists outside the code
/// directory but the store's own files, and that no path in it resolves outside it.
fn nothing_escapes(entries: &[(u8, String, String)]) -> Result<(), TestCaseError> {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("store");
    // Decoys where an escaping symlink would land, so that it resolves and is seen.
    let mut decoys = Vec::new();
    for at in [outer.path().to_path_buf(), root.clone(), root.join("code")] {
        decoy(&at, 3, &mut decoys);
    }
    let store = CodeStore::open(&root).unwrap();
    let result = store.put_zip(&zip_of(entries));

    let mut paths = Vec::new();
    walk(outer.path(), &mut paths);
    let store_dirs = [
        store.root().to_path_buf(),
        store.blobs(),
        store.code(),
        store.tmp(),
    ];
    for path in &paths {
        if let Ok(stored) = &result
            && path.starts_with(&stored.dir)
        {
            if let Ok(real) = path.canonicalize() {
                let dir = stored.dir.canonicalize().unwrap();
                prop_assert!(
                    real.starts_with(&dir),
                    "{} leads to {}",
                    path.display(),
                    real.display()
                );
            }
        } else {
            let is_blob = path.parent() == Some(store.blobs().as_path());
            prop_assert!(
                is_blob || store_dirs.contains(path) || decoys.contains(path),
                "{} is outside the code directory ({:?})",
                path.display(),
                result
            );
        }
    }
    if result.is_err() {
        prop_assert_eq!(names(&store.code()), ["a", "b"]);
        prop_assert!(names(&store.tmp()).is_empty());
    }
    Ok(())
}
