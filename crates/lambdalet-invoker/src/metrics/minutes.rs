//! The last hour of a function, a minute at a time: what the console's charts draw (Lambda's
//! Monitor tab shows the same at one-minute resolution).

use serde::Serialize;

use super::hist::Fine;

/// Minutes kept.
pub const KEPT: usize = 60;
const MINUTE_MS: u64 = 60_000;

/// One minute of one function.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinutePoint {
    /// The minute's start, milliseconds since the epoch.
    pub start_ms: u64,
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub cold_starts: u64,
    /// Duration percentiles of the invocations that ended in the minute (within 12 %).
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Most invocations running at once in the minute.
    pub max_concurrency: u64,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    /// The minute (ms since the epoch / 60 000) the slot holds; a slot of an older minute is
    /// stale and counts as empty.
    minute: u64,
    invocations: u64,
    errors: u64,
    throttles: u64,
    cold_starts: u64,
    durations: Fine,
    max_concurrency: u64,
}

/// A ring of the last [`KEPT`] minutes.
#[derive(Debug, Clone)]
pub struct Minutes {
    slots: Vec<Slot>,
}

impl Default for Minutes {
    fn default() -> Self {
        Self {
            slots: vec![Slot::default(); KEPT],
        }
    }
}

impl Minutes {
    fn slot(&mut self, now_ms: u64) -> &mut Slot {
        let minute = now_ms / MINUTE_MS;
        let slot = &mut self.slots[(minute % KEPT as u64) as usize];
        if slot.minute != minute {
            *slot = Slot {
                minute,
                ..Slot::default()
            };
        }
        slot
    }

    pub fn ended(&mut self, now_ms: u64, ms: f64, error: bool, cold: bool) {
        let s = self.slot(now_ms);
        s.invocations += 1;
        s.errors += u64::from(error);
        s.cold_starts += u64::from(cold);
        s.durations.observe(ms);
    }

    pub fn throttled(&mut self, now_ms: u64) {
        self.slot(now_ms).throttles += 1;
    }

    pub fn concurrency(&mut self, now_ms: u64, running: u64) {
        let s = self.slot(now_ms);
        s.max_concurrency = s.max_concurrency.max(running);
    }

    /// The last `n` minutes (at most [`KEPT`]), oldest first.
    pub fn last(&self, now_ms: u64, n: usize) -> Vec<MinutePoint> {
        let current = now_ms / MINUTE_MS;
        let n = n.clamp(1, KEPT) as u64;
        (0..n)
            .rev()
            .map(|back| {
                let minute = current.saturating_sub(back);
                let slot = &self.slots[(minute % KEPT as u64) as usize];
                let empty = Slot::default();
                let s = if slot.minute == minute { slot } else { &empty };
                MinutePoint {
                    start_ms: minute * MINUTE_MS,
                    invocations: s.invocations,
                    errors: s.errors,
                    throttles: s.throttles,
                    cold_starts: s.cold_starts,
                    p50_ms: s.durations.percentile(50.0),
                    p90_ms: s.durations.percentile(90.0),
                    p99_ms: s.durations.percentile(99.0),
                    max_concurrency: s.max_concurrency,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_older_than_an_hour_are_forgotten_and_gaps_are_zeros() {
        let mut m = Minutes::default();
        let t0 = 1_000 * MINUTE_MS;
        m.ended(t0, 5.0, false, true);
        m.ended(t0 + 2 * MINUTE_MS, 10.0, true, false);
        let last = m.last(t0 + 2 * MINUTE_MS + 5, 3);
        assert_eq!(last.len(), 3);
        assert_eq!(last[0].start_ms, t0);
        assert_eq!((last[0].invocations, last[0].cold_starts), (1, 1));
        assert_eq!(last[1].invocations, 0);
        assert_eq!(last[1].p50_ms, None);
        assert_eq!((last[2].invocations, last[2].errors), (1, 1));
        // An hour later the slot of t0 is reused for a new minute and the old one is gone.
        let later = t0 + KEPT as u64 * MINUTE_MS;
        m.throttled(later);
        let last = m.last(later, KEPT);
        assert_eq!(last.iter().map(|p| p.invocations).sum::<u64>(), 1);
        assert_eq!(last[KEPT - 1].throttles, 1);
    }
}
