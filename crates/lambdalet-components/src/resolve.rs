//! From what is deployed and what a deployment asks, the set of components to run: versions,
//! dependencies (npm-style ranges, HARD and SOFT), the manifest for this device, the effective
//! configuration, and the order to start them in. Pure: recipes come from a lookup, nothing is
//! touched, so every way a deployment can be wrong is found before anything stops.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lambdalet_package::recipe::{
    ConfigUpdate, DependencyType, DevicePlatform, Lifecycle, Recipe, apply_config_update,
};
use serde_json::Value;

use crate::builtin::builtin_version;
use crate::error::DeployError;

/// A component as deployed now.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub version: String,
    pub configuration: Value,
    pub requested: bool,
}

/// What a deployment asks for one component.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wanted {
    pub version: String,
    pub update: Option<ConfigUpdate>,
}

/// Where recipes come from (the component store, including the deployment's own).
pub trait Recipes {
    fn recipe(&self, name: &str, version: &str) -> Result<Option<Arc<Recipe>>, DeployError>;
    fn versions(&self, name: &str) -> Result<Vec<String>, DeployError>;
}

/// One component of the resolved set.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub version: String,
    pub recipe: Arc<Recipe>,
    /// The index of the manifest chosen for this device, if the recipe has any.
    pub manifest: Option<usize>,
    pub lifecycle: Lifecycle,
    pub configuration: Value,
    pub requested: bool,
}

/// The resolved set, in start order (every component after what it depends on).
#[derive(Debug, Clone)]
pub struct Plan {
    pub components: Vec<Resolved>,
    /// Things worth telling the user that do not stop the deployment.
    pub notes: Vec<String>,
}

#[cfg(test)]
impl Plan {
    pub fn get(&self, name: &str) -> Option<&Resolved> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// Resolves the components to run after a deployment that merges `merge` and removes
/// `remove` on top of `current`.
pub fn resolve(
    current: &BTreeMap<String, Current>,
    merge: &BTreeMap<String, Wanted>,
    remove: &BTreeSet<String>,
    recipes: &dyn Recipes,
    device: &DevicePlatform,
) -> Result<Plan, DeployError> {
    for name in remove {
        if merge.contains_key(name) {
            return Err(DeployError::Invalid(format!(
                "{name} is both merged and removed: a deployment does one or the other"
            )));
        }
    }
    // What was asked for, now or by an earlier deployment.
    let mut versions: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (name, c) in current {
        if c.requested && !remove.contains(name) {
            versions.insert(name.clone(), (c.version.clone(), true));
        }
    }
    for (name, w) in merge {
        if builtin_version(name).is_some() {
            return Err(DeployError::Invalid(format!(
                "{name} is part of lambdalet itself and cannot be deployed; leave it out (recipes that depend on it need nothing more)"
            )));
        }
        versions.insert(name.clone(), (w.version.clone(), true));
    }
    let mut notes = Vec::new();
    let mut loaded: BTreeMap<String, Arc<Recipe>> = BTreeMap::new();
    let mut queue: Vec<String> = versions.keys().cloned().collect();
    while let Some(name) = queue.pop() {
        let (version, _) = versions[&name].clone();
        let recipe = recipes.recipe(&name, &version)?.ok_or_else(|| {
            DeployError::Invalid(format!(
                "no recipe for {name} {version}: put {name}-{version}.yaml (or .json) in the recipe directory"
            ))
        })?;
        for (dep, d) in &recipe.dependencies {
            let need = &d.version_requirement;
            if let Some(v) = builtin_version(dep) {
                if !d.accepts(v) {
                    return Err(DeployError::Invalid(format!(
                        "{name} {version} needs {dep} {need}, but lambdalet provides {dep} {v}"
                    )));
                }
                continue;
            }
            if let Some((v, _)) = versions.get(dep) {
                if !d.accepts(v) {
                    return Err(DeployError::Invalid(format!(
                        "{name} {version} needs {dep} {need}, but {dep} {v} is being deployed"
                    )));
                }
                continue;
            }
            let kept = current.get(dep).filter(|c| d.accepts(&c.version));
            let chosen = match kept {
                Some(c) => Some(c.version.clone()),
                None => newest_accepted(recipes, dep, |v| d.accepts(v))?,
            };
            match chosen {
                Some(v) => {
                    versions.insert(dep.clone(), (v, false));
                    queue.push(dep.clone());
                }
                None if d.dependency_type == DependencyType::Soft => notes.push(format!(
                    "{name} {version}: its SOFT dependency {dep} {need} is not deployed and no recipe for it was given; started without it"
                )),
                None => {
                    return Err(DeployError::Invalid(format!(
                        "{name} {version} needs {dep} {need} (HARD), which is neither deployed nor among the recipes: add a recipe for {dep} to the recipe directory and --merge it"
                    )));
                }
            }
        }
        loaded.insert(name, recipe);
    }
    let order = start_order(&loaded)?;
    let mut components = Vec::with_capacity(order.len());
    for name in order {
        let recipe = loaded[&name].clone();
        let (version, requested) = versions[&name].clone();
        let chosen = recipe
            .select_manifest(device)
            .map_err(|e| DeployError::Invalid(e.to_string()))?;
        let manifest =
            chosen.and_then(|m| recipe.manifests.iter().position(|x| std::ptr::eq(x, m)));
        let lifecycle = recipe
            .lifecycle_for(chosen)
            .map_err(|e| DeployError::Invalid(e.to_string()))?;
        let configuration = configuration_of(
            &recipe.default_configuration,
            current.get(&name),
            merge.get(&name).and_then(|w| w.update.as_ref()),
        )
        .map_err(|e| DeployError::Invalid(format!("{name}: configuration update: {e}")))?;
        components.push(Resolved {
            name,
            version,
            recipe,
            manifest,
            lifecycle,
            configuration,
            requested,
        });
    }
    Ok(Plan { components, notes })
}

/// The configuration a component runs with: what it had (new defaults fill in keys a new
/// version added), or its recipe's defaults, then the deployment's RESET and MERGE.
fn configuration_of(
    defaults: &Value,
    current: Option<&Current>,
    update: Option<&ConfigUpdate>,
) -> Result<Value, String> {
    let base = match current {
        Some(c) => {
            let keep = ConfigUpdate {
                merge: Some(c.configuration.clone()),
                reset: Vec::new(),
            };
            apply_config_update(defaults, defaults, &keep)?
        }
        None => defaults.clone(),
    };
    match update {
        Some(u) => apply_config_update(defaults, &base, u),
        None => Ok(base),
    }
}

fn newest_accepted(
    recipes: &dyn Recipes,
    name: &str,
    accepts: impl Fn(&str) -> bool,
) -> Result<Option<String>, DeployError> {
    let mut best: Option<(nodejs_semver::Version, String)> = None;
    for v in recipes.versions(name)? {
        let Ok(parsed) = nodejs_semver::Version::parse(&v) else {
            continue;
        };
        if accepts(&v) && best.as_ref().is_none_or(|(b, _)| parsed > *b) {
            best = Some((parsed, v));
        }
    }
    Ok(best.map(|(_, v)| v))
}

/// Dependencies first; a cycle is an error that names it.
fn start_order(recipes: &BTreeMap<String, Arc<Recipe>>) -> Result<Vec<String>, DeployError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        recipes: &BTreeMap<String, Arc<Recipe>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), DeployError> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = path.iter().position(|p| p == name).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(name.to_owned());
                return Err(DeployError::Invalid(format!(
                    "dependency cycle: {}; a component cannot depend on itself, directly or through others",
                    cycle.join(" → ")
                )));
            }
            None => {}
        }
        marks.insert(name.to_owned(), Mark::Visiting);
        path.push(name.to_owned());
        if let Some(r) = recipes.get(name) {
            for dep in r.dependencies.keys() {
                if recipes.contains_key(dep) {
                    visit(dep, recipes, marks, path, out)?;
                }
            }
        }
        path.pop();
        marks.insert(name.to_owned(), Mark::Done);
        out.push(name.to_owned());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut out = Vec::new();
    for name in recipes.keys() {
        visit(name, recipes, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
