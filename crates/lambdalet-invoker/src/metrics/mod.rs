//! Lambda's CloudWatch metrics, kept by the daemon: per function version `Invocations`,
//! `Errors`, `Throttles`, `Duration` and init durations (cold starts); per function
//! `ConcurrentExecutions` and the async queue's `AsyncEventsReceived`, `AsyncEventAge`,
//! `AsyncEventsDropped` and `DeadLetterErrors`. `/metrics` shows them as Prometheus series; the
//! console draws the last hour from a per-minute record of each function ([`MinutePoint`]).
//!
//! Everything lives in memory and starts from zero with the daemon, as Prometheus counters do;
//! a deleted function's series go with it.

pub mod hist;
mod minutes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

pub use hist::Histogram;
use hist::{AGE_BOUNDS, DURATION_BOUNDS};
pub use minutes::MinutePoint;
use minutes::Minutes;

/// Why an async event was dropped without a successful invocation (a label value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Older than its `MaximumEventAgeInSeconds`.
    EventAge,
    /// Its retries (function errors, or throttles under its own delivery policy) ran out.
    RetriesExhausted,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::EventAge => "event_age_exceeded",
            DropReason::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// The metrics of one function version.
#[derive(Debug, Clone)]
pub struct VersionMetrics {
    pub version: String,
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub cold_starts: u64,
    pub duration: Histogram,
    pub init_duration: Histogram,
}

impl VersionMetrics {
    fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            invocations: 0,
            errors: 0,
            throttles: 0,
            cold_starts: 0,
            duration: Histogram::new(DURATION_BOUNDS),
            init_duration: Histogram::new(DURATION_BOUNDS),
        }
    }
}

/// The metrics of one function: its versions' and its own.
#[derive(Debug, Clone)]
pub struct FunctionMetrics {
    pub function: String,
    pub versions: Vec<VersionMetrics>,
    /// Invocations running now (Lambda's `ConcurrentExecutions`).
    pub concurrent: u64,
    pub async_received: u64,
    pub async_age: Histogram,
    pub async_dropped: Vec<(DropReason, u64)>,
    pub dead_letter_errors: u64,
}

struct Entry {
    versions: Vec<VersionMetrics>,
    concurrent: u64,
    async_received: u64,
    async_age: Histogram,
    async_dropped: Vec<(DropReason, u64)>,
    dead_letter_errors: u64,
    minutes: Minutes,
}

impl Entry {
    fn new() -> Self {
        Self {
            versions: Vec::new(),
            concurrent: 0,
            async_received: 0,
            async_age: Histogram::new(AGE_BOUNDS),
            async_dropped: Vec::new(),
            dead_letter_errors: 0,
            minutes: Minutes::default(),
        }
    }

    fn version(&mut self, version: &str) -> &mut VersionMetrics {
        let i = match self.versions.iter().position(|v| v.version == version) {
            Some(i) => i,
            None => {
                self.versions.push(VersionMetrics::new(version));
                self.versions.len() - 1
            }
        };
        &mut self.versions[i]
    }
}

/// How one invocation ended, for its metrics.
pub struct Ended<'a> {
    pub function: &'a str,
    pub version: &'a str,
    /// The function's run time (REPORT's Duration).
    pub duration: Duration,
    /// The function or its runtime failed (Lambda's `Errors`).
    pub error: bool,
    /// Set on a cold start: its Init Duration.
    pub init: Option<Duration>,
}

/// The daemon's metrics registry; cheap to share.
#[derive(Clone, Default)]
pub struct Metrics {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

fn now_ms() -> u64 {
    lambdalet_core::timefmt::epoch_millis(SystemTime::now())
}

impl Metrics {
    fn with<R>(&self, function: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut map = self.entries.lock();
        if let Some(e) = map.get_mut(function) {
            return f(e);
        }
        f(map.entry(function.to_owned()).or_insert_with(Entry::new))
    }

    /// An invocation of `function` has its sandbox and runs until the guard is dropped.
    pub fn running(&self, function: &str) -> Running {
        let now = now_ms();
        self.with(function, |e| {
            e.concurrent += 1;
            e.minutes.concurrency(now, e.concurrent);
        });
        Running {
            metrics: self.clone(),
            function: function.to_owned(),
        }
    }

    /// An invocation ended (successfully or not) with a result.
    pub fn ended(&self, end: &Ended<'_>) {
        let now = now_ms();
        let seconds = end.duration.as_secs_f64();
        self.with(end.function, |e| {
            let v = e.version(end.version);
            v.invocations += 1;
            v.errors += u64::from(end.error);
            v.duration.observe(seconds);
            if let Some(init) = end.init {
                v.cold_starts += 1;
                v.init_duration.observe(init.as_secs_f64());
            }
            e.minutes
                .ended(now, seconds * 1000.0, end.error, end.init.is_some());
        });
    }

    /// An invocation was refused for concurrency (Lambda's `Throttles`).
    pub fn throttled(&self, function: &str, version: &str) {
        let now = now_ms();
        self.with(function, |e| {
            e.version(version).throttles += 1;
            e.minutes.throttled(now);
        });
    }

    /// An async event was queued for `function`.
    pub fn async_received(&self, function: &str) {
        self.with(function, |e| e.async_received += 1);
    }

    /// An async event is handed to its function `age` after it was queued.
    pub fn async_dispatched(&self, function: &str, age: Duration) {
        self.with(function, |e| e.async_age.observe(age.as_secs_f64()));
    }

    /// An async event was dropped without a successful invocation.
    pub fn async_dropped(&self, function: &str, reason: DropReason) {
        self.with(function, |e| {
            match e.async_dropped.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => e.async_dropped.push((reason, 1)),
            }
        });
    }

    /// The record of a failed async event could not reach its dead-letter target or
    /// `OnFailure` destination.
    pub fn dead_letter_error(&self, function: &str) {
        self.with(function, |e| e.dead_letter_errors += 1);
    }

    /// Forgets a deleted function (`version` None) or one of its versions.
    pub fn remove(&self, function: &str, version: Option<&str>) {
        let mut map = self.entries.lock();
        match version {
            None => {
                map.remove(function);
            }
            Some(v) => {
                if let Some(e) = map.get_mut(function) {
                    e.versions.retain(|m| m.version != v);
                }
            }
        }
    }

    /// Every function's metrics, by name.
    pub fn snapshot(&self) -> Vec<FunctionMetrics> {
        let map = self.entries.lock();
        let mut out: Vec<FunctionMetrics> = map
            .iter()
            .map(|(name, e)| FunctionMetrics {
                function: name.clone(),
                versions: e.versions.clone(),
                concurrent: e.concurrent,
                async_received: e.async_received,
                async_age: e.async_age.clone(),
                async_dropped: e.async_dropped.clone(),
                dead_letter_errors: e.dead_letter_errors,
            })
            .collect();
        out.sort_by(|a, b| a.function.cmp(&b.function));
        out
    }

    /// The last `n` minutes of `function` (at most 60), oldest first, the current minute last;
    /// minutes without invocations are zeros.
    pub fn minutes(&self, function: &str, n: usize) -> Vec<MinutePoint> {
        let now = now_ms();
        let map = self.entries.lock();
        match map.get(function) {
            Some(e) => e.minutes.last(now, n),
            None => Minutes::default().last(now, n),
        }
    }
}

/// Counts an invocation as running until dropped.
pub struct Running {
    metrics: Metrics,
    function: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut map = self.metrics.entries.lock();
        if let Some(e) = map.get_mut(&self.function) {
            e.concurrent = e.concurrent.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(function: &str, ms: u64, error: bool, init: Option<u64>) -> Ended<'_> {
        Ended {
            function,
            version: "$LATEST",
            duration: Duration::from_millis(ms),
            error,
            init: init.map(Duration::from_millis),
        }
    }

    #[test]
    fn counts_follow_what_happened() {
        let m = Metrics::default();
        let guard = m.running("f");
        let second = m.running("f");
        assert_eq!(m.snapshot()[0].concurrent, 2);
        m.ended(&end("f", 3, false, Some(40)));
        drop(guard);
        m.ended(&end("f", 7, true, None));
        drop(second);
        m.throttled("f", "$LATEST");
        m.async_received("f");
        m.async_dispatched("f", Duration::from_millis(20));
        m.async_dropped("f", DropReason::EventAge);
        m.async_dropped("f", DropReason::EventAge);
        m.dead_letter_error("f");
        let s = &m.snapshot()[0];
        assert_eq!(s.concurrent, 0);
        let v = &s.versions[0];
        assert_eq!(
            (v.invocations, v.errors, v.throttles, v.cold_starts),
            (2, 1, 1, 1)
        );
        assert_eq!(v.duration.count, 2);
        assert_eq!(v.init_duration.count, 1);
        assert_eq!(s.async_received, 1);
        assert_eq!(s.async_age.count, 1);
        assert_eq!(s.async_dropped, vec![(DropReason::EventAge, 2)]);
        assert_eq!(s.dead_letter_errors, 1);
        let last = m.minutes("f", 1);
        assert_eq!(last.len(), 1);
        assert_eq!(
            (
                last[0].invocations,
                last[0].errors,
                last[0].throttles,
                last[0].cold_starts
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(last[0].max_concurrency, 2);
    }

    #[test]
    fn a_deleted_function_loses_its_series() {
        let m = Metrics::default();
        m.ended(&end("f", 1, false, None));
        m.remove("f", Some("$LATEST"));
        assert!(m.snapshot()[0].versions.is_empty());
        m.remove("f", None);
        assert!(m.snapshot().is_empty());
    }
}
