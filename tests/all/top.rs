//! `lambdalet top` and the overview it polls (`GET /lambdalet/v1/overview`), against a real
//! daemon: the JSON, the one-shot table in each `--output` form, rates measured while a
//! function runs, and the interactive view under a pseudo-terminal (it draws, and `q` gives the
//! terminal back).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Daemon, LAMBDALET, eventually, fixture};

/// `lambdalet ARGS`, which must succeed; its stdout.
fn cli_ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.cli(args);
    assert!(
        o.status.success(),
        "lambdalet {args:?}: {}\n--- daemon log ---\n{}",
        String::from_utf8_lossy(&o.stderr),
        d.log()
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// The overview's entry for `name`.
fn entry<'a>(overview: &'a Value, name: &str) -> &'a Value {
    overview["functions"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["function"] == name))
        .unwrap_or_else(|| panic!("no {name} in {overview}"))
}

#[test]
fn top_shows_every_function_with_its_rates_and_sandboxes() {
    let d = Daemon::start();
    let dir = fixture("py-basic");
    // Deployed out of order: the overview sorts by name.
    d.deploy_python(&dir, "top-ok", "app.handler", &[]);
    d.deploy_python(&dir, "top-failing", "app.raise_error", &[]);
    for _ in 0..3 {
        let r = d.invoke("top-ok", "{}");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = d.invoke("top-failing", "{}");
    assert!(r.header("x-amz-function-error").is_some(), "{}", r.text());

    let overview = || {
        let r = d.http("GET", "/lambdalet/v1/overview", None, &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    // A sandbox goes back to idle just after its answer is sent.
    eventually(Duration::from_secs(10), "both sandboxes idle", || {
        let v = overview();
        ["top-ok", "top-failing"]
            .iter()
            .all(|n| entry(&v, n)["sandboxes"]["busy"] == 0 && entry(&v, n)["concurrent"] == 0)
    });
    let v = overview();
    assert!(v["timeMs"].as_u64().is_some_and(|t| t > 0), "{v}");
    assert_eq!(v["inFlight"], 0, "{v}");
    let names: Vec<&str> = v["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert_eq!(names, ["top-failing", "top-ok"]);
    let ok = entry(&v, "top-ok");
    assert_eq!(ok["runtime"], "python3.11", "{ok}");
    assert_eq!(ok["state"], "Active", "{ok}");
    assert_eq!(ok["pinned"], false, "{ok}");
    assert_eq!(
        (&ok["invocations"], &ok["errors"]),
        (&3.into(), &0.into()),
        "{ok}"
    );
    assert_eq!(ok["throttles"], 0, "{ok}");
    assert!(ok["coldStarts"].as_u64().is_some_and(|n| n >= 1), "{ok}");
    assert!(
        ok["sandboxes"]["idle"].as_u64().is_some_and(|n| n >= 1),
        "{ok}"
    );
    assert_eq!(ok["sandboxes"]["queued"], 0, "{ok}");
    assert_eq!(
        ok["lastHour"],
        serde_json::json!({"invocations": 3, "errors": 0})
    );
    let failing = entry(&v, "top-failing");
    assert_eq!(
        (&failing["invocations"], &failing["errors"]),
        (&1.into(), &1.into()),
        "{failing}"
    );
    assert_eq!(
        failing["lastHour"],
        serde_json::json!({"invocations": 1, "errors": 1})
    );
    // The current minute (unless it just turned): its count and its durations.
    let minute = &failing["lastMinute"];
    if minute["invocations"] == 1 {
        assert!(
            minute["p50Ms"].is_f64() && minute["p99Ms"].is_f64(),
            "{minute}"
        );
    }

    // One table: rates between two polls, in each form.
    let text = cli_ok(&d, &["top", "--once", "--interval", "0.2"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("lambdalet top  http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        lines[0].contains("2 functions  0 in flight  0.0 inv/s"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("FUNCTION") && lines[2].contains("INV (1 h)"),
        "{text}"
    );
    assert!(
        text.contains("top-ok") && text.contains("top-failing"),
        "{text}"
    );

    let rows: Vec<Vec<String>> = cli_ok(
        &d,
        &[
            "top",
            "--once",
            "--interval",
            "0.2",
            "--sort",
            "name",
            "--output",
            "text",
        ],
    )
    .lines()
    .map(|l| l.split('\t').map(str::to_owned).collect())
    .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..4], ["top-failing", "python3.11", "Active", "0.0"]);
    assert_eq!(rows[1][0], "top-ok");
    assert_eq!((rows[1].len(), rows[1][11].as_str()), (12, "3"), "{rows:?}");

    // Invocations between the two polls make a rate.
    let top = Command::new(LAMBDALET)
        .args(["top", "--once", "--interval", "3", "--output", "json"])
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lambdalet top");
    std::thread::sleep(Duration::from_millis(1000));
    for _ in 0..4 {
        let r = d.invoke("top-ok", "{}");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let o = top.wait_with_output().expect("lambdalet top");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let ok = entry(&v, "top-ok");
    assert_eq!(ok["invocations"], 7, "{ok}");
    let rate = ok["rates"]["invocations"].as_f64().expect("a rate");
    assert!(
        rate > 0.5 && rate < 4.0,
        "4 invocations in about 3 s: {rate}"
    );
    assert_eq!(entry(&v, "top-failing")["rates"]["errors"], 0.0, "{v}");
}

#[test]
fn the_live_view_draws_and_quits_on_q() {
    let d = Daemon::start();
    d.deploy_python(&fixture("py-basic"), "top-live", "app.handler", &[]);
    // `script` runs top on a pseudo-terminal of 150 x 20 and relays our stdin to it.
    let mut child = Command::new("script")
        .args([
            "-qfec",
            &format!("stty cols 150 rows 20; exec {LAMBDALET} top --interval 0.3"),
            "/dev/null",
        ])
        .env("LAMBDALET_ENDPOINT", &d.url)
        .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let mut read_until = |what: &str, limit: Duration| {
        let start = Instant::now();
        while !String::from_utf8_lossy(&out).contains(what) && start.elapsed() < limit {
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
                out.extend(chunk);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    // The first overview drawn, then q.
    let drawn = read_until("top-live", Duration::from_secs(15));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"q").expect("send q");
    stdin.flush().expect("flush");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("lambdalet top did not quit on q: {drawn}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = read_until("\x1b[?1049l\x1b[?25h", Duration::from_secs(5));
    drop(stdin);
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("top-live"), "{out}");
    assert!(out.contains("lambdalet top"), "{out}");
    // It entered the alternate screen and left it, showing the cursor again.
    assert!(out.contains("\x1b[?1049h"), "{out}");
    assert!(out.contains("\x1b[?1049l\x1b[?25h"), "{out}");
}
