//! `maxInstancesCount`, the FIFO queue and `maxQueueSize`, reserved concurrency and
//! `--max-concurrency`.

use lambdalet_core::{ErrorCode, HasErrorCode, LifecyclePatch};

use crate::InvokeError;
use crate::testing::harness::{Harness, limits};
use crate::testing::{SIGTERM, signal};

#[tokio::test]
async fn max_instances_bounds_the_sandboxes_and_the_rest_queue() {
    let h = Harness::new(1000);
    let f = h.deploy("two", "sleep:30", 3, limits(2, 1000));
    let calls: Vec<_> = (0..5)
        .map(|i| h.spawn_invoke(&f, &format!("{{\"n\":{i}}}")))
        .collect();
    h.until("2 busy and 3 queued", |h| {
        let s = h.stats(&f);
        s.busy + s.starting == 2 && s.queued == 3
    })
    .await;
    for (i, call) in calls.into_iter().enumerate() {
        let r = call.await.expect("joined").expect("invoked");
        assert!(!r.function_error, "{r:?}");
        assert_eq!(r.payload, format!("{{\"n\":{i}}}"));
    }
    assert_eq!(
        h.backend.launches(),
        2,
        "the queued three reuse the two sandboxes"
    );
    assert_eq!(h.backend.peak_live(), 2);
    assert_eq!(h.backend.peak_running(), 2);
    assert_eq!(h.stats(&f).idle, 2);
}

#[tokio::test]
async fn queued_invocations_run_in_arrival_order() {
    let h = Harness::new(1000);
    let f = h.deploy("fifo", "gate", 3, limits(1, 1000));
    let mut calls = vec![h.spawn_invoke(&f, "0")];
    h.until("the first invocation holds the sandbox", |h| {
        h.stats(&f).starting + h.stats(&f).busy == 1
    })
    .await;
    for i in 1..5 {
        calls.push(h.spawn_invoke(&f, &i.to_string()));
        h.until("the invocation is queued", |h| h.stats(&f).queued == i)
            .await;
    }
    h.backend.open_gate(5);
    for call in calls {
        assert!(!call.await.expect("joined").expect("invoked").function_error);
    }
    assert_eq!(h.backend.seen(), ["0", "1", "2", "3", "4"]);
    assert_eq!(h.backend.launches(), 1);
}

#[tokio::test]
async fn a_full_queue_refuses_at_once() {
    let h = Harness::new(1000);
    let f = h.deploy("full", "gate", 3, limits(1, 1));
    let first = h.spawn_invoke(&f, "1");
    h.until("the first invocation holds the sandbox", |h| {
        h.stats(&f).starting + h.stats(&f).busy == 1
    })
    .await;
    let second = h.spawn_invoke(&f, "2");
    h.until("the second invocation is queued", |h| {
        h.stats(&f).queued == 1
    })
    .await;
    let err = h.invoke(&f, "3").await.expect_err("the queue is full");
    assert_eq!(err.error_code(), ErrorCode::TooManyRequests);
    assert_eq!(err.reason(), Some("ConcurrentInvocationLimitExceeded"));
    let msg = err.to_string();
    assert!(
        msg.contains("all 1 of its instances (maxInstancesCount) are busy")
            && msg.contains("(1 waiting, maxQueueSize 1)"),
        "{msg}"
    );
    h.backend.open_gate(2);
    assert!(
        !first
            .await
            .expect("joined")
            .expect("invoked")
            .function_error
    );
    assert!(
        !second
            .await
            .expect("joined")
            .expect("invoked")
            .function_error
    );
    assert_eq!(h.backend.seen(), ["1", "2"], "the refused one never ran");
    assert_eq!(h.backend.launches(), 1);
}

#[tokio::test]
async fn reserved_concurrency_zero_refuses_every_invocation() {
    let h = Harness::new(1000);
    let f = h.deploy("stopped", "echo", 3, LifecyclePatch::default());
    h.invoker.set_reserved_concurrency("stopped", Some(0));
    let err = h.invoke(&f, "{}").await.expect_err("reserved 0");
    assert!(matches!(err, InvokeError::Throttled { .. }), "{err:?}");
    assert_eq!(
        err.reason(),
        Some("ReservedFunctionConcurrentInvocationLimitExceeded")
    );
    assert!(err.to_string().contains("reserved concurrency 0"), "{err}");
    assert_eq!(h.backend.launches(), 0);
    h.invoker.set_reserved_concurrency("stopped", None);
    assert!(!h.invoke(&f, "{}").await.expect("invoked").function_error);
}

#[tokio::test]
async fn reserved_concurrency_caps_the_sandboxes_of_a_function() {
    let h = Harness::new(1000);
    let f = h.deploy("reserved", "gate", 3, limits(10, 10));
    h.invoker.set_reserved_concurrency("reserved", Some(1));
    let calls: Vec<_> = (0..3).map(|i| h.spawn_invoke(&f, &i.to_string())).collect();
    h.until("one runs, two wait", |h| h.stats(&f).queued == 2)
        .await;
    h.backend.open_gate(3);
    for call in calls {
        assert!(!call.await.expect("joined").expect("invoked").function_error);
    }
    assert_eq!(h.backend.launches(), 1);
    assert_eq!(h.backend.peak_running(), 1);
}

#[tokio::test]
async fn max_concurrency_evicts_an_idle_sandbox_of_another_function() {
    let h = Harness::new(1);
    let a = h.deploy("a", "echo", 3, LifecyclePatch::default());
    let b = h.deploy("b", "echo", 3, LifecyclePatch::default());
    assert!(!h.invoke(&a, "a").await.expect("invoked").function_error);
    assert_eq!(h.stats(&a).idle, 1);
    assert!(!h.invoke(&b, "b").await.expect("invoked").function_error);
    assert_eq!(h.backend.launches(), 2);
    assert_eq!(h.stats(&a).idle, 0, "a's idle sandbox made room for b");
    assert_eq!(h.stats(&b).idle, 1);
    h.until("a's sandbox has stopped", |h| h.backend.live() == 1)
        .await;
    assert_eq!(
        h.backend.exits(),
        [signal(SIGTERM)],
        "an evicted sandbox is stopped gracefully"
    );
}

#[tokio::test]
async fn max_concurrency_makes_another_function_wait_for_a_busy_one() {
    let h = Harness::new(1);
    let a = h.deploy("a", "gate", 3, LifecyclePatch::default());
    let b = h.deploy("b", "echo", 3, LifecyclePatch::default());
    let first = h.spawn_invoke(&a, "a");
    h.until("a holds the only slot", |h| {
        h.stats(&a).starting + h.stats(&a).busy == 1
    })
    .await;
    let second = h.spawn_invoke(&b, "b");
    h.until("b waits", |h| h.stats(&b).queued == 1).await;
    assert_eq!(h.backend.launches(), 1, "b cannot start while a is busy");
    h.backend.open_gate(1);
    assert!(
        !first
            .await
            .expect("joined")
            .expect("invoked")
            .function_error
    );
    assert!(
        !second
            .await
            .expect("joined")
            .expect("invoked")
            .function_error
    );
    assert_eq!(h.backend.launches(), 2);
    assert_eq!(
        h.stats(&a).idle,
        0,
        "a's released sandbox was evicted for b"
    );
    assert_eq!(h.backend.seen(), ["a", "b"]);
}

/// An evicted sandbox keeps its room under `--max-concurrency` until it has stopped (its stop
/// can take the 500 ms SIGTERM grace): the new one starts only then, so no more than the limit
/// is ever alive.
#[tokio::test]
async fn max_concurrency_counts_an_evicted_sandbox_until_it_has_stopped() {
    let h = Harness::new(1);
    let a = h.deploy("a", "echo", 3, LifecyclePatch::default());
    let b = h.deploy("b", "echo", 3, LifecyclePatch::default());
    assert!(!h.invoke(&a, "a").await.expect("invoked").function_error);
    assert!(!h.invoke(&b, "b").await.expect("invoked").function_error);
    assert_eq!(
        h.backend.peak_live(),
        1,
        "b's sandbox was launched while a's was still alive"
    );
}
