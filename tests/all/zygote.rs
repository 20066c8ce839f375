//! Zygotes (Python, process sandboxes): Init runs once per version, in a zygote, and each cold
//! start forks it. What is each sandbox's own differs between forks, each fork has its own
//! cgroup and limits, Init's failures and refusals behave as a plain start, and nothing
//! outlives the daemon or the version.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Daemon, eventually, fixture, processes_with_env};
use crate::limits::invoke_tail;

/// Deploys the zygote fixture as `name` in a process sandbox with `env` (`K=V`).
fn deploy(d: &Daemon, name: &str, env: &[&str], extra: &[&str]) {
    let mut args = vec!["--sandbox", "process", "--timeout", "30"];
    for e in env {
        args.extend_from_slice(&["--env", e]);
    }
    args.extend_from_slice(extra);
    d.deploy_python(&fixture("zygote"), name, "app.handler", &args);
}

/// The Init Duration of a REPORT line, in ms, if it has one.
pub(crate) fn init_ms(log: &str) -> Option<f64> {
    let rest = log.split("Init Duration: ").nth(1)?;
    rest.split(" ms").next()?.trim().parse().ok()
}

/// Invokes `n` at once (each sleeping `sleep` s), so that several sandboxes serve them.
pub(crate) fn concurrently(d: &Daemon, name: &str, n: usize, sleep: f64) -> Vec<(Value, String)> {
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let (body, err, log) =
                        invoke_tail(d, name, &json!({ "sleep": sleep }).to_string());
                    assert!(err.is_none(), "{body}\n{log}");
                    (body, log)
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().expect("call")).collect()
    })
}

fn alive(pid: &Value) -> bool {
    std::path::Path::new(&format!("/proc/{}", pid.as_u64().unwrap_or(0))).exists()
}

#[test]
fn forked_sandboxes_run_init_once_and_keep_what_is_their_own() {
    let d = Daemon::start();
    deploy(
        &d,
        "forked",
        &["LAMBDALET_ZYGOTE=on", "IMPORT_SECONDS=0.4"],
        &[],
    );
    let (first, err, log) = invoke_tail(&d, "forked", "{}");
    assert!(err.is_none(), "{first}\n{log}");
    assert!(
        log.contains("init printed in"),
        "Init's output is the first sandbox's: {log}"
    );
    let first_init = init_ms(&log).expect("Init Duration");
    assert!(
        first_init >= 400.0,
        "the first cold start includes Init: {log}"
    );
    assert_ne!(
        first["imported_in"], first["pid"],
        "Init ran in the zygote: {first}"
    );
    assert_eq!(first["fd_env"], Value::Null, "{first}");
    assert_eq!(first["zygote_env"], Value::Null, "{first}");
    assert_eq!(first["threads"], 1, "{first}");

    let answers = concurrently(&d, "forked", 3, 1.0);
    let forked: Vec<&(Value, String)> = answers
        .iter()
        .filter(|(b, _)| b["pid"] != first["pid"])
        .collect();
    assert!(forked.len() >= 2, "new sandboxes served: {answers:?}");
    let mut pids = vec![first["pid"].clone()];
    let mut streams = vec![first["stream"].clone()];
    let mut rands = vec![first["rand"].as_f64().expect("rand").to_bits()];
    for (b, log) in &forked {
        assert_eq!(b["count"], 1, "a new sandbox counts from Init's state: {b}");
        assert_eq!(
            b["imported_in"], first["imported_in"],
            "forked from the same zygote: {b}"
        );
        assert_eq!(
            b["made_at_import"], first["made_at_import"],
            "Init's state is inherited: {b}"
        );
        assert_eq!(b["key"], first["key"], "the version's credentials: {b}");
        assert_ne!(b["api"], Value::Null, "{b}");
        assert_eq!(b["fd_env"], Value::Null, "{b}");
        let init = init_ms(log).expect("a new sandbox reports its Init Duration");
        assert!(
            init < 300.0,
            "a fork does not import again ({init} ms): {log}"
        );
        assert!(
            !log.contains("init printed in"),
            "Init did not run again: {log}"
        );
        assert!(log.contains("handled"), "{log}");
        if let (Some(own), Some(zygote_cg)) = (b["cgroup"].as_str(), first["cgroup"].as_str()) {
            assert!(
                !own.contains("zygote-"),
                "a fork is moved into its sandbox's cgroup: {own}"
            );
            assert_ne!(own, zygote_cg, "{b}");
        }
        pids.push(b["pid"].clone());
        streams.push(b["stream"].clone());
        rands.push(b["rand"].as_f64().expect("rand").to_bits());
    }
    for list in [&pids, &streams] {
        let mut unique = list.clone();
        unique.sort_by_key(ToString::to_string);
        unique.dedup();
        assert_eq!(unique.len(), list.len(), "each sandbox its own: {list:?}");
    }
    rands.sort_unstable();
    rands.dedup();
    assert_eq!(
        rands.len(),
        pids.len(),
        "random is seeded anew in each fork"
    );
}

#[test]
fn the_daemon_default_and_the_functions_choice() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = Daemon::start_with(tmp.path(), "serve", &["--zygote", "on"]);
    deploy(&d, "by-default", &[], &[]);
    deploy(&d, "opted-out", &["LAMBDALET_ZYGOTE=off"], &[]);
    let (on, _, _) = invoke_tail(&d, "by-default", "{}");
    assert_ne!(on["imported_in"], on["pid"], "--zygote on: {on}");
    assert_eq!(d.lifecycle("by-default")["zygote"]["state"], "READY");
    let (off, _, _) = invoke_tail(&d, "opted-out", "{}");
    assert_eq!(
        off["imported_in"], off["pid"],
        "LAMBDALET_ZYGOTE=off: {off}"
    );
    assert_eq!(
        d.lifecycle("opted-out")["zygote"],
        Value::Null,
        "no zygote, nothing said"
    );
    let plain = Daemon::start();
    deploy(&plain, "plain", &[], &[]);
    let (p, _, _) = invoke_tail(&plain, "plain", "{}");
    assert_eq!(
        p["imported_in"], p["pid"],
        "zygotes are off by default: {p}"
    );
}

#[test]
fn threads_started_at_import_make_the_version_start_plainly() {
    let d = Daemon::start();
    deploy(
        &d,
        "threaded",
        &["LAMBDALET_ZYGOTE=on", "START_THREAD=1"],
        &[],
    );
    let answers = concurrently(&d, "threaded", 2, 0.5);
    for (b, log) in &answers {
        assert_eq!(
            b["imported_in"], b["pid"],
            "Init ran in the sandbox itself: {b}"
        );
        assert_eq!(b["threads"], 2, "the import's thread runs: {b}");
        assert!(log.contains("init printed in") || b["count"] != 1, "{log}");
    }
    assert!(d.log().contains("zygote.refused"), "{}", d.log());
    assert!(
        d.log().contains("1 threads"),
        "the daemon says why: {}",
        d.log()
    );
    // And so does the version's configuration.
    let zygote = &d.lifecycle("threaded")["zygote"];
    assert_eq!(zygote["state"], "REFUSED", "{zygote}");
    assert!(
        zygote["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("threads"),
        "{zygote}"
    );
}

#[test]
fn an_import_error_is_the_first_sandboxes_init_error_as_without_a_zygote() {
    let d = Daemon::start();
    deploy(
        &d,
        "broken-z",
        &["LAMBDALET_ZYGOTE=on", "FAIL_IMPORT=1"],
        &[],
    );
    deploy(
        &d,
        "broken-p",
        &["LAMBDALET_ZYGOTE=off", "FAIL_IMPORT=1"],
        &[],
    );
    let (z, zerr, zlog) = invoke_tail(&d, "broken-z", "{}");
    let (p, perr, _) = invoke_tail(&d, "broken-p", "{}");
    assert_eq!(zerr, perr, "{z} vs {p}");
    assert_eq!(z["errorType"], p["errorType"], "{z} vs {p}");
    assert_eq!(z["errorMessage"], p["errorMessage"], "{z} vs {p}");
    assert!(
        zlog.contains("broken at import"),
        "the error is in the log: {zlog}"
    );
    // Init is tried again at the next cold start, as Lambda does.
    let (again, err, _) = invoke_tail(&d, "broken-z", "{}");
    assert!(err.is_some(), "{again}");
    assert_eq!(again["errorType"], z["errorType"], "{again}");
}

#[test]
fn a_fork_has_the_functions_memory_limit() {
    let d = Daemon::start();
    if d.log().contains("no cgroups for sandboxes") {
        eprintln!("skipped: this host gives sandboxes no cgroups");
        return;
    }
    deploy(&d, "hungry", &["LAMBDALET_ZYGOTE=on"], &["--memory", "128"]);
    let (small, err, _) = invoke_tail(&d, "hungry", r#"{"mb": 10}"#);
    assert!(err.is_none(), "{small}");
    let (body, err, log) = invoke_tail(&d, "hungry", r#"{"mb": 400}"#);
    assert_eq!(err.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "Runtime.OutOfMemory", "{body}\n{log}");
    // The zygote was not the one killed: the next sandbox is forked from it again.
    let (after, err, _) = invoke_tail(&d, "hungry", r#"{"mb": 10}"#);
    assert!(err.is_none(), "{after}");
    assert_ne!(after["pid"], small["pid"], "a new sandbox: {after}");
    assert_eq!(
        after["imported_in"], small["imported_in"],
        "the same zygote: {after}"
    );
}

#[test]
fn zygotes_go_with_their_version_and_with_the_daemon() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let marker = format!("ZYGOTE_MARK={}-{nanos}", std::process::id());
    let mut d = Daemon::start();
    deploy(&d, "versioned", &["LAMBDALET_ZYGOTE=on", &marker], &[]);
    let (v1, _, _) = invoke_tail(&d, "versioned", "{}");
    let zygote1 = v1["imported_in"].clone();
    assert!(alive(&zygote1), "{v1}");
    // New configuration: a new zygote; the old one exits once its sandbox has.
    let r = d.http(
        "PUT",
        "/2015-03-31/functions/versioned/configuration",
        Some(
            json!({"Environment": {"Variables": {"LAMBDALET_ZYGOTE": "on", "ZYGOTE_MARK": marker.split('=').nth(1), "NEW": "1"}}})
                .to_string()
                .as_bytes(),
        ),
        &[("content-type", "application/json")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Retired at once: its idle sandbox goes with the old configuration, and so does it,
    // before any invocation of the new one.
    eventually(Duration::from_secs(10), "the old zygote to exit", || {
        !alive(&zygote1)
    });
    let (v2, _, _) = invoke_tail(&d, "versioned", "{}");
    let zygote2 = v2["imported_in"].clone();
    assert_ne!(zygote2, zygote1, "{v2}");
    // Deleted: its zygote goes too.
    let r = d.http("DELETE", "/2015-03-31/functions/versioned", None, &[]);
    assert!(r.status < 300, "{}", r.text());
    eventually(
        Duration::from_secs(10),
        "the zygote of a deleted function to exit",
        || !alive(&zygote2),
    );
    // And a kill -9 of the daemon takes zygotes and their forks along.
    deploy(&d, "killed", &["LAMBDALET_ZYGOTE=on", &marker], &[]);
    concurrently(&d, "killed", 2, 0.2);
    let before = processes_with_env(&marker);
    assert!(before.len() >= 3, "a zygote and two forks: {before:?}");
    d.kill9();
    eventually(
        Duration::from_secs(10),
        "the zygote and its forks to die",
        || processes_with_env(&marker).is_empty(),
    );
}

#[test]
fn a_zygote_that_dies_takes_its_forks_and_the_next_cold_start_makes_another() {
    let d = Daemon::start();
    deploy(&d, "orphaned", &["LAMBDALET_ZYGOTE=on"], &[]);
    let (before, err, _) = invoke_tail(&d, "orphaned", "{}");
    assert!(err.is_none(), "{before}");
    let zygote = before["imported_in"].as_u64().expect("zygote pid");
    crate::harness::signal(zygote as u32, "KILL");
    eventually(
        Duration::from_secs(10),
        "the fork to die with its zygote",
        || !alive(&before["pid"]),
    );
    let (after, err, log) = invoke_tail(&d, "orphaned", "{}");
    assert!(err.is_none(), "{after}\n{log}");
    assert_ne!(
        after["imported_in"], before["imported_in"],
        "a new zygote: {after}"
    );
    assert_ne!(after["imported_in"], after["pid"], "still forked: {after}");
    assert_eq!(after["count"], 1, "{after}");
}

#[test]
fn an_update_during_a_cold_start_lets_it_finish_on_the_old_zygote() {
    let d = Daemon::start();
    deploy(
        &d,
        "updated",
        &["LAMBDALET_ZYGOTE=on", "IMPORT_SECONDS=1.5"],
        &[],
    );
    std::thread::scope(|s| {
        let cold = s.spawn(|| invoke_tail(&d, "updated", "{}"));
        // While the zygote runs Init, the configuration changes (its zygote is retired).
        std::thread::sleep(Duration::from_millis(500));
        let r = d.http(
            "PUT",
            "/2015-03-31/functions/updated/configuration",
            Some(
                json!({"Environment": {"Variables": {"LAMBDALET_ZYGOTE": "on", "IMPORT_SECONDS": "0"}}})
                    .to_string()
                    .as_bytes(),
            ),
            &[("content-type", "application/json")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let (body, err, log) = cold.join().expect("cold start");
        assert!(err.is_none(), "the cold start finishes: {body}\n{log}");
        assert_ne!(
            body["imported_in"], body["pid"],
            "forked from the old zygote: {body}"
        );
        eventually(Duration::from_secs(10), "the old zygote to exit", || {
            !alive(&body["imported_in"])
        });
    });
    let (after, err, _) = invoke_tail(&d, "updated", "{}");
    assert!(err.is_none(), "{after}");
}
