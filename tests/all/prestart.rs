//! Pre-started sandboxes (`--prestart on`, `LAMBDALET_PRESTART=on`): a version in use (invoked
//! within its idle timeout) keeps one initialized sandbox ready beyond the busy ones, in either
//! backend, for any runtime; the next invocation that needs a new sandbox takes it without a
//! cold start. A version no longer in use keeps none.

use std::time::Duration;

use serde_json::Value;

use crate::extensions::sandboxes;
use crate::harness::{Daemon, eventually, fixture};
use crate::limits::invoke_tail;

/// (runtime, fixture, handler) of the functions tried.
const FUNCTIONS: [(&str, &str, &str); 2] = [
    ("python3.11", "zygote", "app.handler"),
    ("nodejs20.x", "node-basic", "index.handler"),
];

fn idle(d: &Daemon, name: &str) -> u64 {
    d.lifecycle(name)["instances"]["idle"].as_u64().unwrap_or(0)
}

#[test]
fn a_prestarted_sandbox_takes_the_next_cold_start_in_either_backend() {
    let d = Daemon::start();
    for sandbox in sandboxes(&d) {
        for (runtime, dir, handler) in FUNCTIONS {
            let name = format!("spare-{}-{sandbox}", &runtime[..4]);
            let args = [
                "--sandbox",
                sandbox,
                "--env",
                "LAMBDALET_PRESTART=on",
                "--idle-timeout",
                "3",
            ];
            d.deploy_runtime(&fixture(dir), &name, runtime, handler, &args);
            let (first, err, log) = invoke_tail(&d, &name, "{}");
            assert!(err.is_none(), "{name}: {first}\n{log}");
            assert!(log.contains("Init Duration"), "{name}: a cold start: {log}");
            eventually(Duration::from_secs(20), "a pre-started sandbox", || {
                idle(&d, &name) == 2
            });
            let (second, err, log) = invoke_tail(&d, &name, "{}");
            assert!(err.is_none(), "{name}: {second}\n{log}");
            // Each sandbox has a log stream of its own (pids repeat across containers).
            let stream = |v: &Value| {
                let s = &v["stream"];
                if s.is_null() {
                    v["context"]["logStreamName"].clone()
                } else {
                    s.clone()
                }
            };
            assert_ne!(
                stream(&second),
                stream(&first),
                "{name}: the pre-started sandbox: {second}"
            );
            assert_ne!(stream(&second), Value::Null, "{second}");
            assert_eq!(second["count"], 1, "{name}: its first invocation: {second}");
            assert!(
                !log.contains("Init Duration"),
                "{name}: its Init happened before the invocation, which does not wait for it: {log}"
            );
            if runtime.starts_with("nodejs") {
                assert_eq!(
                    second["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand",
                    "{name}: {second}"
                );
            }
            // Not invoked for its idle timeout: no longer in use, it keeps no sandbox.
            eventually(Duration::from_secs(20), "every idle sandbox reaped", || {
                idle(&d, &name) == 0
            });
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(
                idle(&d, &name),
                0,
                "{name}: none started again: {}",
                d.lifecycle(&name)
            );
            let (third, err, log) = invoke_tail(&d, &name, "{}");
            assert!(err.is_none(), "{name}: {third}\n{log}");
            assert!(log.contains("Init Duration"), "{name}: cold again: {log}");
        }
    }
}

#[test]
fn a_sandbox_that_ends_while_idle_is_reaped_wherever_it_is_in_the_pool() {
    let d = Daemon::start();
    let name = "spare-ends";
    let args = [
        "--sandbox",
        "process",
        "--env",
        "LAMBDALET_PRESTART=on",
        "--idle-timeout",
        "300",
    ];
    d.deploy_runtime(&fixture("zygote"), name, "python3.11", "app.handler", &args);
    let (_, err, log) = invoke_tail(&d, name, "{}");
    assert!(err.is_none(), "{log}");
    eventually(Duration::from_secs(20), "a pre-started sandbox", || {
        idle(&d, name) == 2
    });
    // The sandbox that takes this one (the last used) ends itself after answering, and goes
    // back to the pool behind the pre-started one, which was used longer ago.
    let (_, err, log) = invoke_tail(&d, name, r#"{"exit_after": 0.05}"#);
    assert!(err.is_none(), "{log}");
    eventually(Duration::from_secs(10), "the ended sandbox reaped", || {
        idle(&d, name) == 1
    });
    let (after, err, log) = invoke_tail(&d, name, "{}");
    assert!(err.is_none(), "{after}\n{log}");
    assert!(
        !log.contains("Init Duration"),
        "the pre-started sandbox took it: {log}"
    );
}

#[test]
fn versions_keep_no_sandbox_beyond_demand_unless_asked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = Daemon::start_with(tmp.path(), "serve", &["--prestart", "on"]);
    let (runtime, dir, handler) = FUNCTIONS[0];
    d.deploy_runtime(
        &fixture(dir),
        "by-default",
        runtime,
        handler,
        &["--sandbox", "process"],
    );
    d.deploy_runtime(
        &fixture(dir),
        "opted-out",
        runtime,
        handler,
        &["--sandbox", "process", "--env", "LAMBDALET_PRESTART=off"],
    );
    for name in ["by-default", "opted-out"] {
        let (v, err, _) = invoke_tail(&d, name, "{}");
        assert!(err.is_none(), "{v}");
    }
    eventually(
        Duration::from_secs(20),
        "the daemon default's spare",
        || idle(&d, "by-default") == 2,
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(idle(&d, "opted-out"), 1, "{}", d.lifecycle("opted-out"));
    let plain = Daemon::start();
    plain.deploy_runtime(
        &fixture(dir),
        "plain",
        runtime,
        handler,
        &["--sandbox", "process"],
    );
    let (v, _, _) = invoke_tail(&plain, "plain", "{}");
    assert_ne!(v, Value::Null);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        idle(&plain, "plain"),
        1,
        "off by default: {}",
        plain.lifecycle("plain")
    );
}
