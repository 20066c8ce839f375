//! When a [`Cron`] next matches, in a time zone.
//!
//! The expression is matched against the zone's wall-clock time, minute by minute, the way
//! EventBridge Scheduler does across daylight saving changes: a wall-clock time that does not
//! exist (the hour skipped in spring) is skipped, and one that happens twice (the hour repeated
//! in autumn) fires once, at its first occurrence.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::cron::{Cron, Days, LAST_YEAR};

impl Cron {
    /// The first time strictly after `after` that the expression matches in `tz`, or `None`
    /// when it never matches again (its years are over, or it names a day that never comes).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = tz.to_datetime(after);
        let mut date = local.date();
        // Minutes of the first day before this one cannot match.
        let mut earliest = Some((local.hour(), local.minute()));
        loop {
            if date.year() > LAST_YEAR {
                return None;
            }
            if !self.has_year(date.year()) {
                date = Date::new(date.year().checked_add(1)?, 1, 1).ok()?;
                earliest = None;
                continue;
            }
            if !self.has_month(date.month()) {
                date = next_month(date)?;
                earliest = None;
                continue;
            }
            if self.day_matches(date)
                && let Some(t) = self.first_time_on(date, earliest, after, tz)
            {
                return Some(t);
            }
            date = date.tomorrow().ok()?;
            earliest = None;
        }
    }

    /// The first matching minute of `date` (from `earliest` on) whose instant is after `after`.
    fn first_time_on(
        &self,
        date: Date,
        earliest: Option<(i8, i8)>,
        after: Timestamp,
        tz: &TimeZone,
    ) -> Option<Timestamp> {
        for hour in (0..24i8).filter(|h| self.hours & (1 << h) != 0) {
            if earliest.is_some_and(|(h, _)| hour < h) {
                continue;
            }
            for minute in (0..60i8).filter(|m| self.minutes & (1 << m) != 0) {
                if earliest.is_some_and(|(h, m)| hour == h && minute < m) {
                    continue;
                }
                let Ok(dt) =
                    DateTime::new(date.year(), date.month(), date.day(), hour, minute, 0, 0)
                else {
                    continue;
                };
                if let Some(t) = instant(dt, tz)
                    && t > after
                {
                    return Some(t);
                }
            }
        }
        None
    }

    pub(crate) fn day_matches(&self, date: Date) -> bool {
        let day = date.day();
        let last = date.days_in_month();
        let weekday = date.weekday().to_sunday_one_offset() as u8;
        match self.days {
            Days::OfMonth(bits) => bits & (1 << day) != 0,
            Days::LastOfMonth => day == last,
            Days::LastWeekdayOfMonth => day == nearest_weekday(date, last, true),
            Days::NearestWeekday(n) => {
                n as i8 <= last && day == nearest_weekday(date, n as i8, false)
            }
            Days::OfWeek(bits) => bits & (1 << weekday) != 0,
            Days::LastOfWeek(w) => weekday == w && day + 7 > last,
            Days::NthOfWeek { weekday: w, n } => weekday == w && (day - 1) / 7 + 1 == n as i8,
        }
    }
}

/// The instant of a wall-clock time in `tz`: `None` in a gap, the earlier one in a fold.
pub(crate) fn instant(dt: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    let offset = match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { .. } => return None,
        AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.to_timestamp(dt).ok()
}

/// The weekday nearest day `n` of `date`'s month, without leaving the month (`W`): a Saturday
/// moves to the Friday before (or, on the 1st, the Monday after), a Sunday to the Monday after
/// (or, on the last day, the Friday before). `last`: `n` is the month's last day (`LW`), which
/// only ever moves back.
fn nearest_weekday(date: Date, n: i8, last: bool) -> i8 {
    let Ok(d) = Date::new(date.year(), date.month(), n) else {
        return 0;
    };
    let end = date.days_in_month();
    match d.weekday() {
        Weekday::Saturday if n == 1 => 3,
        Weekday::Saturday => n - 1,
        Weekday::Sunday if last || n == end => n - 2,
        Weekday::Sunday => n + 1,
        _ => n,
    }
}

fn next_month(date: Date) -> Option<Date> {
    if date.month() == 12 {
        Date::new(date.year().checked_add(1)?, 1, 1).ok()
    } else {
        Date::new(date.year(), date.month() + 1, 1).ok()
    }
}
