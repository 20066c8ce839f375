//! Background work of the invoker: the supervisor that keeps each pinned function's one
//! environment alive (restarting it with backoff, giving up after repeated failures), the
//! status watchdog of pinned runtimes, and the maintenance loop that reaps idle on-demand
//! environments and keeps provisioned ones warm.

use std::sync::{Arc, Weak};
use std::time::Duration;

use lambdalet_core::DeployedVersion;

use crate::instance::Instance;
use crate::invoker::Inner;
use crate::launch::InitType;
use crate::recorded::describe_init_failure;
use crate::scheduler::{Health, PoolKey};

/// After this many failures in a row (failed starts, crashes, hangs) without a successful
/// invocation between them, a pinned function is marked `Failed`.
pub(crate) const PINNED_FAILURE_LIMIT: u32 = 5;

/// Wait before the n-th restart in a row: 0.5 s, 1 s, 2 s, ... up to 30 s.
fn backoff(failures: u32) -> Duration {
    let ms = 500u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Duration::from_millis(ms.min(30_000))
}

/// Keeps one environment of a pinned version running until the version is removed, stops
/// being pinned, or the daemon shuts down.
pub(crate) async fn supervise_pinned(inner: Arc<Inner>, key: PoolKey) {
    let mut last_problem = String::new();
    let mut waited_for = 0;
    loop {
        if inner.closing.load(std::sync::atomic::Ordering::Acquire) {
            break;
        }
        let Some((spec, health, notify)) = inner.sched.pool_info(&key) else {
            break;
        };
        if !spec.config.lifecycle.pinned {
            break;
        }
        let notified = notify.notified();
        if let Health::Failed(_) = health {
            notified.await;
            waited_for = 0;
            continue;
        }
        let failures = inner.sched.pinned_failures(&key);
        if failures >= PINNED_FAILURE_LIMIT {
            let reason = format!(
                "the pinned function failed {failures} times in a row (last: {last_problem}); fix it and redeploy (update its code or configuration) to start it again"
            );
            tracing::error!(function = %key.0, version = %key.1, "{reason}");
            inner.sched.mark_failed(&key, reason);
            continue;
        }
        if failures > waited_for {
            waited_for = failures;
            tracing::warn!(function = %key.0, version = %key.1, failures, "restarting pinned function after {:?}", backoff(failures));
            tokio::select! {
                _ = tokio::time::sleep(backoff(failures)) => {}
                _ = notify.notified() => {}
            }
            continue;
        }
        if failures == 0 {
            waited_for = 0;
        }
        let Some((spec, _)) = inner.sched.reserve_background(&key) else {
            // It has its environment (or cannot have one now): wait for a change.
            notified.await;
            continue;
        };
        match Instance::start(&inner.ctx, &spec, InitType::OnDemand).await {
            Ok(Ok(instance)) => {
                tracing::info!(function = %key.0, version = %key.1, sandbox = %instance.id, "pinned function started");
                let mut exited = instance.sandbox.exited();
                let (id, revision) = (instance.id.clone(), instance.revision.clone());
                inner.sched.add_ready(&key, instance);
                let info = exited.wait_for(Option::is_some).await.ok().and_then(|i| *i);
                inner.sched.forget_dead(&key, &id);
                let replaced = inner.sched.pool_info(&key).is_none_or(|(s, _, _)| {
                    s.revision_id != revision || !s.config.lifecycle.pinned
                });
                if !replaced && !inner.closing.load(std::sync::atomic::Ordering::Acquire) {
                    last_problem = match info {
                        Some(i) => format!("the runtime exited ({i})"),
                        None => "the runtime exited".to_owned(),
                    };
                    tracing::warn!(function = %key.0, version = %key.1, "pinned function stopped: {last_problem}");
                    inner.sched.pinned_died(&key);
                }
            }
            Ok(Err(failure)) => {
                let (body, error_type) = describe_init_failure(failure.problem, "-");
                last_problem = format!("{error_type}: {}", String::from_utf8_lossy(&body));
                tracing::warn!(function = %key.0, version = %key.1, "pinned function failed to start: {last_problem}");
                inner.sched.start_failed(&key);
            }
            Err(e) => {
                last_problem = e.to_string();
                tracing::error!(function = %key.0, version = %key.1, "cannot start pinned function: {e}");
                inner.sched.start_failed(&key);
            }
        }
    }
    inner.sched.supervisor_exited(&key);
}

/// After an invocation of a pinned function, the runtime must come back to `next` within
/// `statusTimeoutInSeconds`; one that does not is killed (and restarted by its supervisor).
pub(crate) fn watch_status(instance: &Instance, version: &DeployedVersion) {
    let channel = instance.channel.clone();
    let sandbox = instance.sandbox.clone();
    let limit = Duration::from_secs(version.config.lifecycle.status_timeout_in_seconds.into());
    let name = version.name.to_string();
    tokio::spawn(async move {
        if !channel.wait_until_back(limit).await && sandbox.exited().borrow().is_none() {
            tracing::warn!(
                function = %name,
                "pinned runtime did not call /runtime/invocation/next within statusTimeoutInSeconds ({}s); restarting it",
                limit.as_secs()
            );
            sandbox.kill();
        }
    });
}

/// Once a second: stop idle environments past their `maxIdleTimeInSeconds`, and start
/// environments for versions below their provisioned concurrency.
pub(crate) async fn maintain(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let Some((stopping, short)) = inner
        .upgrade()
        .map(|i| (i.sched.stopping(), i.sched.short()))
    else {
        return;
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // A pre-started sandbox was taken: start the next one now.
            _ = short.notified() => {}
            // A stopped sandbox made room under the daemon-wide limit.
            _ = stopping.gone.notified() => {
                match inner.upgrade() {
                    Some(inner) => inner.sched.wake(),
                    None => break,
                }
                continue;
            }
        }
        let Some(inner) = inner.upgrade() else { break };
        if inner.closing.load(std::sync::atomic::Ordering::Acquire) {
            break;
        }
        for key in inner.sched.reap_idle() {
            while let Some((spec, provisioned)) = inner.sched.reserve_background(&key) {
                let inner = inner.clone();
                let key = key.clone();
                let (init_type, what) = if provisioned {
                    (InitType::Provisioned, "provisioned")
                } else {
                    (InitType::OnDemand, "pre-started")
                };
                tokio::spawn(async move {
                    match Instance::start(&inner.ctx, &spec, init_type).await {
                        Ok(Ok(instance)) => inner.sched.add_ready(&key, instance),
                        Ok(Err(failure)) => {
                            let (_, t) = describe_init_failure(failure.problem, "-");
                            tracing::warn!(function = %key.0, version = %key.1, error_type = %t, "{what} environment failed to start");
                            inner.sched.start_failed(&key);
                        }
                        Err(e) => {
                            tracing::warn!(function = %key.0, version = %key.1, "{what} environment failed to start: {e}");
                            inner.sched.start_failed(&key);
                        }
                    }
                });
            }
        }
    }
}
