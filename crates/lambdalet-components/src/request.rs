//! A deployment as a client submits it: the recipes it brings, the artifacts it uploaded, the
//! components to merge (with configuration updates) and to remove. The shape follows the
//! Greengrass local deployment (`greengrass-cli deployment create`); the recipe and artifact
//! directories are read by the client, which sends their contents.

use std::collections::{BTreeMap, BTreeSet};

use lambdalet_package::recipe::{
    ConfigUpdate, Recipe, parse_deployment_config_update, parse_recipe,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DeployError;
use crate::resolve::Wanted;

/// `POST /lambdalet/v1/deployments`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentRequest {
    /// Every recipe file of the recipe directory.
    #[serde(default)]
    pub recipes: Vec<RecipeFile>,
    /// `"NAME/VERSION/FILE"` → SHA-256 (hex) of each file of the artifact directory, uploaded
    /// before with `PUT /lambdalet/v1/artifacts/{sha256}`.
    #[serde(default)]
    pub artifacts: BTreeMap<String, String>,
    /// Components to add or change: name → version and configuration update.
    #[serde(default)]
    pub components: BTreeMap<String, ComponentRequest>,
    #[serde(default)]
    pub components_to_remove: Vec<String>,
    /// The thing group (`--groupId`); `LOCAL_DEPLOYMENT` when absent, as Greengrass names it.
    #[serde(default)]
    pub group_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecipeFile {
    pub file_name: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentRequest {
    /// `componentVersion` in Greengrass's deployment documents.
    #[serde(alias = "componentVersion")]
    pub version: String,
    /// `{"merge": {...} | "<json>", "reset": ["/pointer", ...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_update: Option<Value>,
}

/// A request checked: recipes parsed, artifacts assigned to their recipes, updates read.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Each recipe, with the text it came from and its artifacts (file name → hash).
    pub recipes: Vec<(Recipe, RecipeFile, BTreeMap<String, String>)>,
    pub merge: BTreeMap<String, Wanted>,
    pub remove: BTreeSet<String>,
    pub group: String,
}

/// Checks a request before anything is stored. `has_blob` says whether an artifact hash was
/// uploaded.
pub fn check(
    req: &DeploymentRequest,
    has_blob: &dyn Fn(&str) -> bool,
) -> Result<Checked, DeployError> {
    if req.components.is_empty() && req.components_to_remove.is_empty() {
        return Err(DeployError::Invalid(
            "the deployment changes nothing: merge a component (--merge NAME=VERSION) or remove one (--remove NAME)"
                .to_owned(),
        ));
    }
    let group = match &req.group_name {
        None => "LOCAL_DEPLOYMENT".to_owned(),
        Some(g) if g.is_empty() || g.contains(':') => {
            return Err(DeployError::Invalid(format!(
                "group {g:?} is not valid: a thing group name is not empty and has no ':'"
            )));
        }
        Some(g) => format!("thinggroup/{g}"),
    };
    let mut artifacts: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for (key, sha) in &req.artifacts {
        let parts: Vec<&str> = key.splitn(3, '/').collect();
        let [name, version, file] = parts.as_slice() else {
            return Err(DeployError::Invalid(format!(
                "artifact {key:?} is not NAME/VERSION/FILE: the artifact directory holds NAME/VERSION/FILE"
            )));
        };
        if file.contains('/') || file.is_empty() {
            return Err(DeployError::Invalid(format!(
                "artifact {key:?}: artifacts are files directly in NAME/VERSION/, not in subdirectories"
            )));
        }
        if !has_blob(sha) {
            return Err(DeployError::Invalid(format!(
                "artifact {key} ({sha}) was not uploaded: PUT it to /lambdalet/v1/artifacts/{sha} first"
            )));
        }
        artifacts
            .entry(((*name).to_owned(), (*version).to_owned()))
            .or_default()
            .insert((*file).to_owned(), sha.clone());
    }
    let mut recipes = Vec::new();
    let mut seen = BTreeMap::new();
    for f in &req.recipes {
        let r = parse_recipe(&f.file_name, f.text.as_bytes())
            .map_err(|e| DeployError::Invalid(e.to_string()))?;
        if let Some(other) = seen.insert((r.name.clone(), r.version.clone()), f.file_name.clone()) {
            return Err(DeployError::Invalid(format!(
                "{} and {} are both {} {}: keep one recipe per component version",
                other, f.file_name, r.name, r.version
            )));
        }
        let own = artifacts
            .remove(&(r.name.clone(), r.version.clone()))
            .unwrap_or_default();
        recipes.push((r, f.clone(), own));
    }
    if let Some(((name, version), _)) = artifacts.into_iter().next() {
        return Err(DeployError::Invalid(format!(
            "the artifact directory has {name}/{version}/ but no recipe for {name} {version} was given"
        )));
    }
    let mut merge = BTreeMap::new();
    for (name, c) in &req.components {
        nodejs_semver::Version::parse(&c.version).map_err(|_| {
            DeployError::Invalid(format!(
                "{name}={}: {:?} is not a semantic version (MAJOR.MINOR.PATCH)",
                c.version, c.version
            ))
        })?;
        let update: Option<ConfigUpdate> =
            match &c.configuration_update {
                None | Some(Value::Null) => None,
                Some(v) => Some(parse_deployment_config_update(v).map_err(|e| {
                    DeployError::Invalid(format!("{name}: configurationUpdate: {e}"))
                })?),
            };
        merge.insert(
            name.clone(),
            Wanted {
                version: c.version.clone(),
                update,
            },
        );
    }
    Ok(Checked {
        recipes,
        merge,
        remove: req.components_to_remove.iter().cloned().collect(),
        group,
    })
}
