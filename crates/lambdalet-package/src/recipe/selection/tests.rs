//! The effective lifecycle: manifest first, then the global one through selections.

use serde_json::json;

use super::*;
use crate::recipe::{DevicePlatform, Platform, parse_recipe};

fn recipe(manifests: Value, lifecycle: Value) -> Checked<Recipe> {
    let doc = json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.example.Sel",
        "ComponentVersion": "1.0.0",
        "Manifests": manifests,
        "Lifecycle": lifecycle,
    });
    parse_recipe("sel.json", doc.to_string().as_bytes()).map_err(|e| Fault::new(e.path, e.message))
}

fn run_of(r: &Recipe, i: Option<usize>) -> Option<String> {
    let m = i.map(|i| &r.manifests[i]);
    r.lifecycle_for(m).unwrap().run.map(|s| s.script)
}

#[test]
fn manifest_lifecycle_wins_unless_empty() {
    let r = recipe(
        json!([{"Platform": {"os": "windows"}, "Lifecycle": {"Run": "own"}}, {"Lifecycle": {}}]),
        json!({"Run": "global"}),
    )
    .unwrap();
    assert_eq!(run_of(&r, Some(0)), Some("own".into()));
    assert_eq!(run_of(&r, Some(1)), Some("global".into()));
    let chosen = r
        .select_manifest(&DevicePlatform::new("linux", "amd64"))
        .unwrap();
    assert_eq!(
        r.lifecycle_for(chosen).unwrap().run.unwrap().script,
        "global"
    );
}

#[test]
fn top_level_selections() {
    let r = recipe(
        json!([
            {"Platform": {"os": "linux"}, "Selections": ["key1"]},
            {"Platform": {"os": "darwin"}, "Selections": ["key2", "all"]},
            {"Platform": {"os": "windows"}, "Selections": ["key3"]},
            {}
        ]),
        json!({"key1": {"Run": "one"}, "key2": {"Run": "two"}, "all": {"Run": "default"}}),
    )
    .unwrap();
    assert_eq!(run_of(&r, Some(0)), Some("one".into()));
    assert_eq!(run_of(&r, Some(1)), Some("two".into()));
    // key3 has no section: the nucleus falls back to `all` even though it is not listed.
    assert_eq!(run_of(&r, Some(2)), Some("default".into()));
    assert_eq!(run_of(&r, Some(3)), Some("default".into()));
}

#[test]
fn bottom_level_and_nested_selections() {
    let r = recipe(
        json!([{"Selections": ["key1"]}, {"Selections": ["key2"]}, {"Selections": ["key3"]}]),
        json!({
            "Install": {"Script": {"key1": "install one", "all": "install any"}, "Timeout": {"key2": 9}},
            "Run": {"key3": {"Script": "run three"}},
        }),
    )
    .unwrap();
    let l0 = r.lifecycle_for(Some(&r.manifests[0])).unwrap();
    assert_eq!(l0.install.as_ref().unwrap().script, "install one");
    assert_eq!(l0.install.as_ref().unwrap().timeout_seconds, None);
    assert_eq!(l0.run, None);
    let l1 = r.lifecycle_for(Some(&r.manifests[1])).unwrap();
    assert_eq!(l1.install.as_ref().unwrap().script, "install any");
    assert_eq!(l1.install.as_ref().unwrap().timeout_seconds, Some(9));
    let l2 = r.lifecycle_for(Some(&r.manifests[2])).unwrap();
    assert_eq!(l2.run.unwrap().script, "run three");
}

#[test]
fn no_manifests_use_all() {
    let r = recipe(
        json!([]),
        json!({"all": {"Run": "x"}, "other": {"Run": "y"}}),
    );
    // `other` is no manifest's selection, so it is an unknown lifecycle key… but only the
    // `all` branch is read, and `other` sits beside a keyword: refused.
    assert_eq!(
        r.err().unwrap(),
        Fault::new(
            "Lifecycle",
            "has both selection keys (all) and other keys (other), and the other keys would be ignored; move them under a selection key such as \"all\""
        )
    );
    let r = recipe(json!([]), json!({"all": {"Run": "x"}})).unwrap();
    assert_eq!(run_of(&r, None), Some("x".into()));
    assert_eq!(r.select_manifest(&DevicePlatform::current()).unwrap(), None);
}

#[test]
fn errors_carry_the_selected_path() {
    let e = recipe(
        json!([{"Selections": ["key1"]}]),
        json!({"key1": {"Run": {"Script": "x", "Timeout": "soon"}}}),
    );
    assert_eq!(e.err().unwrap().path, "Lifecycle.key1.Run.Timeout");
    let e = recipe(
        json!([{"Lifecycle": {"run": "a", "Startup": "b"}}]),
        json!({}),
    );
    assert_eq!(e.err().unwrap().path, "Manifests[0].Lifecycle");
}

#[test]
fn normalize_fixes_case_but_not_selection_keys_or_setenv() {
    let manifests = vec![Manifest {
        name: None,
        platform: Default::default(),
        lifecycle: None,
        selections: vec!["install".into()],
        artifacts: vec![],
    }];
    let v =
        json!({"install": {"run": {"script": "x", "setenv": {"path": "p"}}}, "SETENV": {"a": 1}});
    let got = normalize(&v, "Lifecycle", &manifests).unwrap();
    assert_eq!(
        got,
        json!({"install": {"Run": {"Script": "x", "Setenv": {"path": "p"}}}, "Setenv": {"a": 1}})
    );
    let twice = normalize(&json!({"Run": "a", "run": "b"}), "Lifecycle", &[])
        .err()
        .unwrap();
    assert_eq!(twice.path, "Lifecycle");
}

#[test]
fn a_foreign_manifest_is_refused() {
    let r = recipe(json!([{}]), json!({})).unwrap();
    let stranger = Manifest {
        name: Some("x".into()),
        platform: Platform::default(),
        lifecycle: Some(json!({"Run": "z"})),
        selections: vec![],
        artifacts: vec![],
    };
    let e = r.lifecycle_for(Some(&stranger)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "com.example.Sel@1.0.0: Manifests: the manifest \"x\" is not one of this recipe's"
    );
}
