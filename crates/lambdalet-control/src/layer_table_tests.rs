//! The rules of a function's `Layers` and of keeping layer code.

use super::*;

fn record(name: &str, version: u64, sha: &str, unzipped: u64) -> LayerVersionRecord {
    LayerVersionRecord {
        name: name.to_owned(),
        version,
        code_sha256: sha.to_owned(),
        code_size: unzipped / 10,
        unzipped_size: unzipped,
        description: String::new(),
        compatible_runtimes: Vec::new(),
        compatible_architectures: Vec::new(),
        license_info: None,
        created_ms: 1,
        deleted: false,
    }
}

fn arn(name: &str, version: u64) -> String {
    AccountInfo::default().layer_version_arn(name, version)
}

/// `deps` 1 and 2 (2 deleted), `tools` 1; deps:1 and tools:1 share their zip.
fn table() -> LayerTable {
    let mut t = LayerTable::from_records(vec![
        record("deps", 1, "aa", 100),
        record("deps", 2, "bb", 200),
        record("tools", 1, "aa", 100),
    ]);
    assert!(t.mark_deleted("deps", 2));
    assert!(!t.mark_deleted("deps", 2), "deleted once");
    assert!(!t.mark_deleted("deps", 9), "no such version");
    t
}

#[test]
fn live_versions_resolve_in_order_with_their_sizes() {
    let a = AccountInfo::default();
    let uses = table()
        .resolve(&a, &[arn("tools", 1), arn("deps", 1)], &[])
        .expect("both live");
    assert_eq!(
        uses.iter().map(|u| u.arn.as_str()).collect::<Vec<_>>(),
        [arn("tools", 1), arn("deps", 1)],
        "the caller's order is kept"
    );
    assert_eq!((uses[0].code_size, uses[0].unzipped_size), (10, 100));
    let padded = "arn:aws:lambda:us-east-1:000000000000:layer:deps:001".to_owned();
    let uses = table().resolve(&a, &[padded], &[]).expect("same version");
    assert_eq!(uses[0].arn, arn("deps", 1), "ARNs are stored in one form");
}

#[test]
fn a_deleted_version_stays_with_its_functions_but_is_refused_to_new_ones() {
    let a = AccountInfo::default();
    let t = table();
    let e = t.resolve(&a, &[arn("deps", 2)], &[]).expect_err("deleted");
    assert!(
        e.message
            .starts_with(&format!("Layer version {} does not exist.", arn("deps", 2)))
            && e.message.contains("deleted"),
        "{}",
        e.message
    );
    let kept = t
        .resolve(&a, &[arn("deps", 2)], &[arn("deps", 2)])
        .expect("the function had it");
    assert_eq!(kept[0].code_sha256, "bb");
    let stored = t.uses_of(&a, &[arn("deps", 2), arn("gone", 1)]);
    assert_eq!(
        stored.len(),
        1,
        "stored configurations keep deleted versions"
    );
    assert!(t.live("deps", 2).is_none() && t.live("deps", 1).is_some());
}

#[test]
fn a_missing_version_names_what_exists() {
    let a = AccountInfo::default();
    let e = table()
        .resolve(&a, &[arn("deps", 7)], &[])
        .expect_err("missing");
    assert!(
        e.message.contains("does not exist")
            && e.message.contains("deps (1)")
            && e.message.contains("tools (1)"),
        "{}",
        e.message
    );
    let e = LayerTable::default()
        .resolve(&a, &[arn("x", 1)], &[])
        .expect_err("empty");
    assert!(
        e.message.contains("no layers are published yet"),
        "{}",
        e.message
    );
    let foreign = "arn:aws:lambda:eu-west-1:123456789012:layer:deps:1".to_owned();
    let e = table()
        .resolve(&a, &[foreign], &[])
        .expect_err("another account");
    assert!(
        e.message.contains("account 000000000000 in us-east-1"),
        "{}",
        e.message
    );
}

#[test]
fn code_and_layers_share_250_mb() {
    let mb = 1024 * 1024;
    let l = |name: &str, size: u64| LayerUse {
        arn: arn(name, 1),
        code_size: 1,
        unzipped_size: size,
        code_sha256: "aa".to_owned(),
    };
    check_total_size(50 * mb, &[l("a", 100 * mb), l("b", 100 * mb)]).expect("exactly 250 MB");
    let e = check_total_size(50 * mb + 1, &[l("a", 100 * mb), l("b", 100 * mb)])
        .expect_err("one byte over");
    assert!(
        e.message.starts_with(
            "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes."
        ),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("function code 52428801")
            && e.message.contains(&format!("{} 104857600", arn("a", 1))),
        "the sizes are named: {}",
        e.message
    );
    check_total_size(u64::MAX, &[]).expect_err("a function alone is checked too");
}

#[test]
fn code_of_live_and_still_used_versions_is_kept() {
    let a = AccountInfo::default();
    let mut t = table();
    t.insert(record("old", 1, "cc", 1));
    assert!(t.mark_deleted("old", 1));
    let keep = t.kept_hashes(&a, &[arn("deps", 2)]);
    assert!(keep.contains("aa"), "live versions");
    assert!(keep.contains("bb"), "deleted but used");
    assert!(!keep.contains("cc"), "deleted and unused: {keep:?}");
    assert!(
        t.holds("cc"),
        "its row stays, so its number is never reused"
    );
    let names: Vec<&str> = t.live_by_name().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["deps", "tools"],
        "a layer with no live version is not listed"
    );
}
