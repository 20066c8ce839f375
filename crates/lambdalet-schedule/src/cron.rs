//! AWS's six-field cron expressions, `cron(minutes hours day-of-month month day-of-week year)`,
//! parsed into sets of values (EventBridge Scheduler's syntax; see `docs/schedules.md`):
//!
//! | field | values | wildcards |
//! |---|---|---|
//! | minutes | 0-59 | `, - * /` |
//! | hours | 0-23 | `, - * /` |
//! | day-of-month | 1-31 | `, - * ? / L W` (`L`, `LW`, `15W`) |
//! | month | 1-12, JAN-DEC | `, - * /` |
//! | day-of-week | 1-7 (1 = SUN), SUN-SAT | `, - * ? L #` (`6L`, `2#1`) |
//! | year | 1970-2199 | `, - * /` |
//!
//! Exactly one of day-of-month and day-of-week is `?`. The next matching time in a time zone
//! is `cron_next.rs`'s.

use crate::expr::ExprError;

/// A parsed cron expression: the values each field matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// Bit `m` for minute `m` (0-59).
    pub(crate) minutes: u64,
    /// Bit `h` for hour `h` (0-23).
    pub(crate) hours: u32,
    pub(crate) days: Days,
    /// Bit `m` for month `m` (1-12).
    pub(crate) months: u16,
    /// Bit `y - 1970` for year `y` (1970-2199).
    pub(crate) years: [u64; 4],
}

/// Which days match: by day of the month or by day of the week (the other is `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Days {
    /// Bit `d` for day `d` of the month (1-31).
    OfMonth(u32),
    /// `L`: the last day of the month.
    LastOfMonth,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekdayOfMonth,
    /// `15W`: the weekday nearest the 15th, within the month.
    NearestWeekday(u8),
    /// Bit `d` for weekday `d` (1 = Sunday ... 7 = Saturday).
    OfWeek(u8),
    /// `5L`: the last Thursday of the month (`L` alone: the last Saturday).
    LastOfWeek(u8),
    /// `6#3`: the third Friday of the month.
    NthOfWeek { weekday: u8, n: u8 },
}

pub(crate) const FIRST_YEAR: i16 = 1970;
pub(crate) const LAST_YEAR: i16 = 2199;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One field's rules.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// A range may wrap around (`FRI-MON`, `22-2`); not for years.
    cyclic: bool,
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    cyclic: true,
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    cyclic: true,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    cyclic: true,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTHS,
    cyclic: true,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &WEEKDAYS,
    cyclic: true,
};
const YEAR: Field = Field {
    name: "year",
    min: FIRST_YEAR as u32,
    max: LAST_YEAR as u32,
    names: &[],
    cyclic: false,
};

impl Cron {
    /// Parses the inside of `cron(...)`: six fields separated by spaces.
    pub fn parse(body: &str) -> Result<Self, ExprError> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return Err(ExprError(format!(
                "cron() takes six fields, minutes hours day-of-month month day-of-week year (got {}): for example cron(0 12 * * ? *) for 12:00 every day",
                fields.len()
            )));
        };
        let days = match (dom, dow) {
            ("?", "?") => {
                return Err(ExprError(
                    "only one of day-of-month and day-of-week can be ?: give the other, e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)".to_owned(),
                ));
            }
            (dom, "?") => day_of_month(dom)?,
            ("?", dow) => day_of_week(dow)?,
            _ => {
                return Err(ExprError(format!(
                    "one of day-of-month ({dom}) and day-of-week ({dow}) must be ?: cron(0 12 {dom} * ? *) runs on those days of the month, cron(0 12 ? * {dow} *) on those days of the week"
                )));
            }
        };
        // Years do not fit one integer (230 values): four words.
        let mut years = [0u64; 4];
        for (i, ok) in values(&YEAR, year)?.into_iter().enumerate() {
            if ok {
                years[i / 64] |= 1 << (i % 64);
            }
        }
        Ok(Self {
            minutes: set(&MINUTES, minutes)? as u64,
            hours: set(&HOURS, hours)? as u32,
            days,
            months: set(&MONTH, month)? as u16,
            years,
        })
    }

    pub(crate) fn has_year(&self, year: i16) -> bool {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return false;
        }
        let i = (year - FIRST_YEAR) as usize;
        self.years[i / 64] & (1 << (i % 64)) != 0
    }

    pub(crate) fn has_month(&self, month: i8) -> bool {
        self.months & (1 << month) != 0
    }
}

/// A field's values as a bit set (bit `v` for value `v`; not for years).
fn set(field: &Field, text: &str) -> Result<u128, ExprError> {
    let mut bits = 0u128;
    for (i, ok) in values(field, text)?.into_iter().enumerate() {
        if ok {
            bits |= 1 << (i as u32 + field.min);
        }
    }
    Ok(bits)
}

/// Which of the field's values (from `min`) the text selects.
fn values(field: &Field, text: &str) -> Result<Vec<bool>, ExprError> {
    let span = (field.max - field.min + 1) as usize;
    let mut out = vec![false; span];
    if text.is_empty() {
        return Err(bad(field, text, "it is empty"));
    }
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().ok().filter(|s| *s >= 1).ok_or_else(|| {
                    bad(field, item, "the step after / must be a positive number")
                })?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (from, to) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(field, a)?, value(field, b)?)
        } else {
            let v = value(field, range)?;
            // `a/step` runs from a to the field's end.
            (v, if step.is_some() { field.max } else { v })
        };
        let sequence: Vec<u32> = if from <= to {
            (from..=to).collect()
        } else if field.cyclic {
            (from..=field.max).chain(field.min..=to).collect()
        } else {
            return Err(bad(
                field,
                item,
                "a range must go from the smaller value to the larger",
            ));
        };
        for v in sequence.into_iter().step_by(step.unwrap_or(1) as usize) {
            out[(v - field.min) as usize] = true;
        }
    }
    Ok(out)
}

/// One value: a number or (months, weekdays) a three-letter name.
fn value(field: &Field, text: &str) -> Result<u32, ExprError> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = field.names.iter().position(|n| *n == upper) {
        return Ok(i as u32 + field.min);
    }
    let v: u32 = text.parse().map_err(|_| {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(
                " or {}-{}",
                field.names[0],
                field.names[field.names.len() - 1]
            )
        };
        bad(
            field,
            text,
            &format!("use numbers {}-{}{names}", field.min, field.max),
        )
    })?;
    if !(field.min..=field.max).contains(&v) {
        return Err(bad(
            field,
            text,
            &format!("it must be between {} and {}", field.min, field.max),
        ));
    }
    Ok(v)
}

fn day_of_month(text: &str) -> Result<Days, ExprError> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "L" => return Ok(Days::LastOfMonth),
        "LW" | "WL" => return Ok(Days::LastWeekdayOfMonth),
        _ => {}
    }
    if let Some(day) = upper.strip_suffix('W') {
        let d = value(&DAY_OF_MONTH, day).map_err(|_| {
            bad(
                &DAY_OF_MONTH,
                text,
                "W follows one day of the month, like 15W (the weekday nearest the 15th) or LW",
            )
        })?;
        return Ok(Days::NearestWeekday(d as u8));
    }
    if upper.contains(['L', 'W', '#']) {
        return Err(bad(
            &DAY_OF_MONTH,
            text,
            "L, LW and W stand alone (L, LW, 15W), and # belongs in day-of-week",
        ));
    }
    Ok(Days::OfMonth(set(&DAY_OF_MONTH, text)? as u32))
}

fn day_of_week(text: &str) -> Result<Days, ExprError> {
    let upper = text.to_ascii_uppercase();
    if upper == "L" {
        return Ok(Days::LastOfWeek(7));
    }
    if let Some((day, n)) = upper.split_once('#') {
        let weekday = value(&DAY_OF_WEEK, day)? as u8;
        let n: u8 = n
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| {
                bad(
                    &DAY_OF_WEEK,
                    text,
                    "after # comes which one in the month, 1 to 5 (2#1: the first Monday)",
                )
            })?;
        if text.contains(',') {
            return Err(bad(&DAY_OF_WEEK, text, "a # expression stands alone"));
        }
        return Ok(Days::NthOfWeek { weekday, n });
    }
    if let Some(day) = upper.strip_suffix('L') {
        let weekday = value(&DAY_OF_WEEK, day).map_err(|_| {
            bad(
                &DAY_OF_WEEK,
                text,
                "L follows one day of the week, like 6L (the last Friday of the month), or stands alone",
            )
        })?;
        return Ok(Days::LastOfWeek(weekday as u8));
    }
    if upper.contains(['L', 'W']) && WEEKDAYS.iter().all(|w| !upper.contains(w)) {
        return Err(bad(
            &DAY_OF_WEEK,
            text,
            "W belongs in day-of-month, and L stands alone or after one day (6L)",
        ));
    }
    Ok(Days::OfWeek(set(&DAY_OF_WEEK, text)? as u8))
}

fn bad(field: &Field, text: &str, why: &str) -> ExprError {
    ExprError(format!(
        "the {} field {text:?} is not valid: {why}",
        field.name
    ))
}
