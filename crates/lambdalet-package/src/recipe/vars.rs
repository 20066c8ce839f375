//! Recipe variables (`{configuration:/port}`, `{artifacts:path}`, …), filled in from what
//! the deployment engine knows about a component and its direct dependencies (GG2
//! component-recipe-reference.md, "Recipe variables").
//!
//! A variable that cannot be resolved (an unknown name, a dependency that is not a direct
//! one, a configuration pointer to nothing) is left in the text as written, as the nucleus
//! leaves it: the script then sees the braces, which is easier to debug than an empty
//! string.

use std::collections::BTreeMap;

use serde_json::Value;

/// What one component exposes to recipe variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentVars {
    /// `{artifacts:path}`: the directory of the component's artifacts.
    pub artifacts_path: String,
    /// `{artifacts:decompressedPath}`: where its ZIP artifacts are unpacked.
    pub decompressed_path: String,
    /// `{work:path}`: the component's working directory.
    pub work_path: String,
    /// The component's current configuration, for `{configuration:/pointer}`.
    pub configuration: Value,
}

/// Everything a recipe's variables can refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarContext {
    /// The component whose recipe is being filled in.
    pub own: ComponentVars,
    /// Its direct dependencies, by component name.
    pub deps: BTreeMap<String, ComponentVars>,
    /// `{kernel:rootPath}`: lambdalet's component root.
    pub kernel_root: String,
    /// `{iot:thingName}`: the device's thing name.
    pub thing_name: String,
}

/// `text` with every variable `ctx` can resolve replaced. Replaced text is not scanned
/// again, so a configuration value that contains braces stays as it is.
///
/// A configuration value becomes text this way: a string as it is, a number or boolean
/// as its JSON text, an object or array as compact JSON, `null` as `null`.
pub fn interpolate(text: &str, ctx: &VarContext) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // The variable is the text up to the next `}`; a `{` before it starts a new
        // candidate, so in `{{iot:thingName}}` the inner one is found.
        let close = after.find('}');
        let inner_open = after.find('{');
        match close {
            Some(close) if inner_open.is_none_or(|o| o > close) => {
                let name = &after[..close];
                match resolve(name, ctx) {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of the variable `name` (the text between the braces).
fn resolve(name: &str, ctx: &VarContext) -> Option<String> {
    if let Some(value) = component_var(name, &ctx.own) {
        return Some(value);
    }
    match name {
        "kernel:rootPath" => return Some(ctx.kernel_root.clone()),
        "iot:thingName" => return Some(ctx.thing_name.clone()),
        _ => {}
    }
    // `<dependency>:<variable>`; component names cannot contain `:`.
    let (dep, var) = name.split_once(':')?;
    component_var(var, ctx.deps.get(dep)?)
}

/// A variable that every component has: its paths and its configuration.
fn component_var(name: &str, vars: &ComponentVars) -> Option<String> {
    match name {
        "artifacts:path" => Some(vars.artifacts_path.clone()),
        "artifacts:decompressedPath" => Some(vars.decompressed_path.clone()),
        "work:path" => Some(vars.work_path.clone()),
        _ => {
            let pointer = name.strip_prefix("configuration:")?;
            if !pointer.starts_with('/') {
                return None;
            }
            vars.configuration.pointer(pointer).map(as_text)
        }
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
