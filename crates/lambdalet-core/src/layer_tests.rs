//! Layer names and ARNs, the limits of the layers API, and a function's `Layers`.

use super::*;
use crate::config::{FunctionConfig, FunctionConfigPatch};

fn python() -> FunctionConfigPatch {
    FunctionConfigPatch {
        runtime: Some("python3.11".into()),
        handler: Some("app.handler".into()),
        ..Default::default()
    }
}

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:layer:deps";

#[test]
fn names_and_arns_parse_as_the_api_takes_them() {
    let r = LayerRef::layer("deps_2-x").expect("bare name");
    assert_eq!(
        (r.name.as_str(), r.owner, r.version),
        ("deps_2-x", None, None)
    );
    let r = LayerRef::layer(ARN).expect("layer arn");
    assert_eq!(r.name.as_str(), "deps");
    assert!(r.is_in(&AccountInfo::default()));
    let r = LayerRef::version_arn(&format!("{ARN}:12")).expect("version arn");
    assert_eq!(r.version, Some(12));
    let other = LayerRef::version_arn("arn:aws:lambda:eu-west-1:123456789012:layer:x:1")
        .expect("another account's arn parses");
    assert!(!other.is_in(&AccountInfo::default()));
}

#[test]
fn malformed_names_and_arns_say_what_to_write() {
    for bad in ["", "a b", "a/b", &"x".repeat(141)] {
        assert!(LayerRef::layer(bad).is_err(), "{bad:?}");
    }
    for bad in [
        ARN,
        "arn:aws:lambda:us-east-1:000000000000:layer:deps:",
        "arn:aws:lambda:us-east-1:000000000000:layer:deps:v1",
        "arn:aws:lambda:us-east-1:0000:layer:deps:1",
        "arn:aws:lambda:us-east-1:000000000000:function:deps:1",
        "deps:1",
    ] {
        let e = LayerRef::version_arn(bad).expect_err(bad);
        assert!(e.message.contains("layer:NAME:VERSION"), "{}", e.message);
    }
    let e = LayerRef::layer(&format!("{ARN}:3")).expect_err("a version here");
    assert!(e.message.contains("without its version"), "{}", e.message);
}

#[test]
fn a_function_uses_at_most_five_layers_each_once() {
    let arn = |n: &str, v: u64| format!("arn:aws:lambda:us-east-1:000000000000:layer:{n}:{v}");
    let five: Vec<String> = (0..5).map(|i| arn(&format!("l{i}"), 1)).collect();
    check_function_layers(&five).expect("five");
    let mut six = five.clone();
    six.push(arn("l5", 1));
    let e = check_function_layers(&six).expect_err("six");
    assert!(
        e.message
            .starts_with("Cannot reference more than 5 layers."),
        "{}",
        e.message
    );
    let e = check_function_layers(&[arn("a", 1), arn("a", 2)]).expect_err("twice");
    assert!(
        e.message
            .contains("Two different versions of the same layer")
            && e.message.contains(":layer:a "),
        "{}",
        e.message
    );
    check_function_layers(&[]).expect("none");
}

#[test]
fn layer_fields_have_the_apis_limits() {
    let rt = |n: usize| vec!["python3.12".to_owned(); n];
    check_layer_fields(
        &"d".repeat(256),
        &rt(15),
        &["x86_64".into(), "arm64".into()],
        Some(&"l".repeat(512)),
    )
    .expect("at the limits");
    let e = check_layer_fields(&"d".repeat(257), &[], &[], None).expect_err("description");
    assert!(e.message.contains("257"), "{}", e.message);
    let e = check_layer_fields("", &rt(16), &[], None).expect_err("runtimes");
    assert!(e.message.contains("15"), "{}", e.message);
    let e = check_layer_fields("", &["cobol".into()], &[], None).expect_err("runtime");
    assert!(e.message.contains("cobol"), "{}", e.message);
    check_layer_fields("", &["java21".into(), "ruby3.3".into()], &[], None)
        .expect("runtimes lambdalet cannot run are still valid declarations");
    let e = check_layer_fields(
        "",
        &[],
        &["x86_64".into(), "arm64".into(), "x86_64".into()],
        None,
    )
    .expect_err("architectures");
    assert!(e.message.contains("at most 2"), "{}", e.message);
    let e = check_layer_fields("", &[], &["riscv".into()], None).expect_err("architecture");
    assert!(e.message.contains("riscv"), "{}", e.message);
    let e = check_layer_fields("", &[], &[], Some(&"l".repeat(513))).expect_err("license");
    assert!(e.message.contains("513"), "{}", e.message);
}

#[test]
fn arns_look_like_aws() {
    let a = AccountInfo::default();
    assert_eq!(a.layer_arn("deps"), ARN);
    assert_eq!(a.layer_version_arn("deps", 3), format!("{ARN}:3"));
}

#[test]
fn layers_keep_their_order_and_a_patch_replaces_them() {
    let arn = |n: &str| format!("arn:aws:lambda:us-east-1:000000000000:layer:{n}:1");
    let c = FunctionConfig::create(FunctionConfigPatch {
        layers: Some(vec![arn("b"), arn("a")]),
        ..python()
    })
    .expect("valid");
    assert_eq!(c.layers, [arn("b"), arn("a")]);
    let same = c.apply(FunctionConfigPatch::default()).expect("no change");
    assert_eq!(same.layers, c.layers, "a patch without Layers keeps them");
    let none = c
        .apply(FunctionConfigPatch {
            layers: Some(Vec::new()),
            ..Default::default()
        })
        .expect("[] removes them");
    assert!(none.layers.is_empty());
    let json = serde_json::to_string(&none).expect("serializes");
    assert!(
        !json.contains("layers"),
        "configs without layers are stored as before"
    );
    let err = c
        .apply(FunctionConfigPatch {
            layers: Some((0..6).map(|i| arn(&format!("l{i}"))).collect()),
            ..Default::default()
        })
        .expect_err("six layers");
    assert!(
        err.message.contains("more than 5 layers"),
        "{}",
        err.message
    );
}
