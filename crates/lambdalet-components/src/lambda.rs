//! A Lambda component (`ComponentType: aws.greengrass.lambda`) as a lambdalet function.
//!
//! Greengrass runs such a component through its own `lambda-launcher` (the recipe's `startup`
//! and `shutdown` scripts), which reads the function's settings from the `AWS_GREENGRASS_LAMBDA_*`
//! entries of `Setenv` and from the component's configuration. lambdalet reads the same
//! places and runs the function itself: the handler and runtime come from `Setenv`, the code
//! from the artifact `AWS_GREENGRASS_LAMBDA_ARTIFACT_PATH` names, the function name from
//! `ComponentSource`, and every `DefaultConfiguration` field becomes the function's setting of
//! the same name.

use std::collections::BTreeMap;

use lambdalet_core::{FunctionConfigPatch, LifecyclePatch};
use lambdalet_package::recipe::{Artifact, Unarchive};
use serde_json::{Map, Value};

use crate::error::DeployError;
use crate::resolve::Resolved;

/// What lambdalet makes of a Lambda component.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaSpec {
    /// The function's name (from `ComponentSource`).
    pub function: String,
    /// The runtime the recipe names (`AWS_GREENGRASS_LAMBDA_RUNTIME`).
    pub runtime: String,
    pub handler: String,
    /// The artifact whose zip is the code.
    pub artifact: Artifact,
    /// Everything but the runtime, which the caller settles (`--runtime-fallback`).
    pub config: FunctionConfigPatch,
}

const HANDLER: &str = "AWS_GREENGRASS_LAMBDA_FUNCTION_HANDLER";
const RUNTIME: &str = "AWS_GREENGRASS_LAMBDA_RUNTIME";
const ARTIFACT_PATH: &str = "AWS_GREENGRASS_LAMBDA_ARTIFACT_PATH";
const ARN: &str = "AWS_GREENGRASS_LAMBDA_ARN";
const EXEC_ARGS: &str = "AWS_GREENGRASS_LAMBDA_EXEC_ARGS";

/// Reads a resolved Lambda component.
pub fn lambda_spec(c: &Resolved) -> Result<LambdaSpec, DeployError> {
    let bad = |m: String| DeployError::Invalid(format!("{} {}: {m}", c.name, c.version));
    let setenv = &c.lifecycle.setenv;
    let handler = match setenv.get(HANDLER) {
        Some(h) if !h.is_empty() => h.clone(),
        _ => handler_from_exec_args(setenv.get(EXEC_ARGS)).ok_or_else(|| {
            bad(format!(
                "Lifecycle.Setenv.{HANDLER} is missing: a Lambda component names its handler there (for example lambda_function.lambda_handler)"
            ))
        })?,
    };
    let runtime = setenv
        .get(RUNTIME)
        .filter(|r| !r.is_empty())
        .cloned()
        .ok_or_else(|| {
            bad(format!(
                "Lifecycle.Setenv.{RUNTIME} is missing: a Lambda component names its runtime there (for example python3.11)"
            ))
        })?;
    let function = function_name(c).map_err(bad)?;
    let artifact = code_artifact(c).map_err(bad)?;
    let config = function_config(&c.configuration).map_err(bad)?;
    Ok(LambdaSpec {
        function,
        runtime,
        handler,
        artifact,
        config: FunctionConfigPatch {
            handler: None,
            ..config
        },
    })
}

/// The function's name: `ComponentSource`'s (a function ARN, whatever its account), else
/// `AWS_GREENGRASS_LAMBDA_ARN`'s, else the component's.
fn function_name(c: &Resolved) -> Result<String, String> {
    let from_arn = |arn: &str| -> Option<String> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", _, "lambda", _, _, "function", name, ..] if !name.is_empty() => {
                Some((*name).to_owned())
            }
            _ => None,
        }
    };
    if let Some(src) = &c.recipe.source {
        return from_arn(src).ok_or_else(|| {
            format!(
                "ComponentSource {src:?} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION)"
            )
        });
    }
    if let Some(name) = c.lifecycle.setenv.get(ARN).and_then(|a| from_arn(a)) {
        return Ok(name);
    }
    Ok(c.name.clone())
}

fn handler_from_exec_args(args: Option<&String>) -> Option<String> {
    let list: Vec<String> = serde_json::from_str(args?).ok()?;
    list.iter()
        .find_map(|a| a.strip_prefix("--handler=").map(str::to_owned))
}

/// The zip that holds the code: the one `AWS_GREENGRASS_LAMBDA_ARTIFACT_PATH` points into
/// (`{artifacts:decompressedPath}/<archive name minus extension>`), else the only zip.
fn code_artifact(c: &Resolved) -> Result<Artifact, String> {
    let artifacts: Vec<&Artifact> = c
        .manifest
        .and_then(|i| c.recipe.manifests.get(i))
        .map(|m| m.artifacts.iter().collect())
        .unwrap_or_default();
    let zips: Vec<&&Artifact> = artifacts
        .iter()
        .filter(|a| a.unarchive == Unarchive::Zip)
        .collect();
    let wanted = c
        .lifecycle
        .setenv
        .get(ARTIFACT_PATH)
        .and_then(|p| p.strip_prefix("{artifacts:decompressedPath}/"))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned());
    if let Some(dir) = &wanted {
        if let Some(a) = zips.iter().find(|a| a.unarchived_dir_name() == dir) {
            return Ok((**a).clone());
        }
        return Err(format!(
            "Lifecycle.Setenv.{ARTIFACT_PATH} names {dir:?}, but no artifact with Unarchive: ZIP unpacks there; artifacts: {}",
            names(&artifacts)
        ));
    }
    match zips.as_slice() {
        [one] => Ok((**one).clone()),
        [] => Err(format!(
            "a Lambda component's code is a zip artifact with Unarchive: ZIP; this manifest has {}",
            names(&artifacts)
        )),
        _ => Err(format!(
            "several zip artifacts ({}); say which holds the code with Lifecycle.Setenv.{ARTIFACT_PATH}",
            names(&artifacts)
        )),
    }
}

fn names(artifacts: &[&Artifact]) -> String {
    if artifacts.is_empty() {
        return "none".to_owned();
    }
    artifacts
        .iter()
        .map(|a| a.uri.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The component's configuration as function settings. Numbers and booleans may be written
/// as strings in Greengrass configurations; they are read as what the field needs.
pub fn function_config(config: &Value) -> Result<FunctionConfigPatch, String> {
    let empty = Map::new();
    let obj = config.as_object().unwrap_or(&empty);
    let mut lifecycle = Map::new();
    for (key, kind) in FIELDS {
        if let Some(v) = obj.get(*key) {
            let v = coerce(key, v, *kind)?;
            lifecycle.insert((*key).to_owned(), v);
        }
    }
    // Every field is given, so an update replaces what an earlier version set.
    for key in ["pubsubTopics", "containerParams"] {
        lifecycle
            .entry(key.to_owned())
            .or_insert_with(|| serde_json::json!({}));
    }
    for key in ["accessControl", "containerMode"] {
        lifecycle.entry(key.to_owned()).or_insert(Value::Null);
    }
    let patch: LifecyclePatch = serde_json::from_value(Value::Object(lifecycle))
        .map_err(|e| format!("ComponentConfiguration: {e}"))?;
    let environment = match obj
        .get("lambdaExecutionParameters")
        .and_then(|p| p.get("EnvironmentVariables"))
    {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Some(other) => {
            return Err(format!(
                "lambdaExecutionParameters.EnvironmentVariables must be an object of names to values, not {other}"
            ));
        }
    };
    let timeout = patch.timeout_in_seconds;
    Ok(FunctionConfigPatch {
        timeout_secs: timeout,
        environment: Some(environment),
        lifecycle: patch,
        ..FunctionConfigPatch::default()
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Bool,
    Text,
    Any,
}

/// The Lambda settings a component's configuration may hold (Greengrass's names).
const FIELDS: &[(&str, Kind)] = &[
    ("pinned", Kind::Bool),
    ("timeoutInSeconds", Kind::Int),
    ("maxInstancesCount", Kind::Int),
    ("maxQueueSize", Kind::Int),
    ("maxIdleTimeInSeconds", Kind::Int),
    ("statusTimeoutInSeconds", Kind::Int),
    ("inputPayloadEncodingType", Kind::Text),
    ("pubsubTopics", Kind::Any),
    ("accessControl", Kind::Any),
    ("containerMode", Kind::Any),
    ("containerParams", Kind::Any),
];

fn coerce(key: &str, v: &Value, kind: Kind) -> Result<Value, String> {
    let wrong = |what: &str| format!("{key} must be {what}, not {v}");
    Ok(match (kind, v) {
        (Kind::Int, Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 => Value::from(f as i64),
                _ => return Err(wrong("a whole number")),
            },
        },
        (Kind::Int, Value::String(s)) => Value::from(
            s.trim()
                .parse::<i64>()
                .map_err(|_| wrong("a whole number"))?,
        ),
        (Kind::Bool, Value::Bool(_)) => v.clone(),
        (Kind::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(wrong("true or false")),
        },
        (Kind::Text, Value::String(_)) => v.clone(),
        (Kind::Any, _) => v.clone(),
        (Kind::Int, _) => return Err(wrong("a whole number")),
        (Kind::Bool, _) => return Err(wrong("true or false")),
        (Kind::Text, _) => return Err(wrong("a string")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_configuration_becomes_function_settings() {
        let config = serde_json::json!({
            "lambdaExecutionParameters": {"EnvironmentVariables": {"A": "1", "B": 2}},
            "containerParams": {"memorySize": 16384, "mountROSysfs": false, "volumes": {}, "devices": {}},
            "containerMode": "GreengrassContainer",
            "timeoutInSeconds": 3,
            "maxInstancesCount": "100",
            "inputPayloadEncodingType": "json",
            "maxQueueSize": 1000,
            "pinned": "true",
            "maxIdleTimeInSeconds": 60,
            "statusTimeoutInSeconds": 60.0,
            "pubsubTopics": {"0": {"topic": "core/topic", "type": "IOT_CORE"}}
        });
        let p = function_config(&config).unwrap();
        assert_eq!(p.timeout_secs, Some(3));
        assert_eq!(p.lifecycle.pinned, Some(true));
        assert_eq!(p.lifecycle.max_instances_count, Some(100));
        assert_eq!(p.lifecycle.status_timeout_in_seconds, Some(60));
        assert_eq!(p.lifecycle.pubsub_topics.as_ref().map(|t| t.len()), Some(1));
        let env = p.environment.unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "2");
    }

    #[test]
    fn wrong_types_are_named() {
        let e = function_config(&serde_json::json!({"pinned": "maybe"})).unwrap_err();
        assert!(e.contains("pinned must be true or false"), "{e}");
        let e = function_config(&serde_json::json!({"maxQueueSize": 1.5})).unwrap_err();
        assert!(e.contains("maxQueueSize must be a whole number"), "{e}");
    }

    #[test]
    fn handler_from_exec_args_reads_the_flag() {
        let args =
            r#"["python3.8","-u","/runtime/python/lambda_runtime.py","--handler=app.handler"]"#;
        assert_eq!(
            handler_from_exec_args(Some(&args.to_owned())).as_deref(),
            Some("app.handler")
        );
    }
}
