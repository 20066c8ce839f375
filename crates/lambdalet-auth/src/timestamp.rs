//! SigV4's timestamps: ISO 8601 basic format in UTC, `20150830T123600Z`.
//!
//! Only the exact 16-character form SigV4 signs is accepted; this module must not
//! guess at other date formats, since the string is signed byte for byte.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses `YYYYMMDDTHHMMSSZ`; `None` for anything else.
pub(crate) fn parse(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = s.get(from..to)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(4, 6)?).ok()?).ok()?;
    let day = u8::try_from(num(6, 8)?).ok()?;
    let hour = u8::try_from(num(9, 11)?).ok()?;
    let minute = u8::try_from(num(11, 13)?).ok()?;
    let second = u8::try_from(num(13, 15)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Formats `at` (in any offset) as `YYYYMMDDTHHMMSSZ` in UTC.
pub(crate) fn format(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips() {
        let at = datetime!(2015-08-30 12:36:00 UTC);
        assert_eq!(format(at), "20150830T123600Z");
        assert_eq!(parse("20150830T123600Z"), Some(at));
        assert_eq!(
            format(datetime!(2015-08-30 14:36:00 +02:00)),
            "20150830T123600Z"
        );
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T1236ሴZ",
            "20150830X123600Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
