//! What `lambdalet top` shows: the daemon's overview (`GET /lambdalet/v1/overview`), rates
//! computed from two of them, and the table's rows, sorted and formatted. Nothing here draws or
//! talks to the daemon, so all of it is tested without either.

use clap::ValueEnum;
use serde::Deserialize;

/// The table's columns, in order: the interactive view, `--once` and `--output table|text`.
pub const HEADER: [&str; 12] = [
    "FUNCTION",
    "RUNTIME",
    "STATE",
    "INV/S",
    "ERR/S",
    "THR/S",
    "P50",
    "P99",
    "RUN",
    "SANDBOXES",
    "QUEUED",
    "INV (1 h)",
];

/// One answer of `GET /lambdalet/v1/overview`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Overview {
    /// The daemon's clock when it answered, milliseconds since the epoch.
    pub time_ms: u64,
    /// Invocations running now, over all functions.
    pub in_flight: u64,
    /// Every function, by name.
    pub functions: Vec<Function>,
}

/// One function of an [`Overview`]. The counters are cumulative since the daemon started,
/// summed over the function's versions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Function {
    /// The function's name.
    pub function: String,
    /// `python3.11`, or `Image` for a container image.
    pub runtime: String,
    /// `Active` or `Failed`.
    pub state: String,
    /// Kept running (Greengrass's pinned lifecycle).
    pub pinned: bool,
    /// Invocations that ran, successfully or not.
    pub invocations: u64,
    /// Invocations that ended in a function error.
    pub errors: u64,
    /// Invocations refused for concurrency.
    pub throttles: u64,
    /// Invocations that started a new sandbox.
    pub cold_starts: u64,
    /// Invocations running now.
    pub concurrent: u64,
    pub sandboxes: Sandboxes,
    pub last_minute: LastMinute,
    pub last_hour: LastHour,
}

/// A function's sandboxes now, over its versions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Sandboxes {
    pub idle: u64,
    pub busy: u64,
    pub starting: u64,
    /// Invocations waiting for a sandbox.
    pub queued: u64,
}

/// The current minute of a function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LastMinute {
    pub invocations: u64,
    /// Median duration of the invocations that ended in the minute (none: no invocation).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The last 60 minutes of a function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LastHour {
    pub invocations: u64,
    pub errors: u64,
}

/// Per-second rates of a function between two overviews; `None` where they cannot be known
/// (the first overview, a function that just appeared, a daemon that restarted).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub invocations: Option<f64>,
    pub errors: Option<f64>,
    pub throttles: Option<f64>,
}

/// `--sort`: the order of the table's rows (`s` cycles through them in this order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Sort {
    /// Invocations per second, highest first.
    #[default]
    Rate,
    /// Errors per second, highest first.
    Errors,
    /// Function name, A to Z.
    Name,
    /// The current minute's p99 duration, slowest first.
    P99,
    /// Sandboxes alive (idle, busy and starting), most first.
    Sandboxes,
}

impl Sort {
    /// The next order, for the `s` key.
    pub fn next(self) -> Self {
        match self {
            Sort::Rate => Sort::Errors,
            Sort::Errors => Sort::Name,
            Sort::Name => Sort::P99,
            Sort::P99 => Sort::Sandboxes,
            Sort::Sandboxes => Sort::Rate,
        }
    }

    /// The name `--sort` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Rate => "rate",
            Sort::Errors => "errors",
            Sort::Name => "name",
            Sort::P99 => "p99",
            Sort::Sandboxes => "sandboxes",
        }
    }
}

/// Events per second between a counter's two readings `seconds` apart; `None` when the time
/// did not move forward or the counter went back (the daemon restarted, the function was
/// recreated).
pub fn rate(before: u64, after: u64, seconds: f64) -> Option<f64> {
    if seconds <= 0.0 || after < before {
        return None;
    }
    Some((after - before) as f64 / seconds)
}

/// The rates of each function of `now` (in its order) since `before`.
pub fn rates(before: Option<&Overview>, now: &Overview) -> Vec<Rates> {
    now.functions
        .iter()
        .map(|f| {
            let Some(before) = before else {
                return Rates::default();
            };
            let Some(b) = before.functions.iter().find(|b| b.function == f.function) else {
                return Rates::default();
            };
            let seconds = now.time_ms.saturating_sub(before.time_ms) as f64 / 1000.0;
            Rates {
                invocations: rate(b.invocations, f.invocations, seconds),
                errors: rate(b.errors, f.errors, seconds),
                throttles: rate(b.throttles, f.throttles, seconds),
            }
        })
        .collect()
}

/// Invocations per second over all functions; `None` when no function's rate is known.
pub fn total_rate(rates: &[Rates]) -> Option<f64> {
    rates
        .iter()
        .filter_map(|r| r.invocations)
        .fold(None, |sum, r| Some(sum.unwrap_or(0.0) + r))
}

/// One row of the table: a function and its rates.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub function: &'a Function,
    pub rates: Rates,
}

impl Row<'_> {
    /// Sandboxes alive: idle, busy and starting.
    pub fn alive(&self) -> u64 {
        let s = &self.function.sandboxes;
        s.idle + s.busy + s.starting
    }

    /// The row's cells, under [`HEADER`].
    pub fn cells(&self) -> [String; 12] {
        let f = self.function;
        [
            f.function.clone(),
            f.runtime.clone(),
            f.state.clone(),
            per_second(self.rates.invocations),
            per_second(self.rates.errors),
            per_second(self.rates.throttles),
            millis(f.last_minute.p50_ms),
            millis(f.last_minute.p99_ms),
            f.concurrent.to_string(),
            format!(
                "{}/{}/{}",
                f.sandboxes.idle, f.sandboxes.busy, f.sandboxes.starting
            ),
            f.sandboxes.queued.to_string(),
            f.last_hour.invocations.to_string(),
        ]
    }
}

/// The functions of `now` with their `rates` (as [`rates`] gives them), in the `sort` order;
/// ties go by name.
pub fn sorted<'a>(now: &'a Overview, rates: &[Rates], sort: Sort) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = now
        .functions
        .iter()
        .zip(
            rates
                .iter()
                .copied()
                .chain(std::iter::repeat(Rates::default())),
        )
        .map(|(function, rates)| Row { function, rates })
        .collect();
    // Unknown rates and durations sort below every known one.
    let key = |v: Option<f64>| v.unwrap_or(-1.0);
    rows.sort_by(|a, b| {
        let (fa, fb) = (a.function, b.function);
        let first = match sort {
            Sort::Rate => key(b.rates.invocations)
                .total_cmp(&key(a.rates.invocations))
                .then(fb.last_minute.invocations.cmp(&fa.last_minute.invocations)),
            Sort::Errors => key(b.rates.errors)
                .total_cmp(&key(a.rates.errors))
                .then(fb.last_hour.errors.cmp(&fa.last_hour.errors)),
            Sort::Name => std::cmp::Ordering::Equal,
            Sort::P99 => key(fb.last_minute.p99_ms).total_cmp(&key(fa.last_minute.p99_ms)),
            Sort::Sandboxes => b.alive().cmp(&a.alive()),
        };
        first.then_with(|| fa.function.cmp(&fb.function))
    });
    rows
}

/// A rate as a cell: `5.0`, `0.05` for a slow one, `-` when unknown.
pub fn per_second(r: Option<f64>) -> String {
    match r {
        None => "-".to_owned(),
        Some(r) if r > 0.0 && r < 0.1 => format!("{r:.2}"),
        Some(r) => format!("{r:.1}"),
    }
}

/// A duration as a cell: `1.5ms`, `120ms`, `2.3s`, `-` when there is none.
pub fn millis(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 10.0 => format!("{ms:.1}ms"),
        Some(ms) if ms < 1000.0 => format!("{ms:.0}ms"),
        Some(ms) => format!("{:.1}s", ms / 1000.0),
    }
}

/// The time of day of `time_ms` (milliseconds since the epoch), `HH:MM:SS UTC`.
pub fn clock(time_ms: u64) -> String {
    let s = (time_ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A function with these cumulative invocations and errors.
    pub(crate) fn function(name: &str, invocations: u64, errors: u64) -> Function {
        Function {
            function: name.to_owned(),
            runtime: "python3.11".to_owned(),
            state: "Active".to_owned(),
            invocations,
            errors,
            ..Function::default()
        }
    }

    /// An overview at `time_ms` of these functions.
    pub(crate) fn overview(time_ms: u64, functions: Vec<Function>) -> Overview {
        Overview {
            time_ms,
            in_flight: 0,
            functions,
        }
    }

    #[test]
    fn rates_come_from_two_overviews() {
        let before = overview(10_000, vec![function("a", 10, 0), function("b", 7, 2)]);
        let now = overview(
            12_000,
            vec![
                function("a", 20, 1),
                function("b", 3, 2),
                function("c", 50, 0),
            ],
        );
        assert_eq!(rates(None, &now), vec![Rates::default(); 3]);
        let r = rates(Some(&before), &now);
        assert_eq!(r[0].invocations, Some(5.0));
        assert_eq!(r[0].errors, Some(0.5));
        assert_eq!(r[0].throttles, Some(0.0));
        // b's counter went back: the daemon restarted.
        assert_eq!(r[1].invocations, None);
        assert_eq!(r[1].errors, Some(0.0));
        // c is new: no rate yet.
        assert_eq!(r[2], Rates::default());
        assert_eq!(total_rate(&r), Some(5.0));
        assert_eq!(total_rate(&[Rates::default()]), None);
        assert_eq!(rate(1, 2, 0.0), None);
    }

    #[test]
    fn rows_sort_by_each_key_then_by_name() {
        let mut slow = function("slow", 0, 0);
        slow.last_minute.p99_ms = Some(900.0);
        slow.sandboxes.idle = 3;
        let mut busy = function("busy", 0, 0);
        busy.last_minute.p99_ms = Some(2.0);
        busy.sandboxes.busy = 1;
        let now = overview(0, vec![busy, function("idle", 0, 0), slow]);
        let r = |inv: f64, err: f64| Rates {
            invocations: Some(inv),
            errors: Some(err),
            throttles: Some(0.0),
        };
        let rates = [r(9.0, 0.0), Rates::default(), r(1.0, 0.5)];
        let names = |sort| -> Vec<&str> {
            sorted(&now, &rates, sort)
                .iter()
                .map(|row| row.function.function.as_str())
                .collect()
        };
        assert_eq!(names(Sort::Rate), ["busy", "slow", "idle"]);
        assert_eq!(names(Sort::Errors), ["slow", "busy", "idle"]);
        assert_eq!(names(Sort::Name), ["busy", "idle", "slow"]);
        assert_eq!(names(Sort::P99), ["slow", "busy", "idle"]);
        assert_eq!(names(Sort::Sandboxes), ["slow", "busy", "idle"]);
        let mut s = Sort::Rate;
        for _ in 0..5 {
            s = s.next();
        }
        assert_eq!(s, Sort::Rate);
    }

    #[test]
    fn cells_are_short_and_dashes_when_unknown() {
        let mut f = function("f", 0, 0);
        f.last_minute.p50_ms = Some(1.24);
        f.last_minute.p99_ms = Some(2500.0);
        f.sandboxes = Sandboxes {
            idle: 1,
            busy: 2,
            starting: 0,
            queued: 4,
        };
        let row = Row {
            function: &f,
            rates: Rates {
                invocations: Some(5.0),
                errors: Some(0.04),
                throttles: None,
            },
        };
        let c = row.cells();
        assert_eq!(&c[3..8], ["5.0", "0.04", "-", "1.2ms", "2.5s"]);
        assert_eq!(&c[9..11], ["1/2/0", "4"]);
        assert_eq!(millis(Some(120.4)), "120ms");
        assert_eq!(clock(3_723_000), "01:02:03 UTC");
    }
}
