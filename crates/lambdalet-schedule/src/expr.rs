//! Schedule expressions: `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` and
//! `cron(minutes hours day-of-month month day-of-week year)`.

use jiff::civil::DateTime;

use crate::cron::Cron;

/// Why an expression (or a time zone) is not valid; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// Once, at this wall-clock time in the schedule's time zone.
    At(DateTime),
    /// Every so many milliseconds (minutes, hours or days of fixed length: a day is 24 hours
    /// whatever daylight saving does).
    Rate { every_ms: i64 },
    /// At the times a cron expression matches in the schedule's time zone.
    Cron(Box<Cron>),
}

const FORMS: &str = "use at(yyyy-mm-ddThh:mm:ss), rate(value unit) with a unit of minute(s), hour(s) or day(s), or cron(minutes hours day-of-month month day-of-week year)";

impl Expression {
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        let t = text.trim();
        let inner = |prefix: &str| {
            t.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
        };
        let parsed = if let Some(body) = inner("at(") {
            at(body).map(Self::At)
        } else if let Some(body) = inner("rate(") {
            rate(body).map(|every_ms| Self::Rate { every_ms })
        } else if let Some(body) = inner("cron(") {
            Cron::parse(body).map(|c| Self::Cron(Box::new(c)))
        } else {
            Err(ExprError(FORMS.to_owned()))
        };
        parsed.map_err(|e| ExprError(format!("Invalid Schedule Expression {text}: {}", e.0)))
    }

    /// Whether the schedule fires once (`at()`).
    pub fn is_one_time(&self) -> bool {
        matches!(self, Self::At(_))
    }
}

/// `yyyy-mm-ddThh:mm:ss`, exactly.
fn at(body: &str) -> Result<DateTime, ExprError> {
    let b = body.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(ExprError(format!(
            "at() takes a date and time as yyyy-mm-ddThh:mm:ss, like at(2030-01-31T09:30:00) (got {body:?})"
        )));
    }
    let n = |r: std::ops::Range<usize>| body[r].parse::<i16>().unwrap_or(-1);
    DateTime::new(
        n(0..4),
        n(5..7) as i8,
        n(8..10) as i8,
        n(11..13) as i8,
        n(14..16) as i8,
        n(17..19) as i8,
        0,
    )
    .map_err(|e| ExprError(format!("at({body}) is not a valid date and time: {e}")))
}

/// `value unit`: a positive whole number of minutes, hours or days.
fn rate(body: &str) -> Result<i64, ExprError> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ExprError(format!(
            "rate() takes a value and a unit, like rate(5 minutes) or rate(1 hour) (got {body:?})"
        )));
    };
    let value: i64 = value.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
        ExprError(format!(
            "the rate's value {value:?} must be a positive whole number"
        ))
    })?;
    let unit_ms: i64 = match unit {
        "minute" | "minutes" => 60_000,
        "hour" | "hours" => 3_600_000,
        "day" | "days" => 86_400_000,
        _ => {
            return Err(ExprError(format!(
                "the rate's unit {unit:?} must be minute, minutes, hour, hours, day or days"
            )));
        }
    };
    value
        .checked_mul(unit_ms)
        .filter(|ms| *ms <= 100 * 365 * 86_400_000)
        .ok_or_else(|| ExprError(format!("rate({body}) is too long: at most 100 years")))
}
