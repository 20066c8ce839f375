//! A schedule as CreateSchedule and UpdateSchedule give it (the Scheduler API's JSON body) and
//! as lambdalet keeps it once checked ([`Definition`], stored as JSON).

use jiff::tz::TimeZone;
use lambdalet_core::{AccountInfo, FunctionRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ScheduleError;
use crate::expr::{ExprError, Expression};
use crate::timing::Timing;

/// Retry attempts and event age of a target without a `RetryPolicy` (Scheduler's defaults).
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 185;
pub const DEFAULT_MAX_EVENT_AGE_SECS: u32 = 86_400;

/// The body of CreateSchedule and UpdateSchedule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleInput {
    pub schedule_expression: Option<String>,
    pub schedule_expression_timezone: Option<String>,
    pub flexible_time_window: Option<FlexibleTimeWindow>,
    pub target: Option<TargetInput>,
    pub group_name: Option<String>,
    /// Seconds since the epoch (the JSON protocol's timestamps).
    pub start_date: Option<f64>,
    pub end_date: Option<f64>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub kms_key_arn: Option<String>,
    pub client_token: Option<String>,
    pub action_after_completion: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    pub mode: Option<String>,
    pub maximum_window_in_minutes: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetInput {
    pub arn: Option<String>,
    pub role_arn: Option<String>,
    pub input: Option<String>,
    pub retry_policy: Option<RetryPolicy>,
    pub dead_letter_config: Option<DeadLetterConfig>,
    pub ecs_parameters: Option<Value>,
    pub event_bridge_parameters: Option<Value>,
    pub kinesis_parameters: Option<Value>,
    pub sage_maker_pipeline_parameters: Option<Value>,
    pub sqs_parameters: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    pub arn: Option<String>,
}

/// A checked schedule, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    pub expression: String,
    pub timezone: String,
    /// `FLEXIBLE` with this many minutes; `None`: `OFF`.
    pub flexible_window_minutes: Option<u32>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub description: Option<String>,
    pub enabled: bool,
    /// `ActionAfterCompletion: DELETE`.
    pub delete_after_completion: bool,
    pub kms_key_arn: Option<String>,
    pub client_token: Option<String>,
    pub target: Target,
}

/// A checked target: a function of this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub arn: String,
    pub role_arn: String,
    pub input: Option<String>,
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_in_seconds: u32,
    pub dead_letter_arn: Option<String>,
}

impl Definition {
    /// The expression and zone in their parsed form.
    pub fn timing(&self) -> Result<Timing, ExprError> {
        Ok(Timing {
            expression: Expression::parse(&self.expression)?,
            tz: time_zone(&self.timezone)?,
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            window_minutes: self.flexible_window_minutes,
        })
    }

    /// The function the target invokes.
    pub fn function(&self) -> Option<FunctionRef> {
        FunctionRef::parse(&self.target.arn).ok()
    }
}

/// A schedule or group name: `[0-9a-zA-Z-_.]{1,64}`.
pub fn check_name(what: &str, name: &str) -> Result<(), ScheduleError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ScheduleError::Validation(format!(
            "{what} {name:?} is not valid: use 1 to 64 letters, digits, '-', '_' and '.'"
        )))
    }
}

/// An IANA time zone name.
pub fn time_zone(name: &str) -> Result<TimeZone, ExprError> {
    TimeZone::get(name).map_err(|_| {
        ExprError(format!(
            "Invalid time zone {name:?}: use an IANA time zone name such as UTC, Europe/Berlin or America/New_York"
        ))
    })
}

/// A client token: `[a-zA-Z0-9-_]{1,64}`.
pub fn check_client_token(token: Option<&str>) -> Result<(), ScheduleError> {
    match token {
        Some(t)
            if t.is_empty()
                || t.len() > 64
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) =>
        {
            Err(ScheduleError::Validation(format!(
                "ClientToken {t:?} is not valid: use 1 to 64 letters, digits, '-' and '_'"
            )))
        }
        _ => Ok(()),
    }
}

/// What checking a schedule yields.
#[derive(Debug)]
pub struct Checked {
    pub definition: Definition,
    pub timing: Timing,
    /// The function the target names (its existence is the caller's to check).
    pub function: FunctionRef,
    /// The dead-letter target, when it is a function (likewise).
    pub dead_letter_function: Option<FunctionRef>,
}

pub(crate) fn invalid(message: impl Into<String>) -> ScheduleError {
    ScheduleError::Validation(message.into())
}

/// Checks a CreateSchedule or UpdateSchedule body; `now_ms` bounds the dates.
pub fn check(
    input: ScheduleInput,
    account: &AccountInfo,
    now_ms: i64,
) -> Result<Checked, ScheduleError> {
    let expression = input.schedule_expression.ok_or_else(|| {
        invalid("ScheduleExpression is required: at(...), rate(...) or cron(...)")
    })?;
    if expression.is_empty() || expression.len() > 256 {
        return Err(invalid("ScheduleExpression must be 1 to 256 characters"));
    }
    let timezone = input
        .schedule_expression_timezone
        .unwrap_or_else(|| "UTC".to_owned());
    let window = input.flexible_time_window.ok_or_else(|| {
        invalid("FlexibleTimeWindow is required: {\"Mode\": \"OFF\"}, or {\"Mode\": \"FLEXIBLE\", \"MaximumWindowInMinutes\": N}")
    })?;
    let flexible_window_minutes = match (window.mode.as_deref(), window.maximum_window_in_minutes) {
        (Some("OFF"), None) => None,
        (Some("OFF"), Some(_)) => {
            return Err(invalid(
                "MaximumWindowInMinutes is only for Mode FLEXIBLE: drop it, or use Mode FLEXIBLE",
            ));
        }
        (Some("FLEXIBLE"), Some(m)) if (1..=1440).contains(&m) => Some(m as u32),
        (Some("FLEXIBLE"), Some(m)) => {
            return Err(invalid(format!(
                "MaximumWindowInMinutes must be between 1 and 1440 (got {m})"
            )));
        }
        (Some("FLEXIBLE"), None) => {
            return Err(invalid(
                "Mode FLEXIBLE needs MaximumWindowInMinutes (1 to 1440)",
            ));
        }
        (mode, _) => {
            return Err(invalid(format!(
                "FlexibleTimeWindow.Mode must be OFF or FLEXIBLE (got {})",
                mode.unwrap_or("nothing")
            )));
        }
    };
    let enabled = match input.state.as_deref() {
        None | Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(s) => {
            return Err(invalid(format!(
                "State must be ENABLED or DISABLED (got {s})"
            )));
        }
    };
    let delete_after_completion = match input.action_after_completion.as_deref() {
        None | Some("NONE") => false,
        Some("DELETE") => true,
        Some(s) => {
            return Err(invalid(format!(
                "ActionAfterCompletion must be NONE or DELETE (got {s})"
            )));
        }
    };
    if let Some(d) = &input.description
        && d.chars().count() > 512
    {
        return Err(invalid("Description must be at most 512 characters"));
    }
    if let Some(k) = &input.kms_key_arn
        && (k.is_empty() || k.len() > 2048 || !k.starts_with("arn:"))
    {
        return Err(invalid(format!("KmsKeyArn {k:?} is not a KMS key ARN")));
    }
    check_client_token(input.client_token.as_deref())?;
    let start_ms = date_ms("StartDate", input.start_date)?;
    let end_ms = date_ms("EndDate", input.end_date)?;
    if let Some(s) = start_ms
        && s < now_ms - 5 * 60_000
    {
        return Err(invalid(
            "The StartDate you specify cannot be earlier than 5 minutes ago: leave it out to start now",
        ));
    }
    if let Some(e) = end_ms {
        if e <= now_ms {
            return Err(invalid(
                "The EndDate you specify cannot be in the past: the schedule would never run",
            ));
        }
        if start_ms.is_some_and(|s| e <= s) {
            return Err(invalid("EndDate must be later than StartDate"));
        }
    }
    let (target, function, dead_letter_function) =
        crate::target::check_target(input.target, account)?;
    let definition = Definition {
        expression,
        timezone,
        flexible_window_minutes,
        start_ms,
        end_ms,
        description: input.description,
        enabled,
        delete_after_completion,
        kms_key_arn: input.kms_key_arn,
        client_token: input.client_token,
        target,
    };
    let timing = definition.timing()?;
    Ok(Checked {
        definition,
        timing,
        function,
        dead_letter_function,
    })
}

fn date_ms(what: &str, seconds: Option<f64>) -> Result<Option<i64>, ScheduleError> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && (0.0..=7_258_118_400.0).contains(&s) => {
            Ok(Some((s * 1000.0).round() as i64))
        }
        Some(s) => Err(invalid(format!(
            "{what} {s} is not a date between 1970 and 2199"
        ))),
    }
}
