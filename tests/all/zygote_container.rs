//! Zygotes in container sandboxes: every sandbox of the version is a fork of the zygote (the
//! first one too), in namespaces of its own. Escape tests first: a fork sees and can signal
//! only its own processes, has its own `/tmp` (a copy of what Init left) and `/dev/shm`, a
//! `/proc` masked as the container's, no capabilities, and may make no namespace or mount;
//! Init itself may make only the namespaces its forks make.

use std::time::Duration;

use serde_json::{Value, json};

use crate::containment::container_daemon;
use crate::harness::{Daemon, eventually, fixture};
use crate::limits::invoke_tail;
use crate::zygote::{concurrently, init_ms};

fn deploy(d: &Daemon, name: &str, fixture_name: &str, env: &[&str], extra: &[&str]) {
    let mut args = vec!["--timeout", "30"];
    for e in env {
        args.extend_from_slice(&["--env", e]);
    }
    args.extend_from_slice(extra);
    d.deploy_python(&fixture(fixture_name), name, "app.handler", &args);
}

#[test]
fn container_forks_are_sandboxes_of_their_own() {
    let Some(d) = container_daemon(&[]) else {
        return;
    };
    // A process zygote first: the two backends' zygotes live side by side.
    deploy(
        &d,
        "pforked",
        "zygote",
        &["LAMBDALET_ZYGOTE=on"],
        &["--sandbox", "process"],
    );
    let (p, err, log) = invoke_tail(&d, "pforked", "{}");
    assert!(err.is_none(), "{p}\n{log}");
    deploy(
        &d,
        "cforked",
        "zygote_container",
        &["LAMBDALET_ZYGOTE=on", "IMPORT_SECONDS=0.4"],
        &[],
    );
    let (first, err, log) = invoke_tail(&d, "cforked", "{}");
    assert!(err.is_none(), "{first}\n{log}");
    if d.log().contains("zygote.refused") {
        // A kernel without unprivileged user namespaces: the version starts the plain way.
        assert!(
            d.log().contains("a fork cannot make its own sandbox"),
            "{}",
            d.log()
        );
        eprintln!("skipped: this kernel lets no fork make its own namespaces");
        return;
    }
    assert!(
        init_ms(&log).expect("Init Duration") >= 400.0,
        "the first cold start includes Init: {log}"
    );
    assert_eq!(d.lifecycle("cforked")["zygote"]["state"], "READY");
    let mut answers = vec![(first.clone(), log)];
    answers.extend(concurrently(&d, "cforked", 3, 1.0));
    let mut streams: Vec<String> = answers
        .iter()
        .map(|(b, _)| b["stream"].as_str().unwrap_or_default().to_owned())
        .collect();
    streams.sort();
    streams.dedup();
    assert!(streams.len() >= 3, "new sandboxes served: {answers:?}");
    let forks: Vec<&(Value, String)> = answers
        .iter()
        .filter(|(b, _)| b["stream"] != first["stream"])
        .collect();
    let eperm = first["eperm"].clone();
    let mut rands = Vec::new();
    for (b, log) in answers.iter() {
        // Init ran once, in the zygote, and wrote to its /tmp: each fork has a copy.
        assert_eq!(b["made_at_import"], first["made_at_import"], "{b}");
        // ... and changes it on its own: what it appended, no other fork sees.
        let from_init = b["from_init"].as_str().unwrap_or_default();
        let mut parts = from_init.split('+');
        assert_eq!(
            Some(first["made_at_import"].as_str().unwrap_or("?")),
            parts.next(),
            "{b}"
        );
        let own = b["tmp"].as_array().expect("tmp").clone();
        for id in parts {
            assert!(own.contains(&json!(id)), "only its own changes: {b}");
        }
        assert_eq!(b["pid"], 2, "the runtime under its own init: {b}");
        assert_eq!(b["ppid"], 1, "{b}");
        let pids: Vec<u64> = b["proc_pids"]
            .as_array()
            .expect("pids")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert!(
            pids.contains(&1) && pids.contains(&2) && pids.iter().all(|p| *p < 8),
            "/proc shows this sandbox's processes only: {b}"
        );
        assert_eq!(
            b["signalable"],
            json!([]),
            "no other process to signal: {b}"
        );
        assert_eq!(b["timer_list"], "", "/proc is masked as a container's: {b}");
        let caps = &b["caps"];
        for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
            assert_eq!(caps[set], "0000000000000000", "{set}: {b}");
        }
        assert_eq!(caps["NoNewPrivs"], "1", "{b}");
        assert_eq!(caps["Seccomp"], "2", "{b}");
        assert_eq!(
            b["unshare"], eperm,
            "no namespace of its own after set-up: {b}"
        );
        assert_eq!(b["mount"], eperm, "no mount after set-up: {b}");
        assert_eq!(
            b["init_unshare_net"], eperm,
            "Init makes no network namespace: {b}"
        );
        assert_eq!(
            b["init_unshare_user"], eperm,
            "only the forks' exact set: {b}"
        );
        assert_ne!(b["uid"], 0, "{b}");
        // Over the zygote's /tmp (a copy where the kernel has no overlayfs in user namespaces).
        assert!(b["tmp_fs"] == "overlay" || b["tmp_fs"] == "tmpfs", "{b}");
        assert_eq!(
            b["hidden_proc"], 13,
            "the zygote's procfs is out of reach (EACCES): {b}"
        );
        rands.push(b["rand"].as_f64().expect("rand").to_bits());
        // Only its own requests' files, in /tmp and /dev/shm.
        let count = b["count"].as_u64().unwrap_or(0) as usize;
        assert_eq!(
            b["tmp"].as_array().map_or(0, Vec::len),
            count + 1,
            "its own requests' files and Init's: {b}"
        );
        assert_eq!(b["shm"].as_array().map_or(0, Vec::len), count, "{b}");
        if b["stream"] != first["stream"] {
            let init = init_ms(log).expect("a new sandbox reports its Init Duration");
            assert!(
                init < 300.0,
                "a fork does not import again ({init} ms): {log}"
            );
        }
    }
    assert!(forks.len() >= 2, "{answers:?}");
    let mut names: Vec<&str> = answers
        .iter()
        .map(|(b, _)| b["hostname"].as_str().unwrap_or_default())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        streams.len(),
        "each sandbox its own host name: {names:?}"
    );
    // Each fork has the function's memory limit; the zygote outlives the one that hits it.
    let d2 = &d;
    let (body, err, _) = invoke_tail(d2, "cforked", &json!({ "mb": 300, "sleep": 0 }).to_string());
    assert!(err.is_some(), "{body}");
    assert_eq!(body["errorType"], "Runtime.OutOfMemory", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("signal: killed"),
        "the runtime was killed, as in any sandbox: {body}"
    );
    let (after, err, log) = invoke_tail(&d, "cforked", "{}");
    assert!(err.is_none(), "{after}\n{log}");
    assert_eq!(
        after["made_at_import"], first["made_at_import"],
        "the same zygote: {after}"
    );
    let mut unique = rands.clone();
    unique.sort_unstable();
    unique.dedup();
    assert!(
        unique.len() >= streams.len(),
        "random is seeded anew in each fork"
    );
    // The cgroups made ahead (the next fork's, and those of sandboxes forked into one) go
    // with the function.
    let Some(dir) = d
        .log()
        .lines()
        .find_map(|l| l.split(" under ").nth(1).map(|p| p.trim().to_owned()))
    else {
        return;
    };
    let made_ahead = || {
        std::fs::read_dir(&dir)
            .map(|e| {
                e.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("fork-"))
                    .count()
            })
            .unwrap_or(0)
    };
    eventually(Duration::from_secs(10), "a cgroup made ahead", || {
        made_ahead() >= 1
    });
    let r = d.http("DELETE", "/2015-03-31/functions/cforked", None, &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    eventually(Duration::from_secs(10), "no cgroup made ahead left", || {
        made_ahead() == 0
    });
}

#[test]
fn a_refused_container_zygote_starts_its_sandboxes_plainly() {
    let Some(d) = container_daemon(&["--zygote", "on"]) else {
        return;
    };
    // Threads at import: the zygote refuses; each sandbox is a container of its own.
    deploy(&d, "cthreads", "zygote", &["START_THREAD=1"], &[]);
    let (body, err, log) = invoke_tail(&d, "cthreads", "{}");
    assert!(err.is_none(), "{body}\n{log}\n{}", d.log());
    assert_eq!(
        body["imported_in"], body["pid"],
        "Init ran in the sandbox: {body}"
    );
    assert!(log.contains("init printed in"), "{log}");
    assert!(d.log().contains("zygote.refused"), "{}", d.log());
    let answers = concurrently(&d, "cthreads", 2, 0.5);
    for (b, _) in &answers {
        assert_eq!(b["imported_in"], b["pid"], "{b}");
    }
    // A sandbox with a network of its own is never forked.
    deploy(&d, "coffline", "zygote", &[], &["--network", "none"]);
    let (body, err, log) = invoke_tail(&d, "coffline", "{}");
    assert!(err.is_none(), "{body}\n{log}");
    assert_eq!(body["imported_in"], body["pid"], "{body}");
}
