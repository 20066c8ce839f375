use super::*;
use lambdalet_package::recipe::parse_recipe;

struct Store(BTreeMap<(String, String), Arc<Recipe>>);

impl Store {
    fn new(recipes: &[&str]) -> Self {
        let mut m = BTreeMap::new();
        for (i, text) in recipes.iter().enumerate() {
            let r = parse_recipe(&format!("r{i}.yaml"), text.as_bytes()).unwrap();
            m.insert((r.name.clone(), r.version.clone()), Arc::new(r));
        }
        Self(m)
    }
}

impl Recipes for Store {
    fn recipe(&self, name: &str, version: &str) -> Result<Option<Arc<Recipe>>, DeployError> {
        Ok(self.0.get(&(name.to_owned(), version.to_owned())).cloned())
    }
    fn versions(&self, name: &str) -> Result<Vec<String>, DeployError> {
        Ok(self
            .0
            .keys()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect())
    }
}

fn recipe(name: &str, version: &str, deps: &[(&str, &str, &str)]) -> String {
    let mut s = format!(
        "RecipeFormatVersion: '2020-01-25'\nComponentName: {name}\nComponentVersion: '{version}'\nComponentConfiguration:\n  DefaultConfiguration:\n    message: hello\n    nested: {{a: 1, b: 2}}\n"
    );
    if !deps.is_empty() {
        s.push_str("ComponentDependencies:\n");
        for (d, req, kind) in deps {
            s.push_str(&format!(
                "  {d}:\n    VersionRequirement: '{req}'\n    DependencyType: {kind}\n"
            ));
        }
    }
    s.push_str("Manifests:\n  - Platform: {os: linux}\n    Lifecycle:\n      run: echo hi\n");
    s
}

fn merge(items: &[(&str, &str)]) -> BTreeMap<String, Wanted> {
    items
        .iter()
        .map(|(n, v)| {
            (
                (*n).to_owned(),
                Wanted {
                    version: (*v).to_owned(),
                    update: None,
                },
            )
        })
        .collect()
}

fn device() -> DevicePlatform {
    DevicePlatform {
        os: "linux".into(),
        architecture: "amd64".into(),
        extra: BTreeMap::new(),
    }
}

/// Resolves a first deployment (nothing deployed yet) merging `items`.
fn fresh(s: &Store, items: &[(&str, &str)]) -> Result<Plan, DeployError> {
    resolve(
        &BTreeMap::new(),
        &merge(items),
        &BTreeSet::new(),
        s,
        &device(),
    )
}

fn names(p: &Plan) -> Vec<String> {
    p.components
        .iter()
        .map(|c| format!("{}={}", c.name, c.version))
        .collect()
}

#[test]
fn dependencies_come_first_at_the_newest_accepted_version() {
    let s = Store::new(&[
        &recipe("app", "1.0.0", &[("lib", "^1.0.0", "HARD")]),
        &recipe("lib", "1.0.0", &[]),
        &recipe("lib", "1.4.0", &[]),
        &recipe("lib", "2.0.0", &[]),
    ]);
    let p = fresh(&s, &[("app", "1.0.0")]).unwrap();
    assert_eq!(names(&p), ["lib=1.4.0", "app=1.0.0"]);
    assert!(!p.get("lib").unwrap().requested);
    assert!(p.get("app").unwrap().requested);
}

#[test]
fn builtin_dependencies_are_met_by_lambdalet() {
    let s = Store::new(&[&recipe(
        "fn",
        "8.0.0",
        &[
            ("aws.greengrass.LambdaLauncher", ">=2.0.0 <3.0.0", "HARD"),
            ("aws.greengrass.LambdaRuntimes", ">=2.0.0 <3.0.0", "SOFT"),
        ],
    )]);
    let p = fresh(&s, &[("fn", "8.0.0")]).unwrap();
    assert_eq!(names(&p), ["fn=8.0.0"]);
    let s = Store::new(&[&recipe(
        "fn",
        "8.0.0",
        &[("aws.greengrass.Nucleus", ">=3.0.0", "HARD")],
    )]);
    let e = fresh(&s, &[("fn", "8.0.0")]).unwrap_err().to_string();
    assert!(
        e.contains("lambdalet provides aws.greengrass.Nucleus"),
        "{e}"
    );
}

#[test]
fn a_missing_hard_dependency_is_named_and_a_soft_one_noted() {
    let s = Store::new(&[&recipe(
        "app",
        "1.0.0",
        &[("com.example.Missing", "^1.0.0", "HARD")],
    )]);
    let e = fresh(&s, &[("app", "1.0.0")]).unwrap_err().to_string();
    assert!(e.contains("com.example.Missing ^1.0.0 (HARD)"), "{e}");
    let s = Store::new(&[&recipe(
        "app",
        "1.0.0",
        &[("com.example.Missing", "^1.0.0", "SOFT")],
    )]);
    let p = fresh(&s, &[("app", "1.0.0")]).unwrap();
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
}

#[test]
fn a_cycle_is_refused_and_named() {
    let s = Store::new(&[
        &recipe("a", "1.0.0", &[("b", "*", "HARD")]),
        &recipe("b", "1.0.0", &[("c", "*", "SOFT")]),
        &recipe("c", "1.0.0", &[("a", "*", "HARD")]),
    ]);
    let e = fresh(&s, &[("a", "1.0.0")]).unwrap_err().to_string();
    assert!(e.contains("dependency cycle: a → b → c → a"), "{e}");
}

#[test]
fn a_conflicting_requirement_is_refused() {
    let s = Store::new(&[
        &recipe("app", "1.0.0", &[("lib", "^1.0.0", "HARD")]),
        &recipe("lib", "2.0.0", &[]),
    ]);
    let e = fresh(&s, &[("app", "1.0.0"), ("lib", "2.0.0")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs lib ^1.0.0, but lib 2.0.0 is being deployed"),
        "{e}"
    );
}

#[test]
fn removing_keeps_the_rest_and_unknown_platforms_fail() {
    let s = Store::new(&[&recipe("a", "1.0.0", &[]), &recipe("b", "1.0.0", &[])]);
    let mut current = BTreeMap::new();
    for n in ["a", "b"] {
        current.insert(
            n.to_owned(),
            Current {
                version: "1.0.0".into(),
                configuration: serde_json::json!({"message": "kept"}),
                requested: true,
            },
        );
    }
    let remove: BTreeSet<String> = ["a".to_owned()].into();
    let p = resolve(&current, &BTreeMap::new(), &remove, &s, &device()).unwrap();
    assert_eq!(names(&p), ["b=1.0.0"]);
    assert_eq!(
        p.get("b").unwrap().configuration,
        serde_json::json!({"message": "kept", "nested": {"a": 1, "b": 2}})
    );
    let windows = DevicePlatform {
        os: "windows".into(),
        architecture: "amd64".into(),
        extra: BTreeMap::new(),
    };
    let e = resolve(&current, &BTreeMap::new(), &remove, &s, &windows)
        .unwrap_err()
        .to_string();
    assert!(e.contains("windows"), "{e}");
}

#[test]
fn configuration_updates_reset_then_merge() {
    let s = Store::new(&[&recipe("a", "1.0.0", &[])]);
    let mut current = BTreeMap::new();
    current.insert(
        "a".to_owned(),
        Current {
            version: "1.0.0".into(),
            configuration: serde_json::json!({"message": "changed", "nested": {"a": 9, "b": 2}}),
            requested: true,
        },
    );
    let mut m = merge(&[("a", "1.0.0")]);
    m.get_mut("a").unwrap().update = Some(ConfigUpdate {
        merge: Some(serde_json::json!({"nested": {"c": 3}})),
        reset: vec!["/message".into()],
    });
    let p = resolve(&current, &m, &BTreeSet::new(), &s, &device()).unwrap();
    assert_eq!(
        p.get("a").unwrap().configuration,
        serde_json::json!({"message": "hello", "nested": {"a": 9, "b": 2, "c": 3}})
    );
}
