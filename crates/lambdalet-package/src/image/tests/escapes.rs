//! Hostile layers: every way out of the rootfs is refused, with the entry named, and nothing
//! lands outside.

use std::fs;

use proptest::prelude::*;

use super::build::{T, layer};
use super::{Fixture, assert_refused, tree};
use crate::image::LayerEntryProblem;

#[test]
fn names_that_climb_out_are_refused() {
    for name in ["../x", "/../../x", "a/../../x", "./../x"] {
        let fx = Fixture::new();
        let text = assert_refused(fx.layers(vec![layer(&[T::File(name, b"x", 0o644)])]), name);
        assert!(text.contains("climbs above the image root"), "{text}");
        fx.assert_contained();
    }
}

#[test]
fn an_absolute_name_stays_inside() {
    let fx = Fixture::new();
    let loaded = fx
        .layers(vec![layer(&[T::File("/etc/x", b"x", 0o644)])])
        .unwrap();
    assert_eq!(tree(&loaded.rootfs)["etc/x"], "file x 644");
}

#[test]
fn writing_through_a_symlink_of_the_same_layer_is_refused() {
    let fx = Fixture::new();
    let outside = fx.outside().display().to_string();
    let hostile = layer(&[T::Symlink("etc", &outside), T::File("etc/x", b"x", 0o644)]);
    let text = assert_refused(fx.layers(vec![hostile]), "etc/x");
    assert!(
        text.contains("inside \"etc\", which is a symlink"),
        "{text}"
    );
    fx.assert_contained();
    let hostile = layer(&[T::Symlink("etc", "/"), T::Dir("etc/sub/", 0o755)]);
    assert_refused(fx.layers(vec![hostile]), "etc/sub/");
    fx.assert_contained();
}

#[test]
fn writing_through_a_symlink_of_a_lower_layer_is_refused() {
    let fx = Fixture::new();
    let lower = layer(&[
        T::Dir("a/", 0o755),
        T::Dir("a/b/", 0o755),
        T::Symlink("a/b/up", "../../../../outside"),
    ]);
    let upper = layer(&[T::File("a/b/up/x", b"x", 0o644)]);
    assert_refused(fx.layers(vec![lower, upper]), "a/b/up/x");
    fx.assert_contained();
}

#[test]
fn a_directory_that_replaces_a_symlink_can_be_written_into() {
    let fx = Fixture::new();
    let outside = fx.outside().display().to_string();
    let lower = layer(&[T::Symlink("etc", &outside)]);
    let upper = layer(&[T::Dir("etc/", 0o755), T::File("etc/x", b"x", 0o644)]);
    let loaded = fx.layers(vec![lower, upper]).unwrap();
    assert_eq!(tree(&loaded.rootfs)["etc/x"], "file x 644");
    fx.assert_contained();
}

#[test]
fn hard_links_to_outside_are_refused() {
    let secret = tempfile::tempdir().unwrap();
    fs::write(secret.path().join("key"), b"secret").unwrap();
    let fx = Fixture::new();
    let text = assert_refused(
        fx.layers(vec![layer(&[T::Hard("x", "../../../../etc/passwd")])]),
        "x",
    );
    assert!(text.contains("climbs above the image root"), "{text}");
    let via = secret.path().display().to_string();
    let hostile = layer(&[T::Symlink("l", &via), T::Hard("x", "l/key")]);
    let err = fx.layers(vec![hostile]).unwrap_err();
    assert!(
        matches!(
            &err,
            crate::image::ImageError::UnsafeEntry {
                problem: LayerEntryProblem::HardLinkThroughSymlink { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fs::metadata(secret.path().join("key")).unwrap().len(), 6);
    fx.assert_contained();
}

#[test]
fn whiteouts_through_a_symlink_are_refused_and_remove_nothing() {
    let victim = tempfile::tempdir().unwrap();
    fs::write(victim.path().join("keep"), b"k").unwrap();
    let via = victim.path().display().to_string();
    for whiteout in ["l/.wh.keep", "l/.wh..wh..opq"] {
        let fx = Fixture::new();
        let lower = layer(&[T::Symlink("l", &via)]);
        let upper = layer(&[T::File(whiteout, b"", 0o644)]);
        assert_refused(fx.layers(vec![lower, upper]), whiteout);
        assert!(victim.path().join("keep").exists());
        fx.assert_contained();
    }
}

/// Entry names and link targets built from pieces that have each caused escapes somewhere.
fn piece() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just("a"),
        8 => Just("b"),
        1 => Just(".."),
        1 => Just("."),
        1 => Just(""),
        2 => Just(".wh.a"),
        1 => Just(".wh..wh..opq"),
        2 => Just("OUT"),
    ]
}

fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 1..5).prop_map(|p| p.join("/"))
}

#[derive(Debug, Clone)]
enum Op {
    File(String),
    Dir(String),
    Symlink(String, String),
    Hard(String, String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        name().prop_map(Op::File),
        name().prop_map(Op::Dir),
        (name(), name()).prop_map(|(n, t)| Op::Symlink(n, t)),
        (
            name(),
            prop_oneof![Just("/".to_owned()), Just("OUT".to_owned())]
        )
            .prop_map(|(n, t)| Op::Symlink(n, t)),
        (name(), name()).prop_map(|(n, t)| Op::Hard(n, t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the entries, nothing is written outside the store's own directories, and a
    /// failed load leaves nothing behind.
    #[test]
    fn random_layers_never_write_outside_the_root(
        layers in proptest::collection::vec(proptest::collection::vec(op(), 1..8), 1..3)
    ) {
        let fx = Fixture::new();
        let out = fx.outside().display().to_string();
        let fix = |s: &str| s.replace("OUT", &out);
        let tars: Vec<Vec<u8>> = layers
            .iter()
            .map(|ops| {
                let owned: Vec<(Op, String, String)> = ops
                    .iter()
                    .map(|op| match op {
                        Op::File(n) | Op::Dir(n) => (op.clone(), fix(n), String::new()),
                        Op::Symlink(n, t) | Op::Hard(n, t) => (op.clone(), fix(n), fix(t)),
                    })
                    .collect();
                let entries: Vec<T<'_>> = owned
                    .iter()
                    .map(|(op, n, t)| match op {
                        Op::File(_) => T::File(n, b"data", 0o644),
                        Op::Dir(_) => T::Dir(n, 0o755),
                        Op::Symlink(..) => T::Symlink(n, t),
                        Op::Hard(..) => T::Hard(n, t),
                    })
                    .collect();
                layer(&entries)
            })
            .collect();
        let _ = fx.layers(tars);
        fx.assert_contained();
    }
}
