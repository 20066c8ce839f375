//! What lambdalet says about itself: `completions`, `man`, and the daemon's own log lines with
//! `serve --log-format json`.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Daemon, LAMBDALET, fixture};

#[test]
fn completions_and_man_pages_cover_the_commands() {
    let o = Command::new(LAMBDALET)
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(o.status.success());
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(script.contains("complete -F _lambdalet"), "{script}");
    for word in ["deploy", "invoke", "logs", "completions", "--output"] {
        assert!(script.contains(word), "bash completions name {word}");
    }
    for shell in ["zsh", "fish"] {
        let o = Command::new(LAMBDALET)
            .args(["completions", shell])
            .output()
            .expect("run");
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("deploy"));
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("man1");
    let o = Command::new(LAMBDALET)
        .args(["man", "--dir", dir.to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed = String::from_utf8_lossy(&o.stdout);
    for page in [
        "lambdalet.1",
        "lambdalet-deploy.1",
        "lambdalet-layers-delete.1",
    ] {
        let path = dir.join(page);
        assert!(
            listed.lines().any(|l| l == path.to_str().expect("utf-8")),
            "{listed}"
        );
        let text = std::fs::read_to_string(&path).expect("page written");
        let name = page.trim_end_matches(".1");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!(".TH {name} 1"))),
            "{page}: {text}"
        );
    }
    // Rendered as `man` shows it, where groff is installed.
    if Command::new("groff").arg("--version").output().is_ok() {
        let o = Command::new("groff")
            .args(["-man", "-Tascii", "-P", "-c", "-P", "-b", "-P", "-u"])
            .arg(dir.join("lambdalet-deploy.1"))
            .output()
            .expect("groff");
        let page = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success());
        assert!(
            page.contains("NAME") && page.contains("lambdalet-deploy"),
            "{page}"
        );
        assert!(page.contains("--output"), "{page}");
    }
}

#[test]
fn the_daemon_logs_one_json_object_per_line_with_log_format_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = Daemon::start_with(tmp.path(), "serve", &["--log-format", "json"]);
    d.create(
        "hello",
        &fixture("py-basic"),
        "python3.11",
        "app.handler",
        &[],
    );
    let r = d.invoke("hello", "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(d.stop().success());
    let log = d.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{log}")))
        .collect();
    let started = lines
        .iter()
        .find(|l| l["fields"]["message"] == "lambdalet started")
        .unwrap_or_else(|| panic!("the startup line: {log}"));
    assert_eq!(started["level"], "INFO");
    assert!(started["timestamp"].is_string() && started["target"].is_string());
    assert!(started["fields"]["data_dir"].is_string(), "{started}");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "lambdalet stopped"),
        "{log}"
    );
}
