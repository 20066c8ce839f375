//! The resolver against fake shims, wrapper scripts and the host's real interpreters.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lambdalet_core::{LanguageVersion, Runtime, RuntimeFallback, RuntimeFamily};

use super::probe::parse;
use super::{InterpreterSearch, Resolver};
use crate::error::InvokeError;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

/// The host's real `program` (through any shim) and its version, e.g. (/usr/bin/python3.11, 3.11).
fn real(program: &str, code: &[&str]) -> (PathBuf, LanguageVersion) {
    let out = std::process::Command::new(program)
        .args(code)
        .output()
        .unwrap_or_else(|e| panic!("these tests need {program} on PATH: {e}"));
    assert!(out.status.success(), "{program} runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let exe = PathBuf::from(lines.next().expect("exe"));
    let mut v = lines.next().expect("version").split('.');
    let version = LanguageVersion {
        major: v.next().and_then(|n| n.parse().ok()).expect("major"),
        minor: v.next().and_then(|n| n.parse().ok()),
    };
    (exe.canonicalize().expect("real path"), version)
}

fn real_python() -> (PathBuf, LanguageVersion) {
    real(
        "python3",
        &[
            "-c",
            "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])",
        ],
    )
}

fn real_node() -> (PathBuf, LanguageVersion) {
    real(
        "node",
        &[
            "-e",
            "console.log(process.execPath); console.log(process.versions.node)",
        ],
    )
}

fn python(version: &LanguageVersion, delta: i64) -> Option<Runtime> {
    let minor = i64::from(version.minor?) + delta;
    Runtime::parse(&format!("python{}.{minor}", version.major)).ok()
}

fn message(e: InvokeError) -> String {
    match e {
        InvokeError::MissingInterpreter { message, .. } => message,
        other => panic!("not a missing interpreter: {other}"),
    }
}

#[tokio::test]
async fn a_failing_shim_is_skipped_and_a_wrapper_resolves_to_the_real_interpreter() {
    let (exe, version) = real_python();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // pyenv's shim of a version that is not selected: it exits with an error.
    let asked = format!("python{version}");
    script(
        dir,
        &asked,
        "echo \"pyenv: $0: command not found\" >&2; exit 127",
    );
    let wrapper = script(dir, "python3", &format!("exec {} \"$@\"", exe.display()));
    let resolver = Resolver::new(
        InterpreterSearch::Only(vec![dir.to_owned()]),
        RuntimeFallback::None,
    );
    let runtime = Runtime::parse(&asked).expect("the host's python is a supported runtime");
    let r = resolver.resolve(&runtime).await.expect("resolves");
    assert_eq!(r.interpreter.exe, exe, "the wrapper's real interpreter");
    assert_eq!(r.interpreter.found_as, wrapper);
    assert_eq!(r.interpreter.version, version);
    assert!(
        r.interpreter
            .full_version
            .starts_with(&format!("{version}."))
    );
    assert!(!r.interpreter.homes.is_empty());
    assert_eq!(r.notice, None);
    assert_eq!(r.runs_on, asked);
    assert_eq!(resolver.cached(&runtime), Some(r.clone()));
    // Only the shim: nothing starts.
    std::fs::remove_file(&wrapper).expect("rm");
    let e = message(
        resolver
            .resolve(&runtime)
            .await
            .expect_err("no interpreter"),
    );
    assert!(e.contains(&format!("install Python {version}")), "{e}");
    assert!(e.contains("no Python was found"), "{e}");
    assert!(resolver.cached(&runtime).is_none(), "a failure is not kept");
    assert!(resolver.last_status(&runtime).is_some_and(|s| s.is_err()));
    // Installing it later is seen without a restart; the changed shim is run again.
    script(dir, &asked, &format!("exec {} \"$@\"", exe.display()));
    let r = resolver.resolve(&runtime).await.expect("resolves again");
    assert_eq!(r.interpreter.exe, exe);
}

#[tokio::test]
async fn a_python_serves_only_its_own_version_unless_nearest_is_allowed() {
    let (exe, version) = real_python();
    let tmp = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(&exe, tmp.path().join("python3")).expect("link");
    let search = InterpreterSearch::Only(vec![tmp.path().to_owned()]);
    let strict = Resolver::new(search.clone(), RuntimeFallback::None);
    let nearest = Resolver::new(search, RuntimeFallback::Nearest);
    let mut checked = 0;
    if let Some(older) = python(&version, -1) {
        let e = message(strict.resolve(&older).await.expect_err("refused"));
        assert!(
            e.contains(&format!("runtime {older} is not installed on this host")),
            "{e}"
        );
        assert!(e.contains("--runtime-fallback nearest"), "{e}");
        assert!(e.contains(&format!("found Python {version}.")), "{e}");
        let r = nearest.resolve(&older).await.expect("falls back");
        assert_eq!(r.runs_on, format!("python{version}"));
        assert_eq!(r.interpreter.exe, exe, "a link runs as its target");
        assert_eq!(
            r.notice.as_deref(),
            Some(
                format!(
                    "runs on python{version} ({older} is not installed; --runtime-fallback nearest)"
                )
                .as_str()
            )
        );
        checked += 1;
    }
    if let Some(newer) = python(&version, 1) {
        for resolver in [&strict, &nearest] {
            let e = message(
                resolver
                    .resolve(&newer)
                    .await
                    .expect_err("never an older one"),
            );
            assert!(
                e.contains(&format!(
                    "install Python 3.{}",
                    version.minor.unwrap_or(0) + 1
                )),
                "{e}"
            );
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "the host's Python {version} has a supported neighbour"
    );
}

#[tokio::test]
async fn node_serves_its_major_and_never_a_newer_runtime() {
    let (exe, version) = real_node();
    let tmp = tempfile::tempdir().expect("tempdir");
    script(
        tmp.path(),
        "node",
        &format!("exec {} \"$@\"", exe.display()),
    );
    let resolver = Resolver::new(
        InterpreterSearch::Only(vec![tmp.path().to_owned()]),
        RuntimeFallback::Nearest,
    );
    let own = Runtime::parse(&format!("nodejs{}.x", version.major));
    if let Ok(own) = own {
        let r = resolver.resolve(&own).await.expect("resolves");
        assert_eq!(r.interpreter.exe, exe);
        assert_eq!(r.interpreter.version.major, version.major);
        assert_eq!(r.notice, None);
    }
    if let Ok(newer) = Runtime::parse(&format!("nodejs{}.x", version.major + 2)) {
        let e = message(
            resolver
                .resolve(&newer)
                .await
                .expect_err("not on an older node"),
        );
        assert!(
            e.contains(&format!("install Node.js {}", version.major + 2)),
            "{e}"
        );
        assert!(
            e.contains(&format!("found Node.js {}", version.major)),
            "{e}"
        );
    }
}

#[test]
fn probe_answers_are_read_strictly() {
    let py = parse(
        RuntimeFamily::Python,
        Path::new("/x/python3"),
        "3.12.1\n/opt/py/bin/python3.12\n/opt/py\n/opt/py\n",
    )
    .expect("parses");
    assert_eq!(
        py.version,
        LanguageVersion {
            major: 3,
            minor: Some(12)
        }
    );
    assert_eq!(py.full_version, "3.12.1");
    assert_eq!(py.homes, [PathBuf::from("/opt/py")]);
    assert_eq!(py.found_as, Path::new("/x/python3"));
    let venv = parse(
        RuntimeFamily::Python,
        Path::new("/v/bin/python"),
        "3.11.2\n/v/bin/python\n/usr\n/v\n",
    )
    .expect("parses");
    assert_eq!(venv.exe, Path::new("/v/bin/python"), "a venv runs as it is");
    assert_eq!(venv.homes, [PathBuf::from("/usr"), PathBuf::from("/v")]);
    let node = parse(
        RuntimeFamily::Node,
        Path::new("/n/node"),
        "20.20.2\n/n/v20/bin/node\n",
    )
    .expect("parses");
    assert_eq!(node.version.major, 20);
    assert_eq!(node.homes, [PathBuf::from("/n/v20")]);
    assert!(parse(RuntimeFamily::Python, Path::new("/x"), "Python 3.12\n").is_none());
    assert!(parse(RuntimeFamily::Python, Path::new("/x"), "").is_none());
}
