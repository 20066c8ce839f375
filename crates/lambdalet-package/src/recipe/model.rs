//! The parsed recipe. Fields keep what the author wrote (names, versions, ranges, the
//! global lifecycle) after validation; enums replace the case-insensitive strings.
//!
//! Every type serializes under the recipe's own canonical names (`ComponentName`,
//! `Manifests`, `HARD`, `SHA-256`), so the JSON of a [`Recipe`] is itself a valid recipe
//! that parses back to the same value.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::artifact::Artifact;
use super::platform::Platform;

/// A validated Greengrass component recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipe {
    /// `RecipeFormatVersion`; always `2020-01-25`, the only format there is.
    #[serde(rename = "RecipeFormatVersion")]
    pub format_version: String,
    /// `ComponentName`: 1 to 128 characters of `[A-Za-z0-9-_.]`.
    #[serde(rename = "ComponentName")]
    pub name: String,
    /// `ComponentVersion` as written; a valid semantic version.
    #[serde(rename = "ComponentVersion")]
    pub version: String,
    #[serde(
        rename = "ComponentDescription",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(rename = "ComponentPublisher", skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(rename = "ComponentType")]
    pub component_type: ComponentType,
    /// `ComponentSource`: the Lambda function ARN a Lambda component was made from.
    #[serde(rename = "ComponentSource", skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `ComponentConfiguration.DefaultConfiguration`, an object (`{}` when absent). Its keys
    /// are the component's own data and keep their case.
    #[serde(
        rename = "ComponentConfiguration",
        serialize_with = "as_component_configuration"
    )]
    pub default_configuration: Value,
    #[serde(rename = "ComponentDependencies")]
    pub dependencies: BTreeMap<String, Dependency>,
    #[serde(rename = "Manifests")]
    pub manifests: Vec<Manifest>,
    /// The global `Lifecycle` (`{}` when absent), with lifecycle key names in their
    /// canonical case; selection keys and `Setenv` names stay as written.
    #[serde(rename = "Lifecycle")]
    pub lifecycle: Value,
}

fn as_component_configuration<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct ComponentConfiguration<'a> {
        #[serde(rename = "DefaultConfiguration")]
        default_configuration: &'a Value,
    }
    ComponentConfiguration {
        default_configuration: v,
    }
    .serialize(s)
}

impl Recipe {
    /// How errors found after parsing name this recipe: `com.example.Hello@1.0.0`.
    pub(crate) fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// `ComponentType`; matched ignoring case, as the nucleus does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum ComponentType {
    #[default]
    #[serde(rename = "aws.greengrass.generic")]
    Generic,
    #[serde(rename = "aws.greengrass.lambda")]
    Lambda,
    #[serde(rename = "aws.greengrass.plugin")]
    Plugin,
    #[serde(rename = "aws.greengrass.nucleus")]
    Nucleus,
}

impl ComponentType {
    pub const ALL: [ComponentType; 4] = [Self::Generic, Self::Lambda, Self::Plugin, Self::Nucleus];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "aws.greengrass.generic",
            Self::Lambda => "aws.greengrass.lambda",
            Self::Plugin => "aws.greengrass.plugin",
            Self::Nucleus => "aws.greengrass.nucleus",
        }
    }
}

/// One entry of `ComponentDependencies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// `VersionRequirement` as written: an npm-style range (`>=2.0.0 <3.0.0`, `^1.2`);
    /// `*` when absent.
    #[serde(rename = "VersionRequirement")]
    pub version_requirement: String,
    #[serde(rename = "DependencyType")]
    pub dependency_type: DependencyType,
}

impl Dependency {
    /// Whether `version` satisfies the requirement, with npm's rules (the nucleus uses
    /// semver4j's npm mode): a pre-release only matches a range that names a pre-release
    /// of the same `MAJOR.MINOR.PATCH`. A version that does not parse is never accepted.
    pub fn accepts(&self, version: &str) -> bool {
        let (Ok(range), Ok(version)) = (
            nodejs_semver::Range::parse(&self.version_requirement),
            nodejs_semver::Version::parse(version),
        ) else {
            return false;
        };
        range.satisfies(&version)
    }
}

/// `DependencyType`: a `HARD` dependency restarts the dependent when it changes state, a
/// `SOFT` one does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum DependencyType {
    #[default]
    #[serde(rename = "HARD")]
    Hard,
    #[serde(rename = "SOFT")]
    Soft,
}

impl DependencyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "HARD",
            Self::Soft => "SOFT",
        }
    }
}

/// One entry of `Manifests`: what to install and run on the platforms it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Platform")]
    pub platform: Platform,
    /// The manifest's own `Lifecycle` (canonical key case), `None` when absent. An empty one
    /// counts as absent when choosing the effective lifecycle.
    #[serde(rename = "Lifecycle", skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Value>,
    /// `Selections`: keys into the global lifecycle; empty means `["all"]`.
    #[serde(rename = "Selections", skip_serializing_if = "Vec::is_empty")]
    pub selections: Vec<String>,
    #[serde(rename = "Artifacts")]
    pub artifacts: Vec<Artifact>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(range: &str) -> Dependency {
        Dependency {
            version_requirement: range.to_string(),
            dependency_type: DependencyType::Hard,
        }
    }

    #[test]
    fn accepts_follows_npm_ranges() {
        let table: &[(&str, &[&str], &[&str])] = &[
            (
                ">=2.0.0 <3.0.0",
                &["2.0.0", "2.9.9"],
                &["1.9.9", "3.0.0", "2.1.0-rc.1"],
            ),
            ("^1.2", &["1.2.0", "1.9.0"], &["1.1.9", "2.0.0"]),
            ("~1.2.3", &["1.2.3", "1.2.9"], &["1.3.0", "1.2.2"]),
            ("1.x", &["1.0.0", "1.99.0"], &["0.9.0", "2.0.0"]),
            ("*", &["0.0.1", "99.0.0"], &["1.0.0-beta"]),
            (">=1.0.0 || 0.9.x", &["0.9.5", "1.0.0", "5.0.0"], &["0.8.0"]),
            ("1.2.3", &["1.2.3"], &["1.2.4"]),
            (
                ">=1.0.0-rc.1 <2.0.0",
                &["1.0.0-rc.2", "1.5.0"],
                &["1.1.0-rc.1"],
            ),
        ];
        for (range, yes, no) in table {
            for v in *yes {
                assert!(dep(range).accepts(v), "{range} should accept {v}");
            }
            for v in *no {
                assert!(!dep(range).accepts(v), "{range} should refuse {v}");
            }
        }
        assert!(!dep("^1.0.0").accepts("not a version"));
    }
}
