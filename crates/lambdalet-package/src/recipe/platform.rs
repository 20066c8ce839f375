//! Which manifest a device uses: `Platform` requirements, the device's own attributes,
//! and the first-match rule (GG2 component-recipe-reference.md, CC `PlatformHelper`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::error::{Checked, Fault, RecipeError, describe, join, quote};
use super::fields::{object, text, twice};
use super::model::{Manifest, Recipe};
use super::pattern::Pattern;

/// The attribute names Greengrass defines; matched ignoring case and stored lower-case.
/// Other keys are custom attributes (`com.example.RadioModule`) and keep their case.
const WELL_KNOWN: [&str; 3] = ["os", "architecture", "architecture.detail"];

/// A manifest's `Platform`: attribute name → required value.
///
/// A value is `*` (any value, or none), a `/regex/` that must match the whole attribute,
/// `//` (any value, but one must be present, as in the nucleus), or an exact value, which
/// starts with a letter or digit. For `os` and `architecture` the nucleus also takes `all`
/// and `any` as wildcards; so do we. An empty platform matches every device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Platform(pub BTreeMap<String, String>);

impl Platform {
    /// Whether every requirement holds on `device`.
    pub fn matches(&self, device: &DevicePlatform) -> bool {
        self.0
            .iter()
            .all(|(key, wanted)| value_matches(key, wanted, device.attribute(key)))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("{} (any device)");
        }
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

fn value_matches(key: &str, wanted: &str, actual: Option<&str>) -> bool {
    if wanted == "*" {
        return true;
    }
    let Some(actual) = actual else {
        return false;
    };
    if wanted == "//" {
        return true;
    }
    if let Some(source) = regex_source(wanted) {
        return Pattern::compile(source).is_ok_and(|p| p.matches(actual));
    }
    if (key == "os" || key == "architecture") && (wanted == "all" || wanted == "any") {
        return true;
    }
    wanted == actual
}

/// The pattern inside `/…/`, if `value` is one (`//` is not: it means "present").
fn regex_source(value: &str) -> Option<&str> {
    value
        .strip_prefix('/')
        .and_then(|v| v.strip_suffix('/'))
        .filter(|_| value.len() > 2)
}

/// Reads and checks a `Platform` object; `null` or absent is the empty platform.
pub(crate) fn parse_platform(v: Option<&Value>, path: &str) -> Checked<Platform> {
    let Some(v) = v else {
        return Ok(Platform::default());
    };
    let map = object(v, path, "a platform")?;
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (key, value) in map {
        let name = WELL_KNOWN
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key))
            .map_or_else(|| key.clone(), |k| k.to_string());
        let at = join(path, &name);
        let wanted = match value {
            Value::Array(_) | Value::Object(_) | Value::Null => {
                return Err(Fault::new(
                    at,
                    format!(
                        "expected an exact value, \"*\" or a /regex/, got {}",
                        describe(value)
                    ),
                ));
            }
            other => text(other, &at)?,
        };
        check_value(&wanted, &at)?;
        if let Some((first, _)) = out.get(&name) {
            return Err(twice(path, first, key));
        }
        out.insert(name, (key.clone(), wanted));
    }
    Ok(Platform(
        out.into_iter().map(|(k, (_, v))| (k, v)).collect(),
    ))
}

fn check_value(wanted: &str, path: &str) -> Checked<()> {
    if wanted == "*" || wanted == "//" {
        return Ok(());
    }
    if let Some(source) = regex_source(wanted) {
        return Pattern::compile(source).map(|_| ()).map_err(|why| {
            Fault::new(path, format!("invalid regular expression {wanted}: {why}"))
        });
    }
    if wanted.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Ok(());
    }
    Err(Fault::new(
        path,
        format!(
            "expected an exact value starting with a letter or digit, \"*\" or a /regex/, got {}",
            quote(wanted)
        ),
    ))
}

/// The attributes of the device a deployment runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlatform {
    /// `linux`, `darwin` or `windows`.
    pub os: String,
    /// `amd64`, `aarch64`, `arm` or `x86`.
    pub architecture: String,
    /// Further attributes (`architecture.detail`, custom keys), as the nucleus's
    /// `platformOverride` would add them.
    pub extra: BTreeMap<String, String>,
}

impl DevicePlatform {
    pub fn new(os: &str, architecture: &str) -> Self {
        Self {
            os: os.to_string(),
            architecture: architecture.to_string(),
            extra: BTreeMap::new(),
        }
    }

    /// This machine, named the way Greengrass names it (`x86_64` is `amd64`).
    pub fn current() -> Self {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "aarch64",
            "arm" => "arm",
            "x86" => "x86",
            other => other,
        };
        Self::new(os, architecture)
    }

    /// The value of attribute `key`, if the device has one.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        match key {
            "os" => Some(&self.os),
            "architecture" => Some(&self.architecture),
            _ => self.extra.get(key).map(String::as_str),
        }
    }
}

impl fmt::Display for DevicePlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "os={}, architecture={}", self.os, self.architecture)?;
        for (k, v) in &self.extra {
            write!(f, ", {k}={v}")?;
        }
        Ok(())
    }
}

impl Recipe {
    /// The manifest `device` uses: the first whose platform matches, as in the nucleus.
    /// A recipe without manifests has nothing to choose (`Ok(None)`); one whose manifests
    /// all exclude the device cannot be deployed to it, and the error lists them.
    pub fn select_manifest(
        &self,
        device: &DevicePlatform,
    ) -> Result<Option<&Manifest>, RecipeError> {
        if self.manifests.is_empty() {
            return Ok(None);
        }
        if let Some(found) = self.manifests.iter().find(|m| m.platform.matches(device)) {
            return Ok(Some(found));
        }
        let listed: Vec<String> = self
            .manifests
            .iter()
            .enumerate()
            .map(|(i, m)| format!("[{i}] {}", m.platform))
            .collect();
        Err(Fault::new(
            "Manifests",
            format!(
                "no manifest matches this device ({device}); the manifests' platforms are {}",
                listed.join(", ")
            ),
        )
        .in_file(&self.label()))
    }
}

#[cfg(test)]
mod tests;
