//! `lambdalet runtimes`: every supported runtime with the interpreter it resolves to (path
//! and exact version) or what to install, and the AWS SDK it provides.

use std::process::Command;

use serde_json::Value;

use super::{Interpreters, host_python311_version, real_interpreter};
use crate::harness::Daemon;

#[test]
fn lambdalet_runtimes_lists_each_runtime_with_its_interpreter() {
    let interpreters = Interpreters::standard();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_with(tmp.path(), "serve", &[&interpreters.flag()]);
    let o = d.cli(&["runtimes"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let real = real_interpreter("python3.11");
    let exact = host_python311_version();
    let line = |rt: &str| -> String {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(rt))
            .unwrap_or_else(|| panic!("{rt} is listed: {text}"))
            .to_owned()
    };
    assert!(
        line("python3.11").contains(&format!("{} ({exact})", real.display())),
        "{text}"
    );
    assert!(
        line("python3.12").contains("not installed: install Python 3.12"),
        "{text}"
    );
    assert!(
        line("nodejs22.x").contains("not installed: install Node.js 22"),
        "{text}"
    );
    assert!(line("provided.al2023").contains("bootstrap"), "{text}");
    let v: Value = {
        let o = d.cli(&["runtimes", "--json"]);
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let rt = |id: &str| -> Value {
        v["Runtimes"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["Runtime"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("{id}: {v}"))
    };
    assert_eq!(rt("python3.11")["Status"], "installed");
    assert_eq!(rt("python3.11")["Interpreter"], real.display().to_string());
    assert_eq!(rt("python3.12")["Status"], "missing");
    assert_eq!(v["RuntimeFallback"], "none");
    // Which boto3 python3.11 provides: the interpreter's own, when it has one.
    let host_boto3 = Command::new(&real)
        .args([
            "-c",
            "from importlib.metadata import version; print(version('boto3'))",
        ])
        .output()
        .expect("python");
    let sdk = &rt("python3.11")["Sdk"];
    if host_boto3.status.success() {
        assert_eq!(sdk["Source"], "host", "{sdk}");
        assert_eq!(
            sdk["Version"],
            String::from_utf8_lossy(&host_boto3.stdout).trim()
        );
        assert!(line("python3.11").contains("(host)"), "{text}");
    } else {
        assert_eq!(sdk["Source"], "none", "{sdk}");
    }
    // Every interpreter it looked at, and why one was skipped.
    assert!(
        v["Interpreters"].as_array().is_some_and(|a| a
            .iter()
            .any(|i| i["Interpreter"] == real.display().to_string())),
        "{v}"
    );
}
