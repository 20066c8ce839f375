//! The official runtime interface clients, unmodified, as `provided` runtimes: AWS's Python
//! client (awslambdaric from PyPI) and a Rust function built with the `lambda_runtime` crate.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Daemon, copy_into, fixture, pip_cache, repo};

/// Copies a fixture and vendors awslambdaric into its `deps/` (cached between runs).
fn awslambdaric_function(dst: &Path) {
    copy_into(&fixture("awslambdaric"), dst);
    copy_into(&pip_cache("awslambdaric"), &dst.join("deps"));
}

#[test]
fn awslambdaric_runs_as_a_provided_runtime() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ric");
    awslambdaric_function(&dir);
    d.create("ric", &dir, "provided.al2023", "app.handler", &[]);
    let r = d.invoke("ric", r#"{"from": "test"}"#);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), d.log());
    assert!(r.header("x-amz-function-error").is_none(), "{}", r.text());
    let body = r.json();
    assert_eq!(body["ric"], true);
    assert_eq!(body["event"]["from"], "test");
    assert_eq!(
        body["request_id"],
        r.header("x-amzn-requestid").expect("id")
    );
    // A second invoke is served by the same (warm) awslambdaric process.
    let again = d.invoke("ric", "{}").json();
    assert_eq!(again["ric"], true);
}

/// Builds examples/hello-rust (the `lambda_runtime` crate) and returns its `bootstrap` binary.
fn rust_bootstrap() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "hello-rust"])
        .current_dir(repo())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo build -p hello-rust failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let bin = target.join("debug/bootstrap");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

#[test]
fn rust_lambda_runtime_function_runs_as_provided_al2023() {
    let bin = rust_bootstrap();
    let d = Daemon::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&bin, tmp.path().join("bootstrap")).expect("copy bootstrap");
    d.create("rusty", tmp.path(), "provided.al2023", "bootstrap", &[]);
    let (meta, body) = d.aws_invoke(
        &["--function-name", "rusty", "--log-type", "Tail"],
        r#"{"name": "ferris"}"#,
    );
    assert_eq!(body["message"], "hello, ferris");
    let log = crate::harness::decode_log(meta["LogResult"].as_str().expect("log"));
    assert!(
        log.contains("ferris") && log.contains("REPORT RequestId"),
        "{log}"
    );
}
