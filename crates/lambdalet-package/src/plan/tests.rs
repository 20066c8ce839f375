//! Checking zips without writing: names, symlinks, limits, malformed archives.

use lambdalet_core::{ErrorCode, HasErrorCode as _};

use super::*;
use crate::testzip::{E, build, data_start, lie_about_sizes, one_file};

const SMALL: Limits = Limits {
    zip_bytes: 64 * 1024,
    unzipped_bytes: 1024 * 1024,
};

fn problem(bytes: &[u8]) -> (String, EntryProblem) {
    match inspect_with(bytes, &SMALL) {
        Err(PackageError::UnsafeEntry { entry, problem }) => (entry, problem),
        other => panic!("expected an unsafe entry, got {other:?}"),
    }
}

#[test]
fn a_valid_zip_is_summarised() {
    let zip = build(&[
        E::File("bootstrap", b"#!/bin/sh\n", 0o755),
        E::Dir("lib/"),
        E::File("lib/util.py", b"x = 1\n", 0o644),
        E::Link("lib/current", "util.py"),
    ]);
    let summary = inspect_with(&zip, &SMALL).unwrap();
    assert_eq!(
        summary,
        ZipSummary {
            entries: 4,
            unzipped_bytes: 10 + 6 + 7,
            has_bootstrap: true,
            bootstrap_executable: true,
        }
    );
    assert_eq!(inspect_zip(&zip).unwrap(), summary);
}

#[test]
fn bootstrap_flags_follow_modes_and_symlinks() {
    let plain = inspect_with(&one_file("bootstrap", b"x"), &SMALL).unwrap();
    assert!(plain.has_bootstrap && !plain.bootstrap_executable);
    let linked = build(&[
        E::File("bin/run", b"x", 0o755),
        E::Link("bootstrap", "bin/run"),
    ]);
    let linked = inspect_with(&linked, &SMALL).unwrap();
    assert!(linked.has_bootstrap && linked.bootstrap_executable);
    let nested = inspect_with(&one_file("sub/bootstrap", b"x"), &SMALL).unwrap();
    assert!(!nested.has_bootstrap);
}

#[test]
fn zip_slip_is_refused() {
    let (entry, why) = problem(&one_file("../evil", b"x"));
    assert_eq!((entry.as_str(), why), ("../evil", EntryProblem::ParentDir));
    let (_, why) = problem(&one_file("a/../../evil", b"x"));
    assert_eq!(why, EntryProblem::ParentDir);
}

#[test]
fn absolute_and_drive_paths_are_refused() {
    assert_eq!(problem(&one_file("/etc/x", b"x")).1, EntryProblem::Absolute);
    assert_eq!(
        problem(&one_file("C:\\x", b"x")).1,
        EntryProblem::DrivePrefix
    );
}

#[test]
fn symlinks_pointing_out_are_refused() {
    let (entry, why) = problem(&build(&[E::Link("passwd", "/etc/passwd")]));
    assert_eq!(entry, "passwd");
    assert_eq!(why, EntryProblem::AbsoluteTarget("/etc/passwd".into()));
    let (_, why) = problem(&build(&[E::Link("a/up", "../../outside")]));
    assert_eq!(why, EntryProblem::TargetEscapes("../../outside".into()));
    let through = build(&[E::Link("sub/root", ".."), E::Link("x", "sub/root/../etc")]);
    assert_eq!(
        problem(&through).1,
        EntryProblem::TargetEscapes("sub/root/../etc".into())
    );
}

#[test]
fn files_through_a_symlinked_dir_are_refused() {
    let zip = build(&[E::Link("d", "."), E::File("d/file", b"x", 0o644)]);
    let (entry, why) = problem(&zip);
    assert_eq!(entry, "d/file");
    assert_eq!(why, EntryProblem::ThroughSymlink("d".into()));
    // The same entries the other way round clash as well.
    let zip = build(&[E::File("d/file", b"x", 0o644), E::Link("d", "/tmp")]);
    assert!(matches!(
        inspect_with(&zip, &SMALL),
        Err(PackageError::UnsafeEntry { .. })
    ));
}

#[test]
fn clashing_entries_are_refused() {
    let zip = build(&[E::File("a", b"x", 0o644), E::File("a/b", b"y", 0o644)]);
    assert_eq!(problem(&zip).1, EntryProblem::InsideFile("a".into()));
    let zip = build(&[E::File("a/b", b"x", 0o644), E::File("a\\b", b"y", 0o644)]);
    assert_eq!(problem(&zip).1, EntryProblem::Duplicate);
    let zip = build(&[E::Dir("a/"), E::Dir("./a/"), E::File("a/b", b"x", 0o644)]);
    assert!(inspect_with(&zip, &SMALL).is_ok());
}

#[test]
fn not_a_zip_is_an_invalid_parameter() {
    let err = inspect_with(b"definitely not a zip file", &SMALL).unwrap_err();
    assert!(matches!(err, PackageError::NotAZip { .. }), "{err:?}");
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(
        err.to_string()
            .starts_with("could not unzip the uploaded file (")
    );
}

#[test]
fn a_corrupted_entry_is_caught_when_decompressing() {
    let mut zip = one_file("a.txt", &[b'a'; 4096]);
    let at = data_start(&zip, 0) + 2;
    zip[at] ^= 0xff;
    assert!(matches!(
        inspect_with(&zip, &SMALL),
        Err(PackageError::NotAZip { .. })
    ));
}

#[test]
fn an_empty_zip_is_refused() {
    let err = inspect_with(&build(&[]), &SMALL).unwrap_err();
    assert!(matches!(err, PackageError::EmptyZip));
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

#[test]
fn the_zip_size_limit_is_a_413() {
    let zip = one_file(
        "big.bin",
        &(0..100_000u32)
            .flat_map(|n| n.to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let limits = Limits {
        zip_bytes: zip.len() as u64 - 1,
        ..SMALL
    };
    let err = inspect_with(&zip, &limits).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::RequestTooLarge);
    assert!(
        err.to_string()
            .starts_with(&format!("zip file is {} bytes;", zip.len()))
    );
    let limits = Limits {
        zip_bytes: zip.len() as u64,
        ..SMALL
    };
    assert!(inspect_with(&zip, &limits).is_ok());
}

#[test]
fn an_honest_zip_bomb_is_refused_from_its_listing() {
    let zeros = vec![0u8; 600 * 1024];
    let zip = build(&[E::File("a", &zeros, 0o644), E::File("b", &zeros, 0o644)]);
    assert!(zip.len() < 8 * 1024, "zeros compress well");
    let err = inspect_with(&zip, &SMALL).unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::UnzippedTooLarge {
                size: 1_228_800,
                limit: 1_048_576,
                exact: true
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

#[test]
fn a_zip_bomb_with_lying_headers_is_stopped_while_decompressing() {
    let mut zip = one_file("bomb", &vec![0u8; 4 * 1024 * 1024]);
    lie_about_sizes(&mut zip, 100);
    let err = inspect_with(&zip, &SMALL).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(matches!(
        err,
        PackageError::NotAZip { .. } | PackageError::UnzippedTooLarge { .. }
    ));
}

#[test]
fn files_without_unix_modes_get_0644() {
    let zip = build(&[E::DosFile("readme.txt", b"hi")]);
    let mut archive = open(&zip, &SMALL).unwrap();
    let plan = Plan::read(&mut archive, &SMALL).unwrap();
    let node = plan.nodes.get(&vec!["readme.txt".to_owned()]).unwrap();
    assert!(matches!(node, Node::File { mode: 0o644, .. }), "{node:?}");
}

#[test]
fn modes_keep_owner_read_and_drop_special_bits() {
    let zip = build(&[E::File("x", b"", 0o4311), E::File("y", b"", 0o000)]);
    let mut archive = open(&zip, &SMALL).unwrap();
    let plan = Plan::read(&mut archive, &SMALL).unwrap();
    let mode = |n: &str| match plan.nodes.get(&vec![n.to_owned()]) {
        Some(Node::File { mode, .. }) => *mode,
        other => panic!("{other:?}"),
    };
    assert_eq!(mode("x"), 0o711);
    assert_eq!(mode("y"), 0o400);
}
