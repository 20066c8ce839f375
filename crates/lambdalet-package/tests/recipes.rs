//! Snapshot tests for the recipe parser: every `tests/recipes/NAME.{json,yaml,yml}` at the
//! repository root is parsed, and the result must equal `NAME.expected.json` (the recipe,
//! plus the manifest and lifecycle chosen for linux/amd64) or `NAME.expected.err` (the
//! exact error text). Run with `UPDATE_SNAPSHOTS=1` to rewrite the expected files, then
//! review the change in git.

#![allow(
    clippy::unwrap_used,
    reason = "a failing unwrap is how a test reports failure"
)]

use std::fs;
use std::path::{Path, PathBuf};

use lambdalet_package::recipe::{DevicePlatform, Recipe, parse_recipe};
use serde_json::{Value, json};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/recipes")
}

/// Recipe files, sorted; expected files are not cases.
fn cases() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.contains(".expected.")
                && [".json", ".yaml", ".yml"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
        })
        .collect();
    found.sort();
    found
}

/// What a successful parse is pinned as: the recipe, and what linux/amd64 would run.
fn snapshot(recipe: &Recipe) -> Value {
    let device = DevicePlatform::new("linux", "amd64");
    let on_linux_amd64 = match recipe.select_manifest(&device) {
        Err(e) => json!({ "error": e.to_string() }),
        Ok(manifest) => {
            let index = manifest.map(|m| recipe.manifests.iter().position(|x| x == m).unwrap());
            let lifecycle = recipe.lifecycle_for(manifest).unwrap();
            json!({ "manifest": index, "lifecycle": lifecycle })
        }
    };
    json!({ "recipe": recipe, "linuxAmd64": on_linux_amd64 })
}

/// The path of `case`'s expected file with the given suffix (`json` or `err`).
fn expected(case: &Path, suffix: &str) -> PathBuf {
    let stem = case.file_stem().unwrap().to_string_lossy();
    case.with_file_name(format!("{stem}.expected.{suffix}"))
}

#[test]
fn recipe_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let cases = cases();
    assert!(
        cases.len() >= 20,
        "only {} recipe cases found in {:?}",
        cases.len(),
        cases_dir()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let file_name = case.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read(case).unwrap();
        let (actual, suffix, other) = match parse_recipe(&file_name, &text) {
            Ok(recipe) => {
                // The JSON of a recipe is a recipe, and reads back the same.
                let again = parse_recipe("round-trip.json", &serde_json::to_vec(&recipe).unwrap());
                if again.as_ref() != Ok(&recipe) {
                    failures.push(format!("{file_name}: does not round-trip: {again:?}"));
                }
                let pretty = serde_json::to_string_pretty(&snapshot(&recipe)).unwrap();
                (format!("{pretty}\n"), "json", "err")
            }
            Err(e) => (format!("{e}\n"), "err", "json"),
        };
        let want_path = expected(case, suffix);
        let other_path = expected(case, other);
        if update {
            fs::write(&want_path, &actual).unwrap();
            let _ = fs::remove_file(&other_path);
            continue;
        }
        if other_path.exists() {
            failures.push(format!(
                "{file_name}: expected {} but got:\n{actual}",
                other_path.file_name().unwrap().to_string_lossy()
            ));
            continue;
        }
        match fs::read_to_string(&want_path) {
            Ok(want) if want == actual => {}
            Ok(want) => failures.push(format!(
                "{file_name}:\n--- expected\n{want}--- actual\n{actual}"
            )),
            Err(_) => failures.push(format!(
                "{file_name}: no {} yet; got:\n{actual}",
                want_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} recipe snapshots differ (UPDATE_SNAPSHOTS=1 rewrites them):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Expected files whose recipe was deleted or renamed would silently stop being checked.
#[test]
fn no_orphaned_expectations() {
    let cases = cases();
    for entry in fs::read_dir(cases_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((stem, _)) = name.split_once(".expected.") else {
            continue;
        };
        let owned = cases
            .iter()
            .any(|c| c.file_stem().unwrap().to_string_lossy() == stem);
        assert!(owned, "{name} has no recipe next to it");
    }
}
