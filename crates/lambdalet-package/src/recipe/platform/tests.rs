//! Platform values against device attributes, and what a bad platform is told.

use serde_json::json;

use super::*;

fn platform(v: serde_json::Value) -> Platform {
    parse_platform(Some(&v), "Manifests[0].Platform").unwrap()
}

fn device() -> DevicePlatform {
    let mut d = DevicePlatform::new("linux", "amd64");
    d.extra.insert("com.example.Radio".into(), "lora-2".into());
    d
}

#[test]
fn values_match_exactly_by_wildcard_or_by_regex() {
    let table = [
        (json!({}), true),
        (json!({"os": "linux"}), true),
        (json!({"OS": "linux", "Architecture": "amd64"}), true),
        (json!({"os": "windows"}), false),
        (json!({"os": "Linux"}), false),
        (json!({"os": "*", "architecture": "*"}), true),
        (json!({"os": "all", "architecture": "any"}), true),
        (json!({"architecture": "/amd64|x86_64/"}), true),
        (json!({"architecture": "/arm.*/"}), false),
        (json!({"architecture": "/amd/"}), false),
        (json!({"architecture.detail": "*"}), true),
        (json!({"architecture.detail": "armv7l"}), false),
        (json!({"architecture.detail": "/.*/"}), false),
        (json!({"architecture.detail": "//"}), false),
        (json!({"com.example.Radio": "//"}), true),
        (json!({"com.example.Radio": "/lora-\\d/"}), true),
        (json!({"com.example.radio": "lora-2"}), false),
    ];
    for (p, expected) in table {
        assert_eq!(platform(p.clone()).matches(&device()), expected, "{p}");
    }
}

#[test]
fn yaml_numbers_are_text_and_well_known_keys_are_lower_case() {
    let p = platform(json!({"Architecture.Detail": 7, "Custom.Key": "x"}));
    assert_eq!(
        p.0.get("architecture.detail").map(String::as_str),
        Some("7")
    );
    assert!(p.0.contains_key("Custom.Key"));
}

#[test]
fn bad_values_name_their_path() {
    let table = [
        (
            json!({"os": ["linux"]}),
            "Manifests[0].Platform.os",
            "expected an exact value, \"*\" or a /regex/, got an array",
        ),
        (
            json!({"os": "-linux"}),
            "Manifests[0].Platform.os",
            "expected an exact value starting with a letter or digit, \"*\" or a /regex/, got \"-linux\"",
        ),
        (
            json!({"architecture": "/arm(/"}),
            "Manifests[0].Platform.architecture",
            "invalid regular expression /arm(/: unclosed '(' at character 4",
        ),
        (
            json!({"os": "linux", "OS": "linux"}),
            "Manifests[0].Platform",
            "\"OS\" and \"os\" name the same key (keys are case-insensitive); keep one",
        ),
        (
            json!("linux"),
            "Manifests[0].Platform",
            "expected a platform (an object), got \"linux\"",
        ),
    ];
    for (v, path, message) in table {
        let e = parse_platform(Some(&v), "Manifests[0].Platform")
            .err()
            .unwrap();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            (path, message),
            "{v}"
        );
    }
}

#[test]
fn current_device_uses_greengrass_names() {
    let d = DevicePlatform::current();
    if cfg!(target_os = "linux") {
        assert_eq!(d.os, "linux");
    }
    if cfg!(target_arch = "x86_64") {
        assert_eq!(d.architecture, "amd64");
    }
    assert_eq!(
        device().to_string(),
        "os=linux, architecture=amd64, com.example.Radio=lora-2"
    );
}
