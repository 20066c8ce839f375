//! The web console (`/console`) in a real browser: `tests/py/console_check.py` drives headless
//! Chromium through Selenium as a person would (the function list, a function's Monitor, Test
//! and Logs tabs, the live log tail, a phone-sized window), prints what it saw as JSON and saves
//! screenshots under target/. Chromium, chromedriver and selenium are needed: `make test`
//! (scripts/test.sh) installs them, and without them these tests fail rather than skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::auth::Key;
use crate::harness::{Daemon, LAMBDALET, curl, fixture, repo};

const INSTALL_HINT: &str = "the console tests need Debian's chromium and chromium-driver and \
     PyPI's selenium: `make test` (scripts/test.sh) installs them, or run `apt-get install \
     chromium chromium-driver && python3 -m pip install selenium`";

/// The screenshots console_check.py saves (and `--only-login` the first alone).
const SCREENSHOTS: [&str; 5] = [
    "functions.png",
    "function-monitor.png",
    "function-test.png",
    "function-logs.png",
    "phone-functions.png",
];

/// Fails, with the install hint, when the browser, its driver or selenium is missing.
fn require_browser() {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(Path::new(bin).exists(), "{bin} is missing: {INSTALL_HINT}");
    }
    let selenium = Command::new("python3")
        .args(["-c", "import selenium"])
        .output()
        .expect("run python3");
    assert!(
        selenium.status.success(),
        "python3 cannot import selenium: {INSTALL_HINT}\n{}",
        String::from_utf8_lossy(&selenium.stderr)
    );
}

/// A fresh screenshot directory under target/.
fn screenshot_dir(name: &str) -> PathBuf {
    let dir = repo().join("target").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs console_check.py against `d` for `function`; returns what it saw.
fn console_check(d: &Daemon, function: &str, shots: &Path, extra: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(repo().join("tests/py/console_check.py"))
        .arg(&d.url)
        .arg(function)
        .arg(shots)
        .args(extra)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "console_check.py failed (screenshots in {}):\n{}{stdout}\n--- daemon log ---\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("console_check.py printed no JSON ({e}): {stdout}"))
}

/// The function list's row names the function and its runtime, and its page shows it Active.
fn assert_row_and_state(seen: &Value, function: &str) {
    let row: Vec<&str> = seen["row"]
        .as_array()
        .map(|cells| cells.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for wanted in [function, "python3.11"] {
        assert!(
            row.iter().any(|cell| cell.contains(wanted)),
            "the row of {function} does not mention {wanted}: {row:?}"
        );
    }
    assert_eq!(seen["state"], "Active", "{seen:#}");
}

/// Nothing went wrong in the page's scripts or requests (the browser console's errors).
fn assert_no_console_errors(seen: &Value) {
    assert_eq!(
        seen["consoleErrors"],
        json!([]),
        "the browser's console has errors"
    );
}

/// Each screenshot is a PNG with something in it (over 5 KB).
fn assert_screenshots(shots: &Path, names: &[&str]) {
    for name in names {
        let path = shots.join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("no screenshot {}: {e}", path.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
        assert!(
            bytes.len() > 5 * 1024,
            "{} is only {} bytes",
            path.display(),
            bytes.len()
        );
    }
}

#[test]
fn the_console_shows_functions_invokes_from_the_test_tab_and_tails_the_log_in_chromium() {
    require_browser();
    let d = Daemon::start();
    d.deploy_python(&fixture("py-basic"), "console-fn", "app.handler", &[]);
    // A first point on the invocations chart.
    let r = d.invoke("console-fn", r#"{"from": "curl"}"#);
    assert_eq!(r.status, 200, "{}", r.text());

    let shots = screenshot_dir("console-screenshots");
    let seen = console_check(&d, "console-fn", &shots, &[]);
    assert_row_and_state(&seen, "console-fn");
    assert_no_console_errors(&seen);

    // The Test tab invoked with its payload; py-basic echoes the event and prints the request id.
    assert_eq!(seen["status"], "Succeeded", "{seen:#}");
    assert_eq!(
        seen["response"]["event"],
        json!({"from": "chromium"}),
        "{seen:#}"
    );
    let request_id = seen["requestId"].as_str().expect("requestId");
    let test_log = seen["testLog"].as_str().unwrap_or_default();
    assert!(
        test_log.contains(&format!("printed-by-handler {request_id}")),
        "the Test tab's log is not the invocation's: {test_log}"
    );

    // The live tail got the invocation's REPORT line; the chart counted it.
    assert_eq!(seen["reportLineSeen"], true, "{seen:#}");
    let initial = seen["initialTotal"].as_f64().expect("initialTotal");
    let last = seen["finalTotal"].as_f64().expect("finalTotal");
    assert!(
        initial >= 1.0,
        "the chart missed the first invocation: {seen:#}"
    );
    assert!(
        last > initial,
        "the chart did not count the Test tab's invocation: {seen:#}"
    );

    assert_eq!(
        seen["phoneNoHorizontalScroll"],
        true,
        "a phone's page scrolls sideways (see {}): {}",
        shots.join("phone-functions.png").display(),
        seen["phoneViewport"]
    );
    assert_screenshots(&shots, &SCREENSHOTS);
}

#[test]
fn the_console_needs_a_login_when_the_api_needs_signatures() {
    require_browser();
    let tmp = tempfile::tempdir().expect("tempdir");
    Daemon::start_in(tmp.path()).stop();
    let Key { id, secret } = crate::auth::new_key(tmp.path());
    let d = Daemon::start_with(tmp.path(), "serve", &["--auth", "sigv4"]);
    let deployed = Command::new(LAMBDALET)
        .arg("deploy")
        .arg(fixture("py-basic"))
        .args(["--name", "console-fn", "--runtime", "python3.11"])
        .args(["--handler", "app.handler"])
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .env("LAMBDALET_ACCESS_KEY_ID", &id)
        .env("LAMBDALET_SECRET_ACCESS_KEY", &secret)
        .output()
        .expect("deploy");
    assert!(
        deployed.status.success(),
        "deploy: {}\n--- daemon log ---\n{}",
        String::from_utf8_lossy(&deployed.stderr),
        d.log()
    );

    // Without a session cookie the console sends the browser to its login page.
    let r = curl("GET", &format!("{}/console", d.url), None, &[]);
    assert_eq!(r.status, 303, "{}", r.head);
    let to = r.header("location").unwrap_or_default();
    let path = to.split_once('?').map_or(to, |(path, _)| path);
    assert!(path.ends_with("/console/login"), "redirected to {to:?}");

    // Signed in with an administrator's key, the console shows the function.
    let shots = screenshot_dir("console-screenshots-login");
    // `--secret=...`: a random secret may start with a dash, which argparse would take for a
    // flag of its own.
    let (id_arg, secret_arg) = (format!("--key-id={id}"), format!("--secret={secret}"));
    let seen = console_check(
        &d,
        "console-fn",
        &shots,
        &[&id_arg, &secret_arg, "--only-login"],
    );
    assert_eq!(seen["login"], true, "{seen:#}");
    assert_row_and_state(&seen, "console-fn");
    assert_no_console_errors(&seen);
    assert_screenshots(&shots, &SCREENSHOTS[..1]);
}
