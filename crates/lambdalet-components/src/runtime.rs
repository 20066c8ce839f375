//! Which installed runtime runs a Lambda component. Greengrass components name exact runtimes
//! (`python3.8`, `nodejs14.x`); lambdalet uses that runtime when the host has it, and
//! otherwise fails the deployment saying what to install, unless the daemon was told
//! `--runtime-fallback nearest`: then the nearest newer installed version of the same language
//! runs it, and the component's details and the log say so.

use std::time::Duration;

use lambdalet_core::runtime::SUPPORTED_RUNTIMES;
use tokio::process::Command;

/// What to do when the runtime a component names is not installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeFallback {
    /// Fail the deployment.
    #[default]
    None,
    /// Run it on the nearest newer installed version of the same language.
    Nearest,
}

impl RuntimeFallback {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "nearest" => Ok(Self::Nearest),
            other => Err(format!(
                "--runtime-fallback {other:?} is not valid: use none or nearest"
            )),
        }
    }
}

/// The runtime chosen, and a note when it is not the one asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub runtime: String,
    pub note: Option<String>,
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

/// Settles the runtime of a component that names `wanted`.
pub async fn choose(wanted: &str, fallback: RuntimeFallback) -> Result<Chosen, String> {
    if wanted.starts_with("provided") {
        return if SUPPORTED_RUNTIMES.contains(&wanted) {
            Ok(Chosen {
                runtime: wanted.to_owned(),
                note: None,
            })
        } else {
            Err(format!(
                "runtime {wanted} is not supported; use provided.al2023 or provided.al2"
            ))
        };
    }
    let Some((lang, version)) = split(wanted) else {
        return Err(format!(
            "runtime {wanted} is not supported by lambdalet (it runs python3.x, nodejsN.x and provided runtimes); rebuild the function for one of: {}",
            SUPPORTED_RUNTIMES.join(", ")
        ));
    };
    if SUPPORTED_RUNTIMES.contains(&wanted) && installed(lang, &version).await {
        return Ok(Chosen {
            runtime: wanted.to_owned(),
            note: None,
        });
    }
    let what = install_hint(lang, &version);
    if fallback == RuntimeFallback::None {
        return Err(format!(
            "runtime {wanted} is not installed on this host: {what}, or start lambdalet with --runtime-fallback nearest to run it on the nearest newer installed version"
        ));
    }
    let mut newer: Vec<(Vec<u32>, &str)> = SUPPORTED_RUNTIMES
        .iter()
        .filter_map(|id: &&str| split(id).map(|(l, v)| (l, v, *id)))
        .filter(|(l, v, _)| *l == lang && *v > version)
        .map(|(_, v, id)| (v, id))
        .collect();
    newer.sort();
    for (v, id) in newer {
        if installed(lang, &v).await {
            return Ok(Chosen {
                runtime: id.to_owned(),
                note: Some(format!(
                    "runtime {wanted} is not installed; running on {id} (--runtime-fallback nearest)"
                )),
            });
        }
    }
    Err(format!(
        "runtime {wanted} is not installed on this host and no newer {lang} is either: {what}"
    ))
}

fn install_hint(lang: &str, version: &[u32]) -> String {
    match lang {
        "python" => format!(
            "install Python {}.{} (python{}.{} on the PATH)",
            version[0], version[1], version[0], version[1]
        ),
        _ => format!("install Node.js {} (node on the PATH)", version[0]),
    }
}

/// Whether this exact language version runs here. A `pythonX.Y` on the PATH must start and
/// say it is X.Y (version managers leave shims that do not); `python3` counts when it is X.Y.
async fn installed(lang: &str, version: &[u32]) -> bool {
    match lang {
        "python" => {
            let want = format!("{}.{}", version[0], version[1]);
            for exe in [format!("python{want}"), "python3".to_owned()] {
                let out = run(
                    &exe,
                    &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                )
                .await;
                if out.as_deref() == Some(want.as_str()) {
                    return true;
                }
            }
            false
        }
        _ => {
            let out = run("node", &["--version"]).await;
            let major = out
                .as_deref()
                .and_then(|v| v.strip_prefix('v'))
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse::<u32>().ok());
            major == Some(version[0])
        }
    }
}

async fn run(exe: &str, args: &[&str]) -> Option<String> {
    let child = Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(10), child)
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
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
        assert!(vec![3, 13] > vec![3, 9]);
    }

    #[tokio::test]
    async fn unsupported_languages_say_what_runs() {
        let e = choose("java11", RuntimeFallback::Nearest)
            .await
            .unwrap_err();
        assert!(e.contains("not supported by lambdalet"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_python_fails_or_falls_back() {
        // Python 3.8 is long gone from hosts that have a newer python3; python2.7 never counts.
        let Some(have) = run(
            "python3",
            &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        )
        .await
        else {
            eprintln!("skipped: no python3 on this host");
            return;
        };
        if have == "3.8" {
            eprintln!("skipped: this host's python3 is 3.8");
            return;
        }
        if installed("python", &[3, 8]).await {
            eprintln!("skipped: python3.8 is installed here");
            return;
        }
        let e = choose("python3.8", RuntimeFallback::None)
            .await
            .unwrap_err();
        assert!(e.contains("install Python 3.8"), "{e}");
        assert!(e.contains("--runtime-fallback nearest"), "{e}");
        let c = choose("python3.8", RuntimeFallback::Nearest).await.unwrap();
        assert_eq!(c.runtime, format!("python{have}"));
        assert!(c.note.unwrap().contains("running on"));
    }
}
