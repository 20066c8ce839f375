//! Timestamps in the formats the Lambda APIs use.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::macros::format_description;

/// `LastModified` format of the management API: `2024-05-01T12:00:00.000+0000`.
pub fn last_modified(t: SystemTime) -> String {
    let dt = OffsetDateTime::from(t);
    let f = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    dt.format(&f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000+0000".to_owned())
}

/// RFC 3339 with milliseconds and `Z`, used in invocation records and log timestamps.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let dt = OffsetDateTime::from(t);
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    dt.format(&f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Milliseconds since the Unix epoch.
pub fn epoch_millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_aws() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(last_modified(t), "2023-11-14T22:13:20.123+0000");
        assert_eq!(rfc3339_millis(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(epoch_millis(t), 1_700_000_000_123);
    }
}
