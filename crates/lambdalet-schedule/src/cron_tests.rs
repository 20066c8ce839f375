//! The parser and the next-fire arithmetic of `at()`, `rate()` and `cron()`, in time zones.

use jiff::Timestamp;

use crate::definition::time_zone;
use crate::expr::Expression;
use crate::timing::{Cursor, Timing};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

fn cron(body: &str) -> crate::Cron {
    crate::Cron::parse(body).unwrap_or_else(|e| panic!("cron({body}): {e}"))
}

/// The next `n` times `body` matches in `tz` after `after`, as UTC timestamps.
fn nexts(body: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
    let c = cron(body);
    let tz = time_zone(tz).expect("zone");
    let mut t = ts(after);
    let mut out = Vec::new();
    for _ in 0..n {
        match c.next_after(t, &tz) {
            Some(next) => {
                out.push(next.to_string());
                t = next;
            }
            None => break,
        }
    }
    out
}

fn err(text: &str) -> String {
    Expression::parse(text)
        .expect_err("the expression must be refused")
        .0
}

#[test]
fn expressions_parse_and_bad_ones_say_why() {
    assert!(matches!(
        Expression::parse("rate(5 minutes)"),
        Ok(Expression::Rate { every_ms: 300_000 })
    ));
    assert!(matches!(
        Expression::parse("rate(1 day)"),
        Ok(Expression::Rate {
            every_ms: 86_400_000
        })
    ));
    assert!(Expression::parse("at(2030-01-31T09:30:00)").is_ok_and(|e| e.is_one_time()));
    assert!(Expression::parse("cron(0/15 8-17 ? * MON-FRI *)").is_ok());
    assert!(Expression::parse("cron(0 12 L * ? 2030-2035)").is_ok());
    for bad in [
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(5 seconds)",
        "rate(5)",
        "rate(1.5 hours)",
        "at(2030-02-30T00:00:00)",
        "at(2030-01-31 09:30:00)",
        "at(2030-01-31T25:00:00)",
        "cron(0 12 * * ?)",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(60 12 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 * 13 ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 ? * FOO *)",
        "cron(0 12 * * ? 1969)",
        "cron(0 12 * * ? 2200)",
        "cron(0 12 ? * 2#6 *)",
        "cron(0 12 ? * 2#1,3#1 *)",
        "cron(0 12 3L * ? *)",
        "cron(*/0 12 * * ? *)",
        "every 5 minutes",
        "",
    ] {
        let message = err(bad);
        assert!(
            message.starts_with(&format!("Invalid Schedule Expression {bad}")),
            "{bad}: {message}"
        );
    }
    assert!(err("rate(5 seconds)").contains("minute"));
    assert!(err("cron(0 12 * * * *)").contains("must be ?"));
    assert!(err("cron(0 12 * * ?)").contains("six fields"));
}

#[test]
fn cron_fields_lists_ranges_steps_and_names() {
    assert_eq!(
        nexts("0/20 9 * * ? *", "UTC", "2030-01-01T09:10:00Z", 3),
        [
            "2030-01-01T09:20:00Z",
            "2030-01-01T09:40:00Z",
            "2030-01-02T09:00:00Z"
        ]
    );
    // 2030-01-04 is a Friday: MON-FRI skips the weekend.
    assert_eq!(
        nexts("30 8 ? * MON-FRI *", "UTC", "2030-01-04T09:00:00Z", 2),
        ["2030-01-07T08:30:00Z", "2030-01-08T08:30:00Z"]
    );
    // Numeric weekdays count from Sunday = 1; a range may wrap (FRI-MON).
    assert_eq!(
        nexts("0 0 ? * 1 *", "UTC", "2030-01-01T00:00:00Z", 1),
        ["2030-01-06T00:00:00Z"]
    );
    assert_eq!(
        nexts("0 0 ? * FRI-MON *", "UTC", "2030-01-01T00:00:00Z", 4),
        [
            "2030-01-04T00:00:00Z",
            "2030-01-05T00:00:00Z",
            "2030-01-06T00:00:00Z",
            "2030-01-07T00:00:00Z"
        ]
    );
    assert_eq!(
        nexts("15 10 1,15 JAN,jul ? *", "UTC", "2030-01-15T10:15:00Z", 3),
        [
            "2030-07-01T10:15:00Z",
            "2030-07-15T10:15:00Z",
            "2031-01-01T10:15:00Z"
        ]
    );
    // Strictly after: the current minute does not match again.
    assert_eq!(
        nexts("0 12 * * ? *", "UTC", "2030-01-01T12:00:00Z", 1),
        ["2030-01-02T12:00:00Z"]
    );
}

#[test]
fn last_nearest_weekday_and_nth() {
    // L: the last day of each month, leap years included.
    assert_eq!(
        nexts("0 0 L * ? *", "UTC", "2032-01-31T00:00:00Z", 2),
        ["2032-02-29T00:00:00Z", "2032-03-31T00:00:00Z"]
    );
    // LW: August 2030 ends on a Saturday, so its last weekday is Friday the 30th.
    assert_eq!(
        nexts("0 0 LW 8 ? *", "UTC", "2030-01-01T00:00:00Z", 1),
        ["2030-08-30T00:00:00Z"]
    );
    // 15W: 2030-06-15 is a Saturday -> Friday the 14th; 2030-09-15 a Sunday -> Monday 16th.
    assert_eq!(
        nexts("0 0 15W 6,9 ? *", "UTC", "2030-01-01T00:00:00Z", 2),
        ["2030-06-14T00:00:00Z", "2030-09-16T00:00:00Z"]
    );
    // 1W never leaves the month: 2030-06-01 is a Saturday -> Monday the 3rd.
    assert_eq!(
        nexts("0 0 1W 6 ? 2030", "UTC", "2030-01-01T00:00:00Z", 1),
        ["2030-06-03T00:00:00Z"]
    );
    // 3#2: the second Tuesday.
    assert_eq!(
        nexts("0 9 ? * 3#2 *", "UTC", "2030-01-01T00:00:00Z", 2),
        ["2030-01-08T09:00:00Z", "2030-02-12T09:00:00Z"]
    );
    // 6L: the last Friday; 2#5: a fifth Monday, only in months that have one.
    assert_eq!(
        nexts("0 9 ? * 6L *", "UTC", "2030-01-01T00:00:00Z", 2),
        ["2030-01-25T09:00:00Z", "2030-02-22T09:00:00Z"]
    );
    assert_eq!(
        nexts("0 9 ? * MON#5 *", "UTC", "2030-01-01T00:00:00Z", 2),
        ["2030-04-29T09:00:00Z", "2030-07-29T09:00:00Z"]
    );
    // 30 February never comes.
    assert!(nexts("0 0 30 2 ? *", "UTC", "2030-01-01T00:00:00Z", 1).is_empty());
}

#[test]
fn the_year_field_ends_a_schedule() {
    assert_eq!(
        nexts("0 0 1 1 ? 2031/2", "UTC", "2030-06-01T00:00:00Z", 3),
        [
            "2031-01-01T00:00:00Z",
            "2033-01-01T00:00:00Z",
            "2035-01-01T00:00:00Z"
        ]
    );
    assert_eq!(
        nexts("0 0 * * ? 2030", "UTC", "2030-12-30T12:00:00Z", 5),
        ["2030-12-31T00:00:00Z"]
    );
    assert!(nexts("0 0 * * ? 2029", "UTC", "2030-01-01T00:00:00Z", 1).is_empty());
}

#[test]
fn cron_follows_daylight_saving_time() {
    // New York springs forward on 2030-03-10 (02:00 -> 03:00): 02:30 does not exist that
    // day and is skipped; the other days keep their wall-clock time.
    assert_eq!(
        nexts(
            "30 2 * * ? *",
            "America/New_York",
            "2030-03-09T00:00:00Z",
            3
        ),
        [
            "2030-03-09T07:30:00Z",
            "2030-03-11T06:30:00Z",
            "2030-03-12T06:30:00Z"
        ]
    );
    // It falls back on 2030-11-03 (02:00 -> 01:00): 01:30 happens twice and fires once,
    // at the first (EDT, 05:30 UTC).
    assert_eq!(
        nexts(
            "30 1 * * ? *",
            "America/New_York",
            "2030-11-02T12:00:00Z",
            3
        ),
        [
            "2030-11-03T05:30:00Z",
            "2030-11-04T06:30:00Z",
            "2030-11-05T06:30:00Z"
        ]
    );
    // Every 30 minutes through the fall-back night: no minute fires twice.
    let night = nexts(
        "0/30 * * * ? *",
        "America/New_York",
        "2030-11-03T04:45:00Z",
        4,
    );
    assert_eq!(
        night,
        [
            "2030-11-03T05:00:00Z",
            "2030-11-03T05:30:00Z",
            "2030-11-03T07:00:00Z",
            "2030-11-03T07:30:00Z"
        ]
    );
    // Berlin: 09:00 local is 08:00 UTC in winter and 07:00 UTC in summer.
    assert_eq!(
        nexts("0 9 ? * SUN *", "Europe/Berlin", "2030-03-20T00:00:00Z", 2),
        ["2030-03-24T08:00:00Z", "2030-03-31T07:00:00Z"]
    );
}

fn timing(expr: &str, tz: &str) -> Timing {
    Timing {
        expression: Expression::parse(expr).expect("expression"),
        tz: time_zone(tz).expect("zone"),
        start_ms: None,
        end_ms: None,
        window_minutes: None,
    }
}

fn ms(s: &str) -> i64 {
    ts(s).as_millisecond()
}

fn cursor(from: &str, last: Option<&str>) -> Cursor {
    Cursor {
        from_ms: ms(from),
        anchor_ms: ms(from),
        last_fire_ms: last.map(ms),
    }
}

#[test]
fn at_fires_once_in_its_zone() {
    let t = timing("at(2030-07-01T09:00:00)", "Asia/Tokyo");
    let c = cursor("2030-01-01T00:00:00Z", None);
    assert_eq!(t.next_scheduled(&c), Some(ms("2030-07-01T00:00:00Z")));
    let fired = cursor("2030-01-01T00:00:00Z", Some("2030-07-01T00:00:00Z"));
    assert_eq!(t.next_scheduled(&fired), None);
    // A time already past when the schedule was made never fires.
    let late = cursor("2030-08-01T00:00:00Z", None);
    assert_eq!(t.next_scheduled(&late), None);
}

#[test]
fn rate_counts_from_creation_or_start_and_stops_at_end() {
    let mut t = timing("rate(10 minutes)", "UTC");
    let c = cursor("2030-01-01T00:00:00Z", None);
    // The first fire comes right away.
    assert_eq!(t.next_scheduled(&c), Some(ms("2030-01-01T00:00:00Z")));
    let c = cursor("2030-01-01T00:00:00Z", Some("2030-01-01T00:00:00Z"));
    assert_eq!(t.next_scheduled(&c), Some(ms("2030-01-01T00:10:00Z")));
    // A catch-up fire at 00:37 (recorded as its time) puts the next on the grid: 00:40.
    let c = cursor("2030-01-01T00:00:00Z", Some("2030-01-01T00:37:00Z"));
    assert_eq!(t.next_scheduled(&c), Some(ms("2030-01-01T00:40:00Z")));
    t.start_ms = Some(ms("2030-01-02T00:05:00Z"));
    t.end_ms = Some(ms("2030-01-02T00:20:00Z"));
    let c = cursor("2030-01-01T00:00:00Z", None);
    assert_eq!(t.next_scheduled(&c), Some(ms("2030-01-02T00:05:00Z")));
    let c = cursor("2030-01-01T00:00:00Z", Some("2030-01-02T00:15:00Z"));
    assert_eq!(t.next_scheduled(&c), None, "00:25 is after the EndDate");
}

#[test]
fn cron_respects_start_and_end_dates() {
    let mut t = timing("cron(0 * * * ? *)", "UTC");
    t.start_ms = Some(ms("2030-01-01T05:30:00Z"));
    t.end_ms = Some(ms("2030-01-01T07:00:00Z"));
    let c = cursor("2030-01-01T00:00:00Z", None);
    assert_eq!(t.next_scheduled(&c), Some(ms("2030-01-01T06:00:00Z")));
    let c = cursor("2030-01-01T00:00:00Z", Some("2030-01-01T06:00:00Z"));
    assert_eq!(
        t.next_scheduled(&c),
        Some(ms("2030-01-01T07:00:00Z")),
        "the EndDate itself still fires"
    );
    let c = cursor("2030-01-01T00:00:00Z", Some("2030-01-01T07:00:00Z"));
    assert_eq!(t.next_scheduled(&c), None);
}

#[test]
fn a_flexible_window_delays_within_it_and_the_same_way_twice() {
    let mut t = timing("rate(1 hour)", "UTC");
    t.window_minutes = Some(15);
    let at = ms("2030-01-01T00:00:00Z");
    let due = t.due("default/a", at);
    assert!((at..at + 15 * 60_000).contains(&due));
    assert_eq!(
        due,
        t.due("default/a", at),
        "a restart picks the same point"
    );
    let spread: std::collections::BTreeSet<i64> = (0..20)
        .map(|i| t.due(&format!("default/s{i}"), at) - at)
        .collect();
    assert!(
        spread.len() > 10,
        "delays differ between schedules: {spread:?}"
    );
}
