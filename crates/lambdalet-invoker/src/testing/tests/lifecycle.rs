//! A sandbox's life: warm reuse, function errors, crashes, failed inits, timeouts, pinned
//! functions and shutdown.

use std::time::Duration;

use lambdalet_core::LifecyclePatch;

use super::{function_error, report};
use crate::InvokeError;
use crate::testing::harness::{Harness, limits, pinned};
use crate::testing::{SIGKILL, SIGTERM, code, signal};

#[tokio::test]
async fn a_warm_sandbox_is_reused_and_reports_no_init() {
    let h = Harness::new(1000);
    let f = h.deploy("warm", "echo", 3, LifecyclePatch::default());
    let cold = h.invoke(&f, "{\"n\":1}").await.expect("invoked");
    let warm = h.invoke(&f, "{\"n\":2}").await.expect("invoked");
    assert_eq!(h.backend.launches(), 1);
    assert_eq!(warm.payload, "{\"n\":2}");
    assert!(report(&cold).contains("\tInit Duration: "), "{cold:?}");
    assert!(!report(&warm).contains("Init Duration"), "{warm:?}");
    let log = warm.log_tail.as_deref().expect("log tail");
    assert!(
        log.contains("fake runtime: Echo handles {\"n\":2}\n"),
        "the runtime's output is in its invocation's log: {log}"
    );
    assert!(!log.contains("{\"n\":1}"), "and only there: {log}");
}

#[tokio::test]
async fn a_function_error_keeps_the_sandbox() {
    let h = Harness::new(1000);
    let f = h.deploy("fails", "fail", 3, LifecyclePatch::default());
    for _ in 0..2 {
        let r = h.invoke(&f, "{}").await.expect("invoked");
        assert_eq!(function_error(&r).0, "Fake.Failure");
    }
    assert_eq!(h.backend.launches(), 1);
    assert_eq!(h.stats(&f).idle, 1);
}

#[tokio::test]
async fn a_crash_is_an_exit_error_and_the_next_invocation_starts_afresh() {
    let h = Harness::new(1000);
    let f = h.deploy("crashes", "crash", 3, LifecyclePatch::default());
    let r = h.invoke(&f, "{}").await.expect("invoked");
    let (error_type, message) = function_error(&r);
    assert_eq!(error_type, "Runtime.ExitError");
    assert_eq!(
        message,
        format!(
            "RequestId: {} Error: Runtime exited with error: exit status 1",
            r.request_id
        )
    );
    assert!(report(&r).contains("Status: error\tError Type: Runtime.ExitError"));
    let log = r.log_tail.as_deref().expect("log tail");
    assert!(log.contains("fake runtime: Crash handles {}\n"), "{log}");
    assert_eq!(h.stats(&f).idle, 0, "a crashed sandbox is not reused");
    let again = h.invoke(&f, "{}").await.expect("invoked");
    assert_eq!(function_error(&again).0, "Runtime.ExitError");
    assert_eq!(h.backend.launches(), 2);
    assert_eq!(h.backend.exits(), [code(1), code(1)]);
}

#[tokio::test]
async fn an_init_error_is_the_invocations_error_and_the_next_waiter_starts_afresh() {
    let h = Harness::new(1000);
    let f = h.deploy("badinit", "init-error", 3, limits(1, 10));
    // The second waits behind the first's start; its failure must hand the slot on.
    let calls = [h.spawn_invoke(&f, "1"), h.spawn_invoke(&f, "2")];
    for call in calls {
        let r = call.await.expect("joined").expect("invoked");
        assert_eq!(function_error(&r).0, "Fake.InitError");
        let log = r.log_tail.as_deref().expect("log tail");
        assert!(log.starts_with("fake runtime: init failed\n"), "{log}");
        assert!(log.contains("INIT_REPORT Init Duration: "), "{log}");
        assert!(report(&r).contains("Error Type: Fake.InitError"), "{log}");
    }
    assert_eq!(h.backend.launches(), 2);
    assert!(h.backend.seen().is_empty(), "no event reached a runtime");
    assert_eq!(h.backend.exits(), [code(1), code(1)]);
    assert_eq!(
        h.stats(&f),
        crate::PoolStats::default(),
        "no slot is leaked"
    );
}

#[tokio::test]
async fn a_timeout_kills_the_sandbox() {
    let h = Harness::new(1000);
    let f = h.deploy("hangs", "hang", 1, LifecyclePatch::default());
    let call = h.spawn_invoke(&f, "{}");
    h.until("the runtime holds the event", |h| {
        h.backend.seen().len() == 1
    })
    .await;
    // No byte is in flight any more (the runtime hangs holding its event), so the clock can
    // stop here and jump to the timeout instead of waiting out the second. (Frozen from the
    // start, it could also jump whenever a poll finds the sandbox's connection not yet ready,
    // and fire the 10 s init timeout.)
    tokio::time::pause();
    let r = call.await.expect("joined").expect("invoked");
    let (error_type, message) = function_error(&r);
    assert_eq!(error_type, "Sandbox.Timedout");
    assert_eq!(
        message,
        format!(
            "RequestId: {} Error: Task timed out after 1.00 seconds",
            r.request_id
        )
    );
    assert!(report(&r).contains("Status: timeout"), "{r:?}");
    assert_eq!(h.backend.exits(), [signal(SIGKILL)], "killed, not asked");
    assert_eq!(h.backend.live(), 0);
    assert_eq!(h.stats(&f), crate::PoolStats::default());
}

#[tokio::test]
async fn a_pinned_function_starts_at_deploy_and_runs_one_event_at_a_time() {
    let h = Harness::new(1000);
    let f = h.deploy("pinned", "sleep:10", 3, pinned());
    h.until("the pinned sandbox is ready", |h| h.stats(&f).idle == 1)
        .await;
    assert_eq!(
        h.backend.launches(),
        1,
        "started at deploy, before any event"
    );
    let calls: Vec<_> = (0..4).map(|i| h.spawn_invoke(&f, &i.to_string())).collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("joined").expect("invoked"));
    }
    assert!(results.iter().all(|r| !r.function_error), "{results:?}");
    assert!(
        !report(&results[0]).contains("Init Duration"),
        "its init happened at deploy, outside any invocation"
    );
    assert_eq!(h.backend.launches(), 1);
    assert_eq!(h.backend.peak_running(), 1);
    assert_eq!(h.backend.peak_live(), 1);
}

#[tokio::test]
async fn shutdown_stops_every_sandbox() {
    let h = Harness::new(1000);
    let idle = h.deploy("idle", "echo", 3, LifecyclePatch::default());
    let busy = h.deploy("busy", "hang", 30, LifecyclePatch::default());
    let kept = h.deploy("kept", "echo", 3, pinned());
    assert!(!h.invoke(&idle, "{}").await.expect("invoked").function_error);
    let stuck = h.spawn_invoke(&busy, "{}");
    h.until("three sandboxes", |h| {
        h.stats(&busy).busy == 1 && h.stats(&kept).idle == 1
    })
    .await;
    assert_eq!(h.backend.live(), 3);
    h.invoker.shutdown(Duration::from_millis(50)).await;
    assert_eq!(h.backend.live(), 0);
    assert_eq!(h.backend.exits(), [signal(SIGTERM); 3]);
    let r = stuck.await.expect("joined").expect("invoked");
    assert_eq!(
        function_error(&r).1,
        format!(
            "RequestId: {} Error: Runtime exited with error: signal: terminated",
            r.request_id
        ),
        "the invocation still running after the grace period ends with its sandbox"
    );
    let err = h.invoke(&idle, "{}").await.expect_err("shut down");
    assert!(matches!(err, InvokeError::ShuttingDown), "{err:?}");
    assert_eq!(h.invoker.in_flight(), 0);
}
