//! The scheduler's sense of time, behind a trait so tests can move it by hand.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A sleep that [`Clock::sleep_until`] returns.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Wall-clock time in milliseconds since the Unix epoch, and waiting for it.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
    /// Resolves at `at_ms` or later (the firing loop checks the time again either way).
    fn sleep_until(&self, at_ms: i64) -> Sleep;
}

/// The system's clock; sleeps on tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        lambdalet_core::timefmt::epoch_millis(SystemTime::now()) as i64
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = at_ms.saturating_sub(self.now_ms()).max(0) as u64;
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// A clock that moves only when a test says so.
#[cfg(test)]
pub(crate) struct ManualClock {
    now: tokio::sync::watch::Sender<i64>,
}

#[cfg(test)]
impl ManualClock {
    pub(crate) fn new(now_ms: i64) -> Self {
        Self {
            now: tokio::sync::watch::channel(now_ms).0,
        }
    }

    pub(crate) fn advance(&self, ms: i64) {
        self.now.send_modify(|n| *n += ms);
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|n| *n >= at_ms).await;
        })
    }
}
