//! The event a fire sends: the target's `Input` (or `{}`) with Scheduler's context attributes
//! put in.

/// `input` with `<aws.scheduler.schedule-arn>`, `<aws.scheduler.scheduled-time>`,
/// `<aws.scheduler.execution-id>` and `<aws.scheduler.attempt-number>` replaced. The attempt
/// number is always 1: the event is made once, when the schedule fires, and its retries (by
/// the async queue) carry the same payload.
pub fn render(
    input: Option<&str>,
    schedule_arn: &str,
    scheduled_ms: i64,
    execution_id: &str,
) -> String {
    let Some(input) = input else {
        return "{}".to_owned();
    };
    if !input.contains("<aws.scheduler.") {
        return input.to_owned();
    }
    input
        .replace("<aws.scheduler.schedule-arn>", schedule_arn)
        .replace(
            "<aws.scheduler.scheduled-time>",
            &scheduled_time(scheduled_ms),
        )
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", "1")
}

/// `2030-01-31T09:30:00Z`.
pub fn scheduled_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_attributes_are_put_in() {
        assert_eq!(render(None, "arn", 0, "x"), "{}");
        assert_eq!(
            render(
                Some(
                    r#"{"arn":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>","id":"<aws.scheduler.execution-id>","n":<aws.scheduler.attempt-number>}"#
                ),
                "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
                1_900_000_000_000,
                "e-1",
            ),
            r#"{"arn":"arn:aws:scheduler:us-east-1:000000000000:schedule/default/s","at":"2030-03-17T17:46:40Z","id":"e-1","n":1}"#
        );
    }
}
