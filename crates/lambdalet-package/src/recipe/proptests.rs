//! Properties over arbitrary input: recipe text comes from outside, so no input may make
//! the parser, the matcher, interpolation or a config update panic.

use proptest::prelude::*;
use serde_json::json;

use super::pattern::Pattern;
use super::*;

const SAMPLE: &str = r#"RecipeFormatVersion: "2020-01-25"
ComponentName: com.example.Prop
ComponentVersion: 1.0.0
ComponentDependencies:
  aws.greengrass.Nucleus: {VersionRequirement: ">=2.0.0 <3.0.0", DependencyType: SOFT}
Manifests:
  - Platform: {os: linux, architecture: /amd64|arm.*/}
    Selections: [key1]
    Artifacts:
      - {Uri: "s3://b/k/a.zip", Unarchive: ZIP, Permission: {Read: ALL}}
Lifecycle:
  key1:
    Setenv: {A: "1"}
    Install: {Script: "x", Skipif: "onpath y", Timeout: 5}
    Run: "{configuration:/a} {iot:thingName}"
"#;

#[test]
fn the_sample_is_a_valid_recipe() {
    let recipe = parse_recipe("r.yaml", SAMPLE.as_bytes()).unwrap();
    let device = DevicePlatform::new("linux", "amd64");
    let manifest = recipe.select_manifest(&device).unwrap();
    assert!(recipe.lifecycle_for(manifest).unwrap().install.is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_recipe("r.yaml", &bytes);
        let _ = parse_recipe("r.json", &bytes);
    }

    #[test]
    fn mutated_recipes_never_panic(at in 0..SAMPLE.len(), byte in any::<u8>(), cut in 0..SAMPLE.len()) {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        bytes[at] = byte;
        if let Ok(recipe) = parse_recipe("r.yaml", &bytes) {
            let device = DevicePlatform::new("linux", "amd64");
            if let Ok(m) = recipe.select_manifest(&device) {
                let _ = recipe.lifecycle_for(m);
            }
        }
        let _ = parse_recipe("r.yaml", &SAMPLE.as_bytes()[..cut]);
    }

    #[test]
    fn patterns_never_panic(source in "[a-z0-9().|*+?{},\\[\\]^$\\\\-]{0,12}", text in "[a-z0-9.-]{0,12}") {
        if let Ok(p) = Pattern::compile(&source) {
            let _ = p.matches(&text);
        }
    }

    #[test]
    fn interpolation_never_panics(text in "[{}a-z:/.é ]{0,40}") {
        let ctx = VarContext {
            own: ComponentVars { configuration: json!({"a": {"b": [1]}}), ..Default::default() },
            ..Default::default()
        };
        let out = interpolate(&text, &ctx);
        if !text.contains('{') {
            prop_assert_eq!(out, text);
        }
    }

    #[test]
    fn config_updates_never_panic(pointers in proptest::collection::vec("(/[a-z0-9~]{0,3}){0,4}", 0..4)) {
        let defaults = json!({"a": {"b": [1, {"c": 2}]}, "d": 3});
        let current = json!({"a": {"b": [9]}, "e": {"f": null}});
        let update = ConfigUpdate { merge: Some(json!({"a": {"x": 1}})), reset: pointers };
        prop_assert!(apply_config_update(&defaults, &current, &update).is_ok());
    }
}
