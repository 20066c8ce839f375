//! Configuration updates with Greengrass's semantics (NUC `ConfigurationUpdateOperation`;
//! GG2 update-component-configurations.md): first `RESET` puts each JSON pointer back to
//! the recipe's default (or removes it when the default has none), then `MERGE` merges an
//! object in, recursively.
//!
//! Two wire shapes carry an update: the Greengrass CLI's `--update-config`
//! (`{"<component>": {"MERGE": {...}, "RESET": [...]}}`, upper-case keys) and
//! `CreateDeployment`'s `configurationUpdate` (`{"merge": "<JSON text>", "reset": [...]}`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One component's update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// The object to merge in, if any.
    pub merge: Option<Value>,
    /// RFC 6901 pointers to reset, in order; `""` is the whole configuration.
    pub reset: Vec<String>,
}

/// `--update-config` of `greengrass-cli deployment create`: an object from component name
/// to `{"MERGE": object, "RESET": [pointer, ...]}`. The keys are upper-case exactly, as the
/// CLI requires.
pub fn parse_cli_config_update(json: &Value) -> Result<BTreeMap<String, ConfigUpdate>, String> {
    let map = json.as_object().ok_or_else(|| {
        format!(
            "expected an object from component name to {{\"MERGE\": …, \"RESET\": […]}}, got {}",
            kind(json)
        )
    })?;
    let mut out = BTreeMap::new();
    for (component, update) in map {
        let fields = update.as_object().ok_or_else(|| {
            format!(
                "{component}: expected {{\"MERGE\": …, \"RESET\": […]}}, got {}",
                kind(update)
            )
        })?;
        if let Some(key) = fields.keys().find(|k| *k != "MERGE" && *k != "RESET") {
            return Err(format!(
                "{component}: unknown key {key:?}; an update has \"MERGE\" and \"RESET\" (upper case)"
            ));
        }
        let parsed = ConfigUpdate {
            merge: merge_object(fields.get("MERGE"), &format!("{component}: MERGE"))?,
            reset: pointers(fields.get("RESET"), &format!("{component}: RESET"))?,
        };
        out.insert(component.clone(), parsed);
    }
    Ok(out)
}

/// `configurationUpdate` of `CreateDeployment`: `{"merge": ..., "reset": [...]}`, where
/// `merge` is the object as JSON text (as the API sends it) or the object itself.
pub fn parse_deployment_config_update(v: &Value) -> Result<ConfigUpdate, String> {
    let fields = v
        .as_object()
        .ok_or_else(|| format!("expected {{\"merge\": …, \"reset\": […]}}, got {}", kind(v)))?;
    if let Some(key) = fields.keys().find(|k| *k != "merge" && *k != "reset") {
        return Err(format!(
            "unknown key {key:?} in configurationUpdate; it has \"merge\" and \"reset\""
        ));
    }
    let merge = match fields.get("merge") {
        Some(Value::String(text)) => {
            let parsed: Value = serde_json::from_str(text)
                .map_err(|e| format!("merge: expected an object as JSON text: {e}"))?;
            merge_object(Some(&parsed), "merge")?
        }
        other => merge_object(other, "merge")?,
    };
    Ok(ConfigUpdate {
        merge,
        reset: pointers(fields.get("reset"), "reset")?,
    })
}

fn merge_object(v: Option<&Value>, what: &str) -> Result<Option<Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(other) => Err(format!("{what}: expected an object, got {}", kind(other))),
    }
}

fn pointers(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "{what}: expected a list of JSON pointers, got {}",
                kind(other)
            ));
        }
    };
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(p) if p.is_empty() || p.starts_with('/') => Ok(p.to_string()),
            _ => Err(format!(
                "{what}: expected JSON pointers (\"\" or starting with '/'), got {item}"
            )),
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The configuration after `update`: `current` with `update.reset` applied against the
/// recipe's `defaults`, then `update.merge` merged in. A pointer that goes into an array
/// resets the whole array, since Greengrass stores lists as single values. Merging
/// replaces arrays and scalars, merges objects key by key, and sets `null` where the
/// update says `null` (it does not delete).
pub fn apply_config_update(
    defaults: &Value,
    current: &Value,
    update: &ConfigUpdate,
) -> Result<Value, String> {
    let mut config = match current {
        Value::Null => Value::Object(Map::new()),
        Value::Object(_) => current.clone(),
        other => {
            return Err(format!(
                "expected the current configuration to be an object, got {}",
                kind(other)
            ));
        }
    };
    for pointer in &update.reset {
        reset(&mut config, defaults, pointer)?;
    }
    if let Some(patch) = &update.merge {
        if !patch.is_object() {
            return Err(format!("MERGE: expected an object, got {}", kind(patch)));
        }
        merge(&mut config, patch);
    }
    Ok(config)
}

fn reset(config: &mut Value, defaults: &Value, pointer: &str) -> Result<(), String> {
    if pointer.is_empty() {
        *config = match defaults {
            Value::Null => Value::Object(Map::new()),
            d => d.clone(),
        };
        return Ok(());
    }
    let tokens = tokens(pointer)?;
    // Stop at the first array on the way, in either document: lists reset as a whole.
    let mut end = tokens.len();
    for i in 1..tokens.len() {
        let prefix = &tokens[..i];
        if lookup(config, prefix).is_some_and(Value::is_array)
            || lookup(defaults, prefix).is_some_and(Value::is_array)
        {
            end = i;
            break;
        }
    }
    let tokens = &tokens[..end];
    match lookup(defaults, tokens) {
        Some(default) => set(config, tokens, default.clone()),
        None => remove(config, tokens),
    }
    Ok(())
}

/// The reference tokens of a non-empty pointer, unescaped (`~1` is `/`, `~0` is `~`).
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "RESET: {pointer:?} is not a JSON pointer (it must start with '/')"
        ));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn lookup<'v>(v: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens.iter().try_fold(v, |v, t| match v {
        Value::Object(m) => m.get(t),
        Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Sets the value at `tokens`, making objects of whatever is missing or not an object on
/// the way (the parent of a reset key cannot stay a scalar).
fn set(v: &mut Value, tokens: &[String], value: Value) {
    let Some((last, parents)) = tokens.split_last() else {
        *v = value;
        return;
    };
    let mut at = v;
    for t in parents {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("made an object just above")
            .entry(t.clone())
            .or_insert(Value::Null);
    }
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    at.as_object_mut()
        .expect("made an object just above")
        .insert(last.clone(), value);
}

fn remove(v: &mut Value, tokens: &[String]) {
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let parent = parents
        .iter()
        .try_fold(v, |v, t| v.as_object_mut().and_then(|m| m.get_mut(t)));
    if let Some(Value::Object(m)) = parent {
        m.remove(last);
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                match t.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests;
