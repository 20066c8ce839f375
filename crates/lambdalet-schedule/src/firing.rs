//! The firing loop: sleep until the earliest schedule is due (or a change wakes it), queue one
//! asynchronous invocation per due schedule, each committed together with the schedule's new
//! last fire time, then work out the next.
//!
//! At start every schedule's next fire is worked out from its stored last fire: a time that
//! passed while the daemon was down is due at once, and fires once however many were missed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::service::Schedules;
use crate::table::{Planned, schedule_arn};

/// A queued fire the queue refused is tried again this much later.
const RETRY_MS: i64 = 5_000;
/// The loop looks at the clock at least this often (the wall clock may be set meanwhile).
const MAX_SLEEP_MS: i64 = 60_000;

impl Schedules {
    /// Starts the firing loop.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.clone().run())
    }

    /// Stops the firing loop (fires already queued stay queued).
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    async fn run(self: Arc<Self>) {
        loop {
            if self.closing.load(Ordering::SeqCst) {
                break;
            }
            let earliest = self.fire_due().await;
            let now = self.clock.now_ms();
            let until = earliest.map_or(now + MAX_SLEEP_MS, |t| t.min(now + MAX_SLEEP_MS));
            tokio::select! {
                _ = self.clock.sleep_until(until) => {}
                _ = self.wake.notified() => {}
            }
        }
        tracing::info!("schedules.stopped");
    }

    /// Queues every fire due now; returns when the next one is due.
    pub(crate) async fn fire_due(&self) -> Option<i64> {
        let _w = self.writes.lock().await;
        let now = self.clock.now_ms();
        let planned = self.table.lock().plan(now, &self.account);
        let (planned, denied): (Vec<_>, Vec<_>) = planned.into_iter().partition(|p| {
            let arn = schedule_arn(&self.account, &p.key.0, &p.key.1);
            self.functions.may_invoke(&arn, &p.function)
        });
        for p in denied {
            self.skip_denied(&p).await;
        }
        // Handed to the queue in order at once (their commits share an fsync), then awaited.
        let queued: Vec<_> = planned
            .into_iter()
            .map(|p| {
                let q = self.sink.queue(p.fire.clone());
                (p, q)
            })
            .collect();
        for (p, q) in queued {
            match q.await {
                Ok(request_id) => {
                    self.stats.fired.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        group = %p.key.0,
                        schedule = %p.key.1,
                        function = %p.fire.request.function,
                        request_id = %request_id,
                        scheduled = %crate::input::scheduled_time(p.scheduled_ms),
                        late_ms = now - p.scheduled_ms,
                        deleted = p.delete,
                        "schedule.fired"
                    );
                    self.table.lock().fired(&p);
                }
                Err(e) => {
                    self.stats.fire_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(group = %p.key.0, schedule = %p.key.1, "schedule.fire_failed: the event could not be queued (trying again in 5 s): {e}");
                    if let Some(entry) = self.table.lock().schedules.get_mut(&p.key) {
                        entry.retry_at = Some(now + RETRY_MS);
                    }
                }
            }
        }
        self.table.lock().earliest_due()
    }

    /// A fire the function's policy does not allow: nothing is queued, and the fire counts
    /// as done (stored like a queued one), as a failed invocation does on AWS.
    async fn skip_denied(&self, p: &Planned) {
        self.stats.fire_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(group = %p.key.0, schedule = %p.key.1, function = %p.fire.request.function, "schedule.denied: the function's policy does not let this schedule invoke it; the fire is dropped");
        let Some(along) = p.fire.options.along.clone() else {
            return;
        };
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.record_schedule_fire(&along)).await;
        match stored {
            Ok(Ok(())) => self.table.lock().fired(p),
            Ok(Err(e)) => {
                tracing::error!(group = %p.key.0, schedule = %p.key.1, "schedule.fire_failed: {e}")
            }
            Err(e) => {
                tracing::error!(group = %p.key.0, schedule = %p.key.1, "schedule.fire_failed: {e}")
            }
        }
    }
}
