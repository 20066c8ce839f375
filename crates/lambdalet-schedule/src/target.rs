//! A schedule's target: a function of this node, with its input, retry policy and dead-letter
//! destination.

use lambdalet_core::{AccountInfo, Destination, FunctionRef};
use serde_json::Value;

use crate::definition::{
    DEFAULT_MAX_EVENT_AGE_SECS, DEFAULT_MAX_RETRY_ATTEMPTS, Target, TargetInput, invalid,
};
use crate::error::ScheduleError;

pub(crate) fn check_target(
    target: Option<TargetInput>,
    account: &AccountInfo,
) -> Result<(Target, FunctionRef, Option<FunctionRef>), ScheduleError> {
    let t = target.ok_or_else(|| {
        invalid("Target is required: {\"Arn\": FUNCTION_ARN, \"RoleArn\": ROLE_ARN}")
    })?;
    if t.ecs_parameters.is_some()
        || t.event_bridge_parameters.is_some()
        || t.kinesis_parameters.is_some()
        || t.sage_maker_pipeline_parameters.is_some()
        || t.sqs_parameters.is_some()
    {
        return Err(invalid(
            "lambdalet's schedules invoke Lambda functions only: drop the ECS, EventBridge, Kinesis, SageMaker and SQS parameters",
        ));
    }
    let arn = t
        .arn
        .ok_or_else(|| invalid("Target.Arn is required: the ARN of a function"))?;
    let function = function_of(&arn, account)?;
    let role_arn = t.role_arn.ok_or_else(|| {
        invalid("Target.RoleArn is required (any role ARN, like arn:aws:iam::000000000000:role/scheduler; lambdalet does not assume it)")
    })?;
    if !role_arn_ok(&role_arn) {
        return Err(invalid(format!(
            "Target.RoleArn {role_arn:?} is not a role ARN: use arn:aws:iam::ACCOUNT:role/NAME (12-digit ACCOUNT)"
        )));
    }
    if let Some(input) = &t.input {
        if input.is_empty() {
            return Err(invalid(
                "Target.Input must not be empty: leave it out to send {}",
            ));
        }
        if input.len() > lambdalet_core::limits::MAX_ASYNC_PAYLOAD_BYTES {
            return Err(invalid(format!(
                "Target.Input is {} bytes; an asynchronous invocation takes at most {}",
                input.len(),
                lambdalet_core::limits::MAX_ASYNC_PAYLOAD_BYTES
            )));
        }
        if let Err(e) = serde_json::from_str::<Value>(input) {
            return Err(invalid(format!(
                "Target.Input must be well-formed JSON for a Lambda target: {e}"
            )));
        }
    }
    let retry = t.retry_policy.unwrap_or_default();
    let attempts = retry
        .maximum_retry_attempts
        .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS.into());
    if !(0..=185).contains(&attempts) {
        return Err(invalid(format!(
            "RetryPolicy.MaximumRetryAttempts must be between 0 and 185 (got {attempts})"
        )));
    }
    let age = retry
        .maximum_event_age_in_seconds
        .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECS.into());
    if !(60..=86_400).contains(&age) {
        return Err(invalid(format!(
            "RetryPolicy.MaximumEventAgeInSeconds must be between 60 and 86400 (got {age})"
        )));
    }
    let dead_letter_arn = t.dead_letter_config.and_then(|d| d.arn);
    let mut dead_letter_function = None;
    if let Some(d) = &dead_letter_arn {
        match Destination::parse(d) {
            Ok(Destination::Function { target, .. }) => {
                dead_letter_function = Some(function_of(d, account).map(|_| target)?);
            }
            Ok(_) => {}
            Err(_) => {
                return Err(invalid(format!(
                    "DeadLetterConfig.Arn {d:?} is not a target lambdalet has (no SQS here): use a function's ARN, topic:NAME for a local topic or mqtt:NAME for an MQTT topic"
                )));
            }
        }
    }
    Ok((
        Target {
            arn,
            role_arn,
            input: t.input,
            maximum_retry_attempts: attempts as u32,
            maximum_event_age_in_seconds: age as u32,
            dead_letter_arn,
        },
        function,
        dead_letter_function,
    ))
}

/// The function a full Lambda ARN of this node names.
fn function_of(arn: &str, account: &AccountInfo) -> Result<FunctionRef, ScheduleError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.get(2) == Some(&"scheduler") {
        return Err(invalid(format!(
            "{arn} is a universal target; lambdalet's schedules invoke functions: give the function's ARN (arn:aws:lambda:{}:{}:function:NAME)",
            account.region, account.account_id
        )));
    }
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
        return Err(invalid(format!(
            "{arn} is not a Lambda function ARN: lambdalet's schedules invoke its functions, arn:aws:lambda:{}:{}:function:NAME[:QUALIFIER]",
            account.region, account.account_id
        )));
    }
    if parts[3] != account.region || parts[4] != account.account_id {
        return Err(invalid(format!(
            "{arn} names a function of another region or account: this lambdalet is {} in account {} (arn:aws:lambda:{}:{}:function:NAME)",
            account.region, account.account_id, account.region, account.account_id
        )));
    }
    FunctionRef::parse(arn).map_err(|e| invalid(e.message))
}

/// `arn:aws[-x]:iam::<12 digits>:role/<path and name>`.
fn role_arn_ok(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_alphanumeric() || "_+=,.@/-".contains(c))
        })
}
