//! The runtime of a Lambda component's function. Greengrass components name exact runtimes
//! (`python3.8`, `nodejs14.x`); the function keeps the one its recipe names, and the daemon's
//! one resolver (`Control::check_runtime`, the same as for CreateFunction) finds its
//! interpreter: the exact version, else with `--runtime-fallback nearest` the nearest newer
//! one of the same language, else the deployment fails naming what to install. Only a runtime
//! older than any lambdalet accepts as a function's (python3.7, nodejs14.x) is first moved to
//! the oldest one it does accept, and only with `--runtime-fallback nearest`.

use lambdalet_core::runtime::SUPPORTED_RUNTIMES;
use lambdalet_core::{Runtime, RuntimeFallback};

/// The runtime id a component's function is created with, and a note when it is not the
/// recipe's.
pub fn function_runtime(
    wanted: &str,
    fallback: RuntimeFallback,
) -> Result<(Runtime, Option<String>), String> {
    if let Ok(r) = Runtime::parse(wanted) {
        return Ok((r, None));
    }
    let unsupported = || {
        format!(
            "runtime {wanted} is not supported by lambdalet (it runs python3.x, nodejsN.x and provided runtimes); rebuild the function for one of: {}",
            SUPPORTED_RUNTIMES.join(", ")
        )
    };
    let Some((lang, version)) = split(wanted) else {
        return Err(unsupported());
    };
    // The oldest supported runtime of the same language, when `wanted` is older than it.
    let oldest = SUPPORTED_RUNTIMES
        .iter()
        .filter_map(|id| split(id).map(|(l, v)| (l, v, *id)))
        .filter(|(l, v, _)| *l == lang && *v > version)
        .min_by(|a, b| a.1.cmp(&b.1))
        .map(|(_, _, id)| id);
    let Some(oldest) = oldest else {
        return Err(unsupported());
    };
    if fallback == RuntimeFallback::None {
        return Err(format!(
            "runtime {wanted} is not one lambdalet runs (its {lang} runtimes start at {oldest}): rebuild the function for {oldest} or later, or start lambdalet with --runtime-fallback nearest to run it as the nearest newer runtime"
        ));
    }
    let runtime = Runtime::parse(oldest).map_err(|e| e.message)?;
    Ok((
        runtime,
        Some(format!(
            "runtime {wanted} is older than any lambdalet runs: the function is created as {oldest} (--runtime-fallback nearest)"
        )),
    ))
}

/// A runtime id's language and version: `python3.8` → ("python", [3, 8]), `nodejs14.x` →
/// ("nodejs", [14]).
fn split(id: &str) -> Option<(&'static str, Vec<u32>)> {
    if let Some(v) = id.strip_prefix("python") {
        let nums: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
        return nums.filter(|n| n.len() == 2).map(|n| ("python", n));
    }
    if let Some(v) = id.strip_prefix("nodejs") {
        let major = v.strip_suffix(".x")?.parse().ok()?;
        return Some(("nodejs", vec![major]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_ids_split_into_language_and_version() {
        assert_eq!(split("python3.8"), Some(("python", vec![3, 8])));
        assert_eq!(split("python3.13"), Some(("python", vec![3, 13])));
        assert_eq!(split("nodejs14.x"), Some(("nodejs", vec![14])));
        assert_eq!(split("java11"), None);
    }

    #[test]
    fn a_supported_runtime_is_kept_as_the_recipe_names_it() {
        let (r, note) = function_runtime("python3.8", RuntimeFallback::None).unwrap();
        assert_eq!(r.id(), "python3.8");
        assert!(note.is_none());
        let (r, _) = function_runtime("provided.al2023", RuntimeFallback::None).unwrap();
        assert_eq!(r.id(), "provided.al2023");
    }

    #[test]
    fn unsupported_languages_say_what_runs() {
        let e = function_runtime("java11", RuntimeFallback::Nearest).unwrap_err();
        assert!(e.contains("not supported by lambdalet"), "{e}");
        let e = function_runtime("provided.al1", RuntimeFallback::Nearest).unwrap_err();
        assert!(e.contains("not supported by lambdalet"), "{e}");
    }

    #[test]
    fn an_old_runtime_moves_to_the_oldest_supported_only_with_nearest() {
        let e = function_runtime("python3.7", RuntimeFallback::None).unwrap_err();
        assert!(e.contains("python3.8 or later"), "{e}");
        assert!(e.contains("--runtime-fallback nearest"), "{e}");
        let (r, note) = function_runtime("nodejs14.x", RuntimeFallback::Nearest).unwrap();
        assert_eq!(r.id(), "nodejs16.x");
        assert!(note.unwrap().contains("created as nodejs16.x"));
    }
}
