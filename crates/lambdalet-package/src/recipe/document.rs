//! The top of a recipe: identity, configuration, dependencies and manifests, each checked
//! in document order so the first problem is the one reported.

use std::collections::BTreeMap;

use serde_json::Value;

use super::artifact::parse_artifacts;
use super::error::{Checked, Fault, describe, index, join, quote};
use super::fields::{Fields, choice, object, optional_text, string, text};
use super::identity::{check_name, check_source, check_version};
use super::model::{ComponentType, Dependency, DependencyType, Manifest, Recipe};
use super::platform::parse_platform;
use super::range::valid_range;
use super::selection::{effective, normalize};

/// The only recipe format there is.
pub const RECIPE_FORMAT_VERSION: &str = "2020-01-25";

const TOP_KEYS: &[&str] = &[
    "RecipeFormatVersion",
    "ComponentName",
    "ComponentVersion",
    "ComponentDescription",
    "ComponentPublisher",
    "ComponentType",
    "ComponentSource",
    "ComponentConfiguration",
    "ComponentDependencies",
    "Manifests",
    "Lifecycle",
];
const MANIFEST_KEYS: &[&str] = &["Name", "Platform", "Lifecycle", "Selections", "Artifacts"];
const DEPENDENCY_KEYS: &[&str] = &["VersionRequirement", "DependencyType"];

pub(crate) fn parse_document(v: &Value) -> Checked<Recipe> {
    if !v.is_object() {
        return Err(Fault::new(
            "",
            format!(
                "expected a recipe (an object with RecipeFormatVersion, ComponentName, ComponentVersion, …), got {}",
                describe(v)
            ),
        ));
    }
    let f = Fields::of(v, "", "a recipe", TOP_KEYS)?;
    let format_version = match f.get("RecipeFormatVersion") {
        Some(v) => text(v, "RecipeFormatVersion")?,
        None => String::new(),
    };
    if format_version != RECIPE_FORMAT_VERSION {
        let got = f
            .get("RecipeFormatVersion")
            .map_or("nothing".to_string(), describe);
        return Err(Fault::new(
            "RecipeFormatVersion",
            format!("expected \"{RECIPE_FORMAT_VERSION}\", got {got}"),
        ));
    }
    let name = required(
        &f,
        "ComponentName",
        "a component name such as com.example.HelloWorld",
    )?;
    check_name(&name, "ComponentName")?;
    let version = required(&f, "ComponentVersion", "a semantic version such as 1.0.0")?;
    check_version(&version, "ComponentVersion")?;
    let description = optional_text(&f, "ComponentDescription")?;
    let publisher = optional_text(&f, "ComponentPublisher")?;
    let component_type = parse_component_type(f.get("ComponentType"))?;
    let source = optional_text(&f, "ComponentSource")?;
    if let Some(arn) = &source {
        check_source(arn)?;
    }
    let default_configuration = parse_default_configuration(f.get("ComponentConfiguration"))?;
    let dependencies = parse_dependencies(f.get("ComponentDependencies"), &name)?;
    let mut manifests = parse_manifests(f.get("Manifests"))?;
    for (i, m) in manifests.iter_mut().enumerate() {
        // A manifest's own lifecycle has no selection keys: no keywords to leave alone.
        if let Some(own) = &m.lifecycle {
            m.lifecycle = Some(normalize(own, &format!("Manifests[{i}].Lifecycle"), &[])?);
        }
    }
    let lifecycle = match f.get("Lifecycle") {
        None => Value::Object(Default::default()),
        Some(l) => {
            object(l, "Lifecycle", "a lifecycle")?;
            normalize(l, "Lifecycle", &manifests)?
        }
    };
    let recipe = Recipe {
        format_version,
        name,
        version,
        description,
        publisher,
        component_type,
        source,
        default_configuration,
        dependencies,
        manifests,
        lifecycle,
    };
    // Check every lifecycle a device could end up running, now rather than mid-deployment.
    if recipe.manifests.is_empty() {
        effective(&recipe, None)?;
    }
    for (i, m) in recipe.manifests.iter().enumerate() {
        effective(&recipe, Some((i, m)))?;
    }
    Ok(recipe)
}

fn required(f: &Fields<'_>, name: &str, what: &str) -> Checked<String> {
    match f.get(name) {
        Some(v) => text(v, &f.path(name)),
        None => Err(Fault::new(
            f.path(name),
            format!("missing, expected {what}"),
        )),
    }
}

fn parse_component_type(v: Option<&Value>) -> Checked<ComponentType> {
    let Some(v) = v else {
        return Ok(ComponentType::default());
    };
    let names = ComponentType::ALL.map(ComponentType::as_str);
    let found = choice(v, "ComponentType", &names)?;
    Ok(ComponentType::ALL
        .into_iter()
        .find(|t| t.as_str() == found)
        .unwrap_or_default())
}

/// `ComponentConfiguration.DefaultConfiguration`, copied as it is: its keys are the
/// component's own.
fn parse_default_configuration(v: Option<&Value>) -> Checked<Value> {
    let Some(v) = v else {
        return Ok(Value::Object(Default::default()));
    };
    let f = Fields::of(
        v,
        "ComponentConfiguration",
        "ComponentConfiguration",
        &["DefaultConfiguration"],
    )?;
    Ok(match f.get("DefaultConfiguration") {
        None => Value::Object(Default::default()),
        Some(d) => {
            Value::Object(object(d, &f.path("DefaultConfiguration"), "a configuration")?.clone())
        }
    })
}

fn parse_dependencies(v: Option<&Value>, own_name: &str) -> Checked<BTreeMap<String, Dependency>> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (name, dep) in object(v, "ComponentDependencies", "component dependencies")? {
        let path = join("ComponentDependencies", name);
        check_name(name, &path)?;
        if name == own_name {
            return Err(Fault::new(path, "a component cannot depend on itself"));
        }
        let dependency = if dep.is_null() {
            Dependency {
                version_requirement: "*".to_string(),
                dependency_type: DependencyType::Hard,
            }
        } else {
            parse_dependency(dep, &path)?
        };
        out.insert(name.clone(), dependency);
    }
    Ok(out)
}

fn parse_dependency(v: &Value, path: &str) -> Checked<Dependency> {
    let f = Fields::of(v, path, "a dependency", DEPENDENCY_KEYS)?;
    let version_requirement = match f.get("VersionRequirement") {
        Some(r) => text(r, &f.path("VersionRequirement"))?,
        None => "*".to_string(),
    };
    if !valid_range(&version_requirement)
        || nodejs_semver::Range::parse(&version_requirement).is_err()
    {
        return Err(Fault::new(
            f.path("VersionRequirement"),
            format!(
                "expected an npm-style version range such as \">=2.0.0 <3.0.0\", \"^1.2\" or \"1.x\", got {}",
                quote(&version_requirement)
            ),
        ));
    }
    let dependency_type = match f.get("DependencyType") {
        Some(t) if choice(t, &f.path("DependencyType"), &["HARD", "SOFT"])? == "SOFT" => {
            DependencyType::Soft
        }
        _ => DependencyType::Hard,
    };
    Ok(Dependency {
        version_requirement,
        dependency_type,
    })
}

fn parse_manifests(v: Option<&Value>) -> Checked<Vec<Manifest>> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let items = v.as_array().ok_or_else(|| {
        Fault::new(
            "Manifests",
            format!("expected a list of manifests, got {}", describe(v)),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, m)| parse_manifest(m, &index("Manifests", i)))
        .collect()
}

fn parse_manifest(v: &Value, path: &str) -> Checked<Manifest> {
    let f = Fields::of(v, path, "a manifest", MANIFEST_KEYS)?;
    let lifecycle = match f.get("Lifecycle") {
        Some(l) => Some(Value::Object(
            object(l, &f.path("Lifecycle"), "a lifecycle")?.clone(),
        )),
        None => None,
    };
    let selections = match f.get("Selections") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| string(s, &index(&f.path("Selections"), i)))
            .collect::<Checked<_>>()?,
        // The recipe schema allows a single selection written as a string.
        Some(one) => vec![string(one, &f.path("Selections"))?],
    };
    Ok(Manifest {
        name: optional_text(&f, "Name")?,
        platform: parse_platform(f.get("Platform"), &f.path("Platform"))?,
        lifecycle,
        selections,
        artifacts: parse_artifacts(f.get("Artifacts"), &f.path("Artifacts"))?,
    })
}
