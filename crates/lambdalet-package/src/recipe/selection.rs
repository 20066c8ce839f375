//! Choosing a component's effective lifecycle, the nucleus's way (NUC
//! `RecipeLoader.convertLifecycleFromFile`, `PlatformResolver.filterPlatform`):
//!
//! 1. The selected manifest's own `Lifecycle`, when it has a non-empty one. Selection keys
//!    mean nothing there.
//! 2. Otherwise the global `Lifecycle`, filtered for the manifest's `Selections`. The
//!    selection keywords of a recipe are every manifest's `Selections` plus `all`. At any
//!    level of the global lifecycle (the top, a step, a step's `Script`, a `Setenv`), an
//!    object with a keyword among its keys is a choice: the manifest's first selection
//!    present there wins, else `all`, else the section is dropped. Objects without
//!    keywords are read as they are. A manifest without `Selections` (or no manifest at
//!    all) selects just `all`; and, as in the nucleus, `all` is the fallback even for a
//!    manifest whose `Selections` do not list it.
//!
//! Keywords match case-sensitively, as in the nucleus, and win over lifecycle key names:
//! the recipe reference asks for lower-case selection keys for this reason. Where the
//! nucleus logs and ignores non-keyword keys beside keywords in one object, we refuse the
//! recipe: those keys would otherwise be lost without a word.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::{Checked, Fault, RecipeError, join, quote};
use super::fields::{canonical, twice};
use super::lifecycle::{LIFECYCLE_KEYS, Lifecycle, STEP_KEYS, parse_lifecycle};
use super::model::{Manifest, Recipe};

/// The keyword every recipe has: sections for manifests without their own selections.
const ALL: &str = "all";

/// The selection keywords of a recipe and the ones one manifest chose.
pub(crate) struct Selection<'a> {
    keywords: BTreeSet<&'a str>,
    chosen: &'a [String],
}

impl<'a> Selection<'a> {
    /// No selection at all: for a manifest's own lifecycle.
    pub fn none() -> Self {
        Self {
            keywords: BTreeSet::new(),
            chosen: &[],
        }
    }

    /// The global lifecycle as seen by a manifest that chose `chosen`.
    pub fn global(manifests: &'a [Manifest], chosen: &'a [String]) -> Self {
        Self {
            keywords: keywords(manifests),
            chosen,
        }
    }

    /// Follows choices down from `v` to the value this manifest sees, with its path;
    /// `None` when a choice offers nothing for it, or the value is `null`.
    pub fn resolve<'v>(
        &self,
        mut v: &'v Value,
        mut path: String,
    ) -> Checked<Option<(&'v Value, String)>> {
        loop {
            let Some(map) = v.as_object().filter(|m| self.is_choice(m)) else {
                return Ok((!v.is_null()).then_some((v, path)));
            };
            let others: Vec<&str> = map
                .keys()
                .map(String::as_str)
                .filter(|k| !self.keywords.contains(k))
                .collect();
            if !others.is_empty() {
                let chosen: Vec<&str> = map
                    .keys()
                    .map(String::as_str)
                    .filter(|k| self.keywords.contains(k))
                    .collect();
                return Err(Fault::new(
                    path,
                    format!(
                        "has both selection keys ({}) and other keys ({}), and the other keys would be ignored; move them under a selection key such as \"all\"",
                        chosen.join(", "),
                        others.join(", ")
                    ),
                ));
            }
            let pick = self
                .chosen
                .iter()
                .map(String::as_str)
                .chain([ALL])
                .find(|k| map.get(*k).is_some_and(|v| !v.is_null()));
            let Some(key) = pick else {
                return Ok(None);
            };
            path = join(&path, key);
            v = &map[key];
        }
    }

    /// Whether this reads the global lifecycle, where unknown keys may be misspelt or
    /// undeclared selection keys.
    pub fn is_global(&self) -> bool {
        !self.keywords.is_empty()
    }

    fn is_choice(&self, map: &Map<String, Value>) -> bool {
        map.keys().any(|k| self.keywords.contains(k.as_str()))
    }
}

fn keywords(manifests: &[Manifest]) -> BTreeSet<&str> {
    manifests
        .iter()
        .flat_map(|m| m.selections.iter().map(String::as_str))
        .chain([ALL])
        .collect()
}

/// A lifecycle object with lifecycle and step key names in their canonical case
/// (`startup` → `Startup`, `requiresPrivilege` → `RequiresPrivilege`), leaving selection
/// keywords of `manifests` and everything under `Setenv` as written.
pub(crate) fn normalize(v: &Value, path: &str, manifests: &[Manifest]) -> Checked<Value> {
    normalize_with(v, path, &keywords(manifests))
}

fn normalize_with(v: &Value, path: &str, keywords: &BTreeSet<&str>) -> Checked<Value> {
    let Some(map) = v.as_object() else {
        return Ok(v.clone());
    };
    let mut out = Map::new();
    let mut written: Vec<(String, &str)> = Vec::new();
    for (key, value) in map {
        let name = if keywords.contains(key.as_str()) {
            key.clone()
        } else {
            canonical(key, LIFECYCLE_KEYS)
                .or_else(|| canonical(key, STEP_KEYS))
                .map_or_else(|| key.clone(), str::to_string)
        };
        if let Some((_, first)) = written.iter().find(|(n, _)| *n == name) {
            return Err(twice(path, first, key));
        }
        let value = if name == "Setenv" {
            value.clone()
        } else {
            normalize_with(value, &join(path, &name), keywords)?
        };
        written.push((name.clone(), key));
        out.insert(name, value);
    }
    Ok(Value::Object(out))
}

/// The effective lifecycle for the manifest at `index` (`None`: the recipe has none).
pub(crate) fn effective(
    recipe: &Recipe,
    manifest: Option<(usize, &Manifest)>,
) -> Checked<Lifecycle> {
    if let Some((i, m)) = manifest {
        let own = m
            .lifecycle
            .as_ref()
            .filter(|l| l.as_object().is_some_and(|o| !o.is_empty()));
        if let Some(own) = own {
            return parse_lifecycle(
                own,
                &format!("Manifests[{i}].Lifecycle"),
                &Selection::none(),
            );
        }
    }
    let chosen = manifest.map_or(&[][..], |(_, m)| m.selections.as_slice());
    parse_lifecycle(
        &recipe.lifecycle,
        "Lifecycle",
        &Selection::global(&recipe.manifests, chosen),
    )
}

impl Recipe {
    /// The lifecycle to run with `manifest` (normally what [`Recipe::select_manifest`]
    /// chose; `None` for a recipe without manifests): see the module documentation for the
    /// rule. Every manifest's lifecycle was checked by [`super::parse_recipe`], so this
    /// fails only for a manifest that is not this recipe's or a recipe changed since.
    pub fn lifecycle_for(&self, manifest: Option<&Manifest>) -> Result<Lifecycle, RecipeError> {
        let with_index = match manifest {
            None => None,
            Some(m) => {
                let i = self
                    .manifests
                    .iter()
                    .position(|x| std::ptr::eq(x, m))
                    .or_else(|| self.manifests.iter().position(|x| x == m))
                    .ok_or_else(|| {
                        Fault::new(
                            "Manifests",
                            format!(
                                "the manifest {} is not one of this recipe's",
                                quote(m.name.as_deref().unwrap_or("(unnamed)"))
                            ),
                        )
                        .in_file(&self.label())
                    })?;
                Some((i, m))
            }
        };
        effective(self, with_index).map_err(|f| f.in_file(&self.label()))
    }
}

#[cfg(test)]
mod tests;
