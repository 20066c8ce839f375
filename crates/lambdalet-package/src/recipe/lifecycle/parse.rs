//! Reading a lifecycle section into a [`Lifecycle`], step by step, with every field
//! passed through the manifest's selection first.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{LIFECYCLE_KEYS, Lifecycle, STEP_KEYS, SkipIf, Step, StepKind};
use crate::recipe::error::{Checked, Fault, describe, join, quote};
use crate::recipe::fields::{Fields, boolean, object, text};
use crate::recipe::selection::Selection;

/// Reads a lifecycle section, following `sel` through selection keys at every level.
pub(crate) fn parse_lifecycle(v: &Value, path: &str, sel: &Selection<'_>) -> Checked<Lifecycle> {
    let Some((v, path)) = sel.resolve(v, path.to_string())? else {
        return Ok(Lifecycle::default());
    };
    let f = Fields::of(v, &path, "a lifecycle", LIFECYCLE_KEYS).map_err(|mut fault| {
        if sel.is_global() && fault.message.starts_with("unknown key") {
            fault
                .message
                .push_str(", or a selection key named in a manifest's Selections");
        }
        fault
    })?;
    let mut out = Lifecycle::default();
    if let Some(env) = f.get("Setenv") {
        out.setenv = parse_setenv(env, &f.path("Setenv"), sel)?;
    }
    for kind in StepKind::ALL {
        if let Some(step) = f.get(kind.as_str()) {
            *out.step_mut(kind) = parse_step(step, &f.path(kind.as_str()), sel)?;
        }
    }
    if out.run.is_some() && out.startup.is_some() {
        return Err(Fault::new(
            path,
            "has both Run and Startup; keep one: Run for a process that is the component, \
             Startup for one that starts a background service and exits",
        ));
    }
    Ok(out)
}

fn parse_step(v: &Value, path: &str, sel: &Selection<'_>) -> Checked<Option<Step>> {
    let Some((v, path)) = sel.resolve(v, path.to_string())? else {
        return Ok(None);
    };
    if !v.is_object() {
        return text(v, &path).map(|s| Some(Step::script(s)));
    }
    let f = Fields::of(v, &path, "a lifecycle step", STEP_KEYS)?;
    let field = |name: &str| -> Checked<Option<(&Value, String)>> {
        match f.get(name) {
            Some(v) => sel.resolve(v, f.path(name)),
            None => Ok(None),
        }
    };
    let Some((script, at)) = field("Script")? else {
        return Err(Fault::new(
            path,
            format!(
                "missing Script; a step is a script, or an object with Script and optional {}",
                STEP_KEYS[1..].join(", ")
            ),
        ));
    };
    let mut step = Step::script(text(script, &at)?);
    if let Some((v, at)) = field("RequiresPrivilege")? {
        step.requires_privilege = boolean(v, &at)?;
    }
    if let Some((v, at)) = field("Skipif")? {
        let written = text(v, &at)?;
        step.skipif = Some(SkipIf::parse(&written).ok_or_else(|| {
            Fault::new(
                &at,
                format!(
                    "expected \"onpath <executable>\" or \"exists <file>\", got {}",
                    quote(&written)
                ),
            )
        })?);
    }
    if let Some((v, at)) = field("Timeout")? {
        step.timeout_seconds = Some(timeout(v, &at)?);
    }
    if let Some(env) = f.get("Setenv") {
        step.setenv = parse_setenv(env, &f.path("Setenv"), sel)?;
    }
    Ok(Some(step))
}

/// A whole number of seconds above zero, as a number or a string of digits.
fn timeout(v: &Value, path: &str) -> Checked<u64> {
    let seconds = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    };
    seconds.filter(|&s| s > 0).ok_or_else(|| {
        Fault::new(
            path,
            format!(
                "expected a positive whole number of seconds, got {}",
                describe(v)
            ),
        )
    })
}

/// `Setenv`: names as written (they are the component's), values as text. A `null`
/// value is dropped, as the nucleus drops it.
fn parse_setenv(v: &Value, path: &str, sel: &Selection<'_>) -> Checked<BTreeMap<String, String>> {
    let Some((v, path)) = sel.resolve(v, path.to_string())? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (name, value) in object(v, &path, "environment variables")? {
        let at = join(&path, name);
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(Fault::new(
                &path,
                format!(
                    "expected environment variable names without '=' or NUL, got {}",
                    quote(name)
                ),
            ));
        }
        if let Some((value, at)) = sel.resolve(value, at)? {
            out.insert(name.clone(), text(value, &at)?);
        }
    }
    Ok(out)
}
