//! When a schedule fires: its expression in its time zone, bounded by its `StartDate` and
//! `EndDate`, after its last fire; and, with a flexible time window, when within the window.
//!
//! - `at()`: once, at that wall-clock time (`StartDate`/`EndDate` do not apply). A time that
//!   does not exist in the zone (skipped by daylight saving) fires at the same clock reading
//!   after the change; a repeated one at its first occurrence.
//! - `rate()`: every period from the `StartDate`, or, without one, from when the schedule was
//!   created (the first fire right away, as EventBridge Scheduler does) or last given a new
//!   expression.
//! - `cron()`: the matching minutes of the zone's wall clock (see `cron_next.rs`).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::expr::Expression;

/// The settings of a schedule that decide when it fires.
#[derive(Debug, Clone)]
pub struct Timing {
    pub expression: Expression,
    pub tz: TimeZone,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// `FlexibleTimeWindow` `FLEXIBLE`: each fire comes at a point within this many minutes.
    pub window_minutes: Option<u32>,
}

/// Where a schedule stands: the times that bound its next fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// No fire is scheduled before this (the last create or update).
    pub from_ms: i64,
    /// Where a rate without `StartDate` counts from.
    pub anchor_ms: i64,
    /// The scheduled time of the last fire (or, after a fire that caught up with times missed
    /// while the daemon was down, when that fire was queued).
    pub last_fire_ms: Option<i64>,
}

impl Timing {
    /// The scheduled time of the next fire, or `None` when there is none left.
    pub fn next_scheduled(&self, c: &Cursor) -> Option<i64> {
        let after_last = c.last_fire_ms.map_or(i64::MIN, |l| l.saturating_add(1));
        if let Expression::At(dt) = &self.expression {
            let t = self.tz.to_ambiguous_timestamp(*dt).compatible().ok()?;
            let t = t.as_millisecond();
            return (t >= c.from_ms && t >= after_last).then_some(t);
        }
        let lower = c
            .from_ms
            .max(after_last)
            .max(self.start_ms.unwrap_or(i64::MIN));
        let t = match &self.expression {
            Expression::At(_) => return None,
            Expression::Rate { every_ms } => {
                let anchor = self.start_ms.unwrap_or(c.anchor_ms);
                if lower <= anchor {
                    anchor
                } else {
                    let k = (lower - anchor + every_ms - 1) / every_ms;
                    anchor.checked_add(k.checked_mul(*every_ms)?)?
                }
            }
            Expression::Cron(cron) => {
                let after = Timestamp::from_millisecond(lower - 1).ok()?;
                cron.next_after(after, &self.tz)?.as_millisecond()
            }
        };
        match self.end_ms {
            Some(end) if t > end => None,
            _ => Some(t),
        }
    }

    /// When the fire scheduled for `t` is due: `t`, or with a flexible window a point within
    /// it that depends only on the schedule and `t` (so a restart picks the same one).
    pub fn due(&self, key: &str, t: i64) -> i64 {
        match self.window_minutes {
            Some(w) if w > 0 => {
                let window = i64::from(w) * 60_000;
                let spread = (mix(key, t) % window as u64) as i64;
                t.saturating_add(spread)
            }
            _ => t,
        }
    }
}

/// A hash of the schedule's key and the time (FNV-1a, then a finalizer to spread the bits).
fn mix(key: &str, t: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(t.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}
