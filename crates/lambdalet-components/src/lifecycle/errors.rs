//! Counting a component's errors to decide when it is `BROKEN`.
//!
//! Rule: an error is remembered for [`ERROR_WINDOW`] (one hour, the nucleus's default
//! `errorResetTime`); the error that makes [`MAX_ERRORS`] (three) remembered errors breaks
//! the component. The window slides: errors an hour old no longer count. Successes do not
//! clear the count; `reset_errors()` (a new deployment) does.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The number of errors within [`ERROR_WINDOW`] that makes a component `BROKEN`.
pub const MAX_ERRORS: usize = 3;

/// How long an error counts towards [`MAX_ERRORS`].
pub const ERROR_WINDOW: Duration = Duration::from_secs(3600);

/// The times of recent errors, oldest first.
#[derive(Debug, Default)]
pub(crate) struct ErrorWindow {
    times: VecDeque<Instant>,
}

impl ErrorWindow {
    /// Remembers an error at `now`; true when it is the one that breaks the component.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.times.push_back(now);
        self.times.len() >= MAX_ERRORS
    }

    /// How many errors still count at `now`.
    #[cfg(test)]
    pub(crate) fn count(&mut self, now: Instant) -> usize {
        self.forget_before(now);
        self.times.len()
    }

    pub(crate) fn clear(&mut self) {
        self.times.clear();
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(first) = self.times.front() {
            if now.saturating_duration_since(*first) >= ERROR_WINDOW {
                self.times.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_third_error_within_an_hour_breaks() {
        let t0 = Instant::now();
        let mut w = ErrorWindow::default();
        assert!(!w.record(t0));
        assert!(!w.record(t0 + 10 * MIN));
        assert!(w.record(t0 + 59 * MIN));
    }

    #[test]
    fn errors_an_hour_old_no_longer_count() {
        let t0 = Instant::now();
        let mut w = ErrorWindow::default();
        assert!(!w.record(t0));
        assert!(!w.record(t0 + 30 * MIN));
        // The first error is exactly an hour old: forgotten.
        assert!(!w.record(t0 + 60 * MIN));
        assert_eq!(w.count(t0 + 60 * MIN), 2);
        assert!(w.record(t0 + 61 * MIN));
    }

    #[test]
    fn errors_spread_wider_than_the_window_never_break() {
        let t0 = Instant::now();
        let mut w = ErrorWindow::default();
        for i in 0..10 {
            assert!(!w.record(t0 + i * 31 * MIN), "error {i}");
        }
    }

    #[test]
    fn clear_forgets_everything() {
        let t0 = Instant::now();
        let mut w = ErrorWindow::default();
        w.record(t0);
        w.record(t0);
        w.clear();
        assert_eq!(w.count(t0), 0);
        assert!(!w.record(t0));
    }
}
