//! Exact runtimes: a runtime runs only on an interpreter of its own version, found at deploy
//! (CreateFunction refuses python3.12 on a host without Python 3.12, naming what to install),
//! unless the daemon runs with `--runtime-fallback nearest` (then on the nearest newer one,
//! saying so); `lambdalet runtimes` lists them. Each test gives the daemon a directory of
//! interpreters of its own (`--interpreter-path`), so what is "installed" does not depend on
//! the host's other Pythons.

mod list;
mod sdk;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Daemon, zip_file};

/// A directory holding links to some of the host's interpreters (`python3.11`, `node`): all
/// a daemon started with [`Interpreters::flag`] knows of.
pub struct Interpreters {
    dir: tempfile::TempDir,
}

/// The real executable `program` on PATH runs (through pyenv's shims, for one).
pub fn real_interpreter(program: &str) -> PathBuf {
    let code: &[&str] = if program.starts_with("node") {
        &["-p", "process.execPath"]
    } else {
        &[
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ]
    };
    let out = Command::new(program)
        .args(code)
        .output()
        .unwrap_or_else(|e| panic!("the tests need {program} on PATH: {e}"));
    assert!(out.status.success(), "{program} runs");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

impl Interpreters {
    /// Links named `names` to the host's interpreters of those names.
    pub fn only(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in names {
            std::os::unix::fs::symlink(real_interpreter(name), dir.path().join(name))
                .expect("link");
        }
        Self { dir }
    }

    /// Python 3.11 and Node.js, the versions every test's functions use.
    pub fn standard() -> Self {
        Self::only(&["python3.11", "node"])
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn flag(&self) -> String {
        format!("--interpreter-path={}", self.dir.path().display())
    }
}

/// A Python function that returns the interpreter's version.
fn py_version_fn(tmp: &Path) -> PathBuf {
    let dir = tmp.join("pyver");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("app.py"),
        "import sys\ndef handler(event, context):\n    return {'version': list(sys.version_info[:2]), 'executable': sys.executable}\n",
    )
    .expect("write");
    dir
}

/// A Node.js function that returns the interpreter's version.
fn node_version_fn(tmp: &Path) -> PathBuf {
    let dir = tmp.join("nodever");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("index.js"),
        "exports.handler = async () => ({ node: process.versions.node });\n",
    )
    .expect("write");
    dir
}

fn create_fails(d: &Daemon, name: &str, dir: &Path, runtime: &str, handler: &str) -> String {
    let zip = zip_file(dir);
    let zip_arg = format!("fileb://{}", zip.path().display());
    let out = d.aws(&[
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        runtime,
        "--handler",
        handler,
        "--role",
        "arn:aws:iam::000000000000:role/test",
        "--zip-file",
        &zip_arg,
    ]);
    assert!(!out.status.success(), "{runtime} must be refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn host_python311_version() -> String {
    let out = Command::new("python3.11")
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .expect("python3.11");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_runtime_without_its_interpreter_is_refused_at_create_naming_what_to_install() {
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(tmp.path(), "serve", &[&interpreters.flag()]);
    let work = tempfile::tempdir().expect("tempdir");
    let (py, node) = (py_version_fn(work.path()), node_version_fn(work.path()));
    let e = create_fails(&d, "py312", &py, "python3.12", "app.handler");
    assert!(e.contains("InvalidParameterValueException"), "{e}");
    assert!(e.contains("runtime python3.12 is not installed"), "{e}");
    assert!(e.contains("install Python 3.12"), "{e}");
    assert!(e.contains("--runtime-fallback nearest"), "{e}");
    assert!(
        e.contains(&format!("found Python {}", host_python311_version())),
        "it says what it did find: {e}"
    );
    let e = create_fails(&d, "node22", &node, "nodejs22.x", "index.handler");
    assert!(e.contains("InvalidParameterValueException"), "{e}");
    assert!(e.contains("install Node.js 22"), "{e}");
    // Nothing of a refused create stays.
    let l = d.aws_ok(&["lambda", "list-functions"]);
    assert_eq!(l["Functions"].as_array().map(Vec::len), Some(0), "{l}");

    // An existing function cannot be moved onto a missing runtime either.
    d.create("py", &py, "python3.11", "app.handler", &[]);
    let out = d.aws(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        "py",
        "--runtime",
        "python3.12",
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("install Python 3.12"),
        "{e}"
    );
    let (_, body) = d.aws_invoke(&["--function-name", "py"], "{}");
    assert_eq!(body["version"], serde_json::json!([3, 11]), "{body}");
    // lambdalet's own deploy says the same.
    let o = d.cli(&[
        "deploy",
        py.to_str().expect("utf-8"),
        "--name",
        "py12",
        "--runtime",
        "python3.12",
        "--handler",
        "app.handler",
    ]);
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && text.contains("install Python 3.12"),
        "{text}"
    );
}

#[test]
fn nearest_runs_on_the_next_newer_version_and_says_so() {
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(
        tmp.path(),
        "serve",
        &[&interpreters.flag(), "--runtime-fallback", "nearest"],
    );
    let work = tempfile::tempdir().expect("tempdir");
    let py = py_version_fn(work.path());
    let notice = "runs on python3.11 (python3.10 is not installed; --runtime-fallback nearest)";
    let created = d.create("py310", &py, "python3.10", "app.handler", &[]);
    assert_eq!(
        created["Runtime"], "python3.10",
        "the function keeps its runtime"
    );
    let arn = created["RuntimeVersionConfig"]["RuntimeVersionArn"]
        .as_str()
        .expect("RuntimeVersionArn");
    let exact = host_python311_version();
    assert!(
        arn.ends_with(&format!(":runtime:lambdalet-python-{exact}")),
        "it names the interpreter that runs it: {arn}"
    );
    let got = d.aws_ok(&["lambda", "get-function", "--function-name", "py310"]);
    assert_eq!(
        got["Configuration"]["RuntimeVersionConfig"]["RuntimeVersionArn"],
        arn
    );
    let raw = d
        .http("GET", "/2015-03-31/functions/py310", None, &[])
        .json();
    let runtime = &raw["Configuration"]["LambdaletRuntime"];
    assert_eq!(runtime["Notice"], notice, "{raw}");
    assert_eq!(runtime["RunsOn"], "python3.11");
    assert_eq!(runtime["Version"], exact.as_str());
    let (_, body) = d.aws_invoke(&["--function-name", "py310"], "{}");
    assert_eq!(body["version"], serde_json::json!([3, 11]), "{body}");
    let o = d.cli(&["functions", "get", "py310"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains(notice));
    assert!(String::from_utf8_lossy(&o.stdout).contains(notice));
    assert!(d.log().contains(notice), "the daemon logs a warning");
    assert!(d.log().contains("WARN"), "{}", d.log());
    // lambdalet deploy says so in its answer.
    let o = d.cli(&[
        "deploy",
        py.to_str().expect("utf-8"),
        "--name",
        "other310",
        "--runtime",
        "python3.10",
        "--handler",
        "app.handler",
    ]);
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    assert!(text.contains(&format!("warning: {notice}")), "{text}");

    // Never an older version: python3.12 finds nothing newer than 3.11 here.
    let e = create_fails(&d, "py312", &py, "python3.12", "app.handler");
    assert!(e.contains("no newer Python"), "{e}");
    assert!(e.contains("install Python 3.12"), "{e}");
}

#[test]
fn node_falls_forward_to_the_installed_major_only() {
    let interpreters = Interpreters::standard();
    let major: u32 = {
        let out = Command::new("node")
            .args(["-p", "process.versions.node.split('.')[0]"])
            .output()
            .expect("node");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a major version")
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(
        tmp.path(),
        "serve",
        &[&interpreters.flag(), "--runtime-fallback", "nearest"],
    );
    let work = tempfile::tempdir().expect("tempdir");
    let node = node_version_fn(work.path());
    let older = format!("nodejs{}.x", major - 2);
    let created = d.create("older", &node, &older, "index.handler", &[]);
    assert_eq!(created["Runtime"], older.as_str());
    let raw = d
        .http("GET", "/2015-03-31/functions/older", None, &[])
        .json();
    assert_eq!(
        raw["Configuration"]["LambdaletRuntime"]["Notice"],
        format!("runs on nodejs{major}.x ({older} is not installed; --runtime-fallback nearest)")
    );
    let (_, body) = d.aws_invoke(&["--function-name", "older"], "{}");
    assert!(
        body["node"]
            .as_str()
            .is_some_and(|v| v.starts_with(&format!("{major}."))),
        "{body}"
    );
    // Lambda's Node.js runtimes go up by two; a newer one than this host's is refused.
    if major < 22 {
        let newer = format!("nodejs{}.x", major + 2);
        let e = create_fails(&d, "newer", &node, &newer, "index.handler");
        assert!(e.contains(&format!("install Node.js {}", major + 2)), "{e}");
        assert!(e.contains("no newer Node.js"), "{e}");
    }
}

#[test]
fn a_runtime_gone_after_a_restart_fails_its_invocations_until_it_is_back() {
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let flag = interpreters.flag();
    let mut d = Daemon::start_with(tmp.path(), "serve", &[&flag]);
    let work = tempfile::tempdir().expect("tempdir");
    d.create(
        "py",
        &py_version_fn(work.path()),
        "python3.11",
        "app.handler",
        &[],
    );
    assert_eq!(d.invoke("py", "{}").status, 200);
    d.stop();
    let link = interpreters.dir().join("python3.11");
    let target = std::fs::read_link(&link).expect("link");
    std::fs::remove_file(&link).expect("rm");
    let d = Daemon::start_with(tmp.path(), "serve", &[&flag]);
    let r = d.invoke("py", "{}");
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.error_type(), "InvalidRuntimeException", "{}", r.text());
    let m = r.message();
    assert!(m.contains("runtime python3.11 is not installed"), "{m}");
    assert!(m.contains("install Python 3.11"), "{m}");
    let out = d.aws(&["lambda", "invoke", "--function-name", "py", "/dev/null"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{e}");
    assert!(
        e.contains("InvalidRuntimeException") && e.contains("install Python 3.11"),
        "{e}"
    );
    let got = d.aws_ok(&["lambda", "get-function", "--function-name", "py"]);
    let err = &got["Configuration"]["RuntimeVersionConfig"]["Error"];
    assert_eq!(err["ErrorCode"], "InvalidRuntimeException", "{got}");
    assert!(
        d.log().contains("cannot start until it is installed"),
        "{}",
        d.log()
    );
    // Installed again: the next invocation finds it, no restart needed.
    std::os::unix::fs::symlink(&target, &link).expect("link");
    let r = d.invoke("py", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
}
