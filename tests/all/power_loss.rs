//! Power loss (issue 15): the whole daemon killed with SIGKILL in the middle of a deploy or of
//! a flood of events, and fsync failing under it, leave a store that opens, passes SQLite's
//! integrity check and has lost nothing it acknowledged.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::async_invoke::{deploy_recorder, handled_ids, out_file};
use crate::harness::{Daemon, eventually};

/// SQLite's own check of the daemon's database (while the daemon runs: WAL lets a reader in).
fn integrity(data: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('PRAGMA integrity_check').fetchone()[0])",
        ])
        .arg(data.join("state.db"))
        .output()
        .expect("run python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A function that answers which of its versions runs, with `filler` bytes that do not
/// compress beside it (so its deploy takes a while).
fn code(dir: &Path, version: &str, filler: usize) {
    std::fs::create_dir_all(dir).expect("write the function");
    std::fs::write(
        dir.join("app.py"),
        format!("def handler(e, c):\n    return {version:?}\n"),
    )
    .expect("write the function");
    let mut bytes = vec![0u8; filler];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(dir.join("filler.bin"), bytes).expect("write the function");
}

/// Each round kills the daemon at another moment of an update's upload, hashing, unpacking
/// and commit; after the restart the function runs whole, as the old or the new version.
#[test]
fn a_kill_mid_deploy_leaves_the_old_or_the_new_function_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (v1, v2) = (tmp.path().join("v1"), tmp.path().join("v2"));
    code(&v1, "v1", 0);
    code(&v2, "v2", 12 << 20);
    let mut d = Daemon::start_in(&data);
    // How long an update takes here: the kills are spread over it, and a little beyond.
    let start = std::time::Instant::now();
    d.deploy_python(&v2, "big", "app.handler", &[]);
    let took = start.elapsed().as_millis() as u64;
    d.deploy_python(&v1, "big", "app.handler", &[]);
    let mut seen = BTreeSet::new();
    for tenth in [0u64, 1, 2, 4, 6, 8, 9, 10, 12] {
        let delay_ms = took * tenth / 10;
        let cli = {
            let url = d.url.clone();
            let v2 = v2.clone();
            std::thread::spawn(move || {
                Command::new(crate::harness::LAMBDALET)
                    .args(["deploy"])
                    .arg(&v2)
                    .args(["--name", "big", "--handler", "app.handler"])
                    .env("LAMBDALET_ENDPOINT", url)
                    .env("XDG_CONFIG_HOME", "/nonexistent/lambdalet-test-config")
                    .output()
            })
        };
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.kill9();
        let _ = cli.join();
        d = Daemon::start_in(&data);
        assert_eq!(integrity(&data), "ok", "after a kill at {delay_ms} ms");
        let leftovers = std::fs::read_dir(data.join("packages/tmp"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0, "half-written code is cleared at start");
        let r = d.invoke("big", "{}");
        assert_eq!(
            r.status,
            200,
            "after a kill at {delay_ms} ms: {}\n{}",
            r.text(),
            d.log()
        );
        let answer = r.text();
        assert!(answer == "\"v1\"" || answer == "\"v2\"", "{answer}");
        seen.insert(answer);
        if seen.contains("\"v2\"") {
            // Back to v1 for the next round, so each round has an update to interrupt.
            d.deploy_python(&v1, "big", "app.handler", &[]);
        }
    }
    println!("an update takes {took} ms; versions seen after the kills: {seen:?}");
    d.deploy_python(&v2, "big", "app.handler", &[]);
    assert_eq!(
        d.invoke("big", "{}").text(),
        "\"v2\"",
        "a deploy after the kills works"
    );
}

/// Clients post events as fast as they can while the daemon is killed: every event answered
/// 202 runs after the restart.
#[test]
fn a_kill_while_events_pour_in_loses_none_that_were_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = out_file(tmp.path(), "handled.txt");
    let mut d = Daemon::start_in(&data);
    deploy_recorder(&d, "durable", &out, &[]);
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{}/2015-03-31/functions/durable/invocations", d.url);
    let clients: Vec<_> = (0..4u64)
        .map(|c| {
            let (url, acked, stop) = (url.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = c * 100_000 + n;
                    let body = format!("{{\"id\": {id}}}");
                    let status = post_status(&url, &body);
                    if status == 202 {
                        acked.lock().unwrap().insert(id);
                    } else if status == 0 || status >= 500 {
                        break;
                    }
                }
            })
        })
        .collect();
    eventually(Duration::from_secs(30), "events to flow", || {
        acked.lock().unwrap().len() >= 50
    });
    d.kill9();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let d = Daemon::start_in(&data);
    assert_eq!(integrity(&data), "ok");
    eventually(
        Duration::from_secs(120),
        "every acknowledged event to run",
        || acked.is_subset(&handled_ids(&out)),
    );
    println!(
        "{} events acknowledged before the kill all ran",
        acked.len()
    );
    drop(d);
}

/// The status of an event's POST; 0 when no answer came (the daemon was killed).
fn post_status(url: &str, body: &str) -> u16 {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args([
            "-H",
            "X-Amz-Invocation-Type: Event",
            "--data-binary",
            body,
            url,
        ])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The C shim below, built for this run: while `FAIL_FSYNC_FLAG` names a file that exists,
/// every fsync and fdatasync of the process fails with EIO, as on a dying SD card.
const FAIL_FSYNC: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
static int failing(void) {
    const char *flag = getenv("FAIL_FSYNC_FLAG");
    return flag && access(flag, F_OK) == 0;
}
int fsync(int fd) {
    if (failing()) { errno = EIO; return -1; }
    return syscall(SYS_fsync, fd);
}
int fdatasync(int fd) {
    if (failing()) { errno = EIO; return -1; }
    return syscall(SYS_fdatasync, fd);
}
"#;

/// While the disk cannot sync, events are refused with an error (never a 202 for an event
/// that is not on disk); when it can again, the daemon takes events again, and after a
/// restart every acknowledged event runs.
#[test]
fn failing_fsync_refuses_events_instead_of_losing_them() {
    let tmp = tempfile::tempdir().unwrap();
    let shim = tmp.path().join("fail_fsync.so");
    let src = tmp.path().join("fail_fsync.c");
    std::fs::write(&src, FAIL_FSYNC).unwrap();
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&shim)
        .arg(&src)
        .output();
    match cc {
        Ok(o) if o.status.success() => {}
        _ => {
            println!("skipped: no C compiler to build the fsync shim");
            return;
        }
    }
    let flag = tmp.path().join("fail-now");
    let data = tmp.path().join("data");
    let out = out_file(tmp.path(), "handled.txt");
    let mut d = Daemon::start_env(
        &data,
        "serve",
        &[],
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("FAIL_FSYNC_FLAG", flag.to_str().unwrap()),
        ],
    );
    deploy_recorder(&d, "durable", &out, &[]);
    let post = |id: u64| {
        d.http(
            "POST",
            "/2015-03-31/functions/durable/invocations",
            Some(format!("{{\"id\": {id}}}").as_bytes()),
            &[("X-Amz-Invocation-Type", "Event")],
        )
    };
    let mut acked = BTreeSet::new();
    for id in 0..5 {
        assert_eq!(post(id).status, 202);
        acked.insert(id);
    }
    std::fs::write(&flag, "").unwrap();
    for id in 100..105 {
        let r = post(id);
        assert!(
            r.status >= 500,
            "event {id} while fsync fails: {} {}",
            r.status,
            r.text()
        );
        assert!(r.text().contains("cannot store the event"), "{}", r.text());
        assert!(
            r.header("x-amzn-errortype").is_some(),
            "an AWS-shaped error"
        );
    }
    std::fs::remove_file(&flag).unwrap();
    for id in 200..205 {
        let r = post(id);
        assert_eq!(r.status, 202, "the disk syncs again: {}", r.text());
        acked.insert(id);
    }
    d.kill9();
    let d = Daemon::start_in(&data);
    assert_eq!(integrity(&data), "ok");
    eventually(
        Duration::from_secs(60),
        "every acknowledged event to run",
        || acked.is_subset(&handled_ids(&out)),
    );
    drop(d);
}
