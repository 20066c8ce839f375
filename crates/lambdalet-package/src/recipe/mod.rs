//! Greengrass component recipes: parsed, checked, and the pure pieces a deployment needs.
//!
//! [`parse_recipe`] turns a JSON or YAML recipe (format `2020-01-25`, GG2
//! component-recipe-reference.md) into a [`Recipe`], or refuses it with a [`RecipeError`]
//! that names the file, the field path in the recipe's canonical names and what was
//! expected. Keys and enum values are matched ignoring case, as the nucleus does; the
//! component's own data (`DefaultConfiguration`, `Setenv` names, component names) is kept
//! exactly as written. Every lifecycle a device could run is checked at parse time.
//!
//! Given a parsed recipe, the deployment engine picks the manifest for a device
//! ([`Recipe::select_manifest`]), gets the effective lifecycle ([`Recipe::lifecycle_for`]),
//! fills in recipe variables ([`interpolate`]) and applies configuration updates
//! ([`apply_config_update`]).
//!
//! This module must not do I/O or run anything: no downloads, no files, no processes.
//! It decides what a recipe means; the engine acts on it.

mod artifact;
mod config;
mod document;
mod error;
mod fields;
mod identity;
mod lifecycle;
mod model;
mod pattern;
mod platform;
mod range;
mod selection;
mod source;
mod uri;
mod vars;

pub use artifact::{Access, Artifact, ArtifactUri, DigestAlgorithm, Permission, Unarchive};
pub use config::{
    ConfigUpdate, apply_config_update, parse_cli_config_update, parse_deployment_config_update,
};
pub use document::RECIPE_FORMAT_VERSION;
pub use error::RecipeError;
pub use lifecycle::{Lifecycle, SkipIf, Step, StepKind};
pub use model::{ComponentType, Dependency, DependencyType, Manifest, Recipe};
pub use platform::{DevicePlatform, Platform};
pub use vars::{ComponentVars, VarContext, interpolate};

/// Parses and checks the recipe `text`, read from `file_name`.
///
/// The format comes from the extension: `.json` is JSON, `.yaml`/`.yml` YAML; any other
/// name is JSON when the text starts with `{`, else YAML. `file_name` is only used to pick
/// the format and to name the file in errors.
pub fn parse_recipe(file_name: &str, text: &[u8]) -> Result<Recipe, RecipeError> {
    let format = source::detect(file_name, text);
    source::load(format, text)
        .and_then(|doc| document::parse_document(&doc))
        .map_err(|fault| fault.in_file(file_name))
}

#[cfg(test)]
mod proptests;
