//! Asynchronous invocation settings (`PutFunctionEventInvokeConfig`) and where results go.

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;
use crate::ids::{FunctionRef, Qualifier};

/// Retry attempts after a function error, by default and at most.
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 2;
/// Oldest an event may get before it is given up, by default and at most (6 h).
pub const DEFAULT_MAX_EVENT_AGE_SECS: u32 = 21_600;
pub const MIN_MAX_EVENT_AGE_SECS: u32 = 60;

/// Where an invocation record is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Another function, invoked asynchronously with the record as its event.
    Function { arn: String, target: FunctionRef },
    /// A topic of lambdalet's local publish/subscribe bus: `topic:NAME`.
    LocalTopic { arn: String, topic: String },
    /// A topic of the MQTT broker (Greengrass's IoT Core): `mqtt:NAME` or an AWS IoT topic ARN
    /// `arn:aws:iot:REGION:ACCOUNT:topic/NAME`.
    MqttTopic { arn: String, topic: String },
}

impl Destination {
    /// Parses a destination: a Lambda function ARN, `topic:NAME` (local pub/sub),
    /// `mqtt:NAME` or `arn:aws:iot:...:topic/NAME` (MQTT). SQS, SNS and EventBridge targets do
    /// not exist on an edge device and are refused with a clear message.
    pub fn parse(arn: &str) -> Result<Self, LambdaError> {
        let service = arn.split(':').nth(2).unwrap_or("");
        if arn.starts_with("arn:") && service == "lambda" {
            let target = FunctionRef::parse(arn)?;
            return Ok(Self::Function {
                arn: arn.to_owned(),
                target,
            });
        }
        let topic = |t: &str| -> Result<String, LambdaError> {
            if t.is_empty() || t.contains(['+', '#']) {
                return Err(LambdaError::invalid(format!(
                    "destination {arn:?} must name one topic, without wildcards"
                )));
            }
            Ok(t.to_owned())
        };
        if let Some(t) = arn.strip_prefix("topic:") {
            return Ok(Self::LocalTopic {
                arn: arn.to_owned(),
                topic: topic(t)?,
            });
        }
        if let Some(t) = arn.strip_prefix("mqtt:") {
            return Ok(Self::MqttTopic {
                arn: arn.to_owned(),
                topic: topic(t)?,
            });
        }
        if arn.starts_with("arn:") && service == "iot" {
            let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
            if let Some(t) = resource.strip_prefix("topic/") {
                return Ok(Self::MqttTopic {
                    arn: arn.to_owned(),
                    topic: topic(t)?,
                });
            }
        }
        Err(LambdaError::invalid(format!(
            "destination {arn:?} is not supported{}: use the ARN of a lambdalet function (arn:aws:lambda:REGION:ACCOUNT:function:NAME), topic:NAME for a local topic, or mqtt:NAME for an MQTT topic",
            if service.is_empty() {
                String::new()
            } else {
                format!(" ({service} is not available on lambdalet)")
            }
        )))
    }

    pub fn arn(&self) -> &str {
        match self {
            Self::Function { arn, .. }
            | Self::LocalTopic { arn, .. }
            | Self::MqttTopic { arn, .. } => arn,
        }
    }
}

/// The stored form of an event-invoke configuration, in AWS's JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    #[serde(default)]
    pub destination_config: DestinationConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<OnDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnDestination>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl EventInvokeConfig {
    /// Checks the ranges and destinations; the message names the field and value.
    pub fn validate(&self) -> Result<(), LambdaError> {
        if let Some(n) = self.maximum_retry_attempts
            && n > DEFAULT_MAX_RETRY_ATTEMPTS
        {
            return Err(LambdaError::invalid(format!(
                "MaximumRetryAttempts must be between 0 and 2 (got {n})"
            )));
        }
        if let Some(n) = self.maximum_event_age_in_seconds
            && !(MIN_MAX_EVENT_AGE_SECS..=DEFAULT_MAX_EVENT_AGE_SECS).contains(&n)
        {
            return Err(LambdaError::invalid(format!(
                "MaximumEventAgeInSeconds must be between 60 and 21600 (got {n})"
            )));
        }
        for d in [self.on_success(), self.on_failure()] {
            d?;
        }
        Ok(())
    }

    pub fn max_retry_attempts(&self) -> u32 {
        self.maximum_retry_attempts
            .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS)
    }

    pub fn max_event_age_secs(&self) -> u32 {
        self.maximum_event_age_in_seconds
            .unwrap_or(DEFAULT_MAX_EVENT_AGE_SECS)
    }

    pub fn on_success(&self) -> Result<Option<Destination>, LambdaError> {
        parse_dest(self.destination_config.on_success.as_ref())
    }

    pub fn on_failure(&self) -> Result<Option<Destination>, LambdaError> {
        parse_dest(self.destination_config.on_failure.as_ref())
    }
}

fn parse_dest(d: Option<&OnDestination>) -> Result<Option<Destination>, LambdaError> {
    d.and_then(|d| d.destination.as_deref())
        .filter(|s| !s.is_empty())
        .map(Destination::parse)
        .transpose()
}

/// An event's own delivery policy, set by whoever queued it (a schedule: its target's
/// `RetryPolicy` and `DeadLetterConfig`). It governs the event until the function first runs
/// it: throttles and failures before that count as delivery attempts, and an event given up
/// then goes to `dead_letter`. Once the function has run it, its errors follow the function's
/// own event-invoke configuration, as for any asynchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPolicy {
    /// Retries after a throttle or an error before the function ran the event.
    pub max_retry_attempts: u32,
    /// Oldest the event may get before the function runs it.
    pub max_event_age_secs: u32,
    /// Where the event's record goes when it is given up undelivered: any [`Destination`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<String>,
}

/// The qualifier an event-invoke configuration is stored under: unqualified means `$LATEST`.
pub fn config_qualifier(q: Option<&Qualifier>) -> String {
    q.map_or_else(|| Qualifier::LATEST.to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_ranges_and_destinations() {
        let mut c: EventInvokeConfig = serde_json::from_str(
            r#"{"MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:000000000000:function:dlq"}}}"#,
        )
        .expect("parses");
        c.validate().expect("valid");
        assert!(matches!(
            c.on_failure(),
            Ok(Some(Destination::Function { .. }))
        ));
        c.maximum_retry_attempts = Some(3);
        assert!(
            c.validate()
                .expect_err("3 retries")
                .message
                .contains("(got 3)")
        );
        c.maximum_retry_attempts = None;
        c.destination_config.on_success = Some(OnDestination {
            destination: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
        });
        assert!(c.validate().expect_err("sqs").message.contains("sqs"));
        assert!(
            matches!(Destination::parse("topic:alerts/failed"), Ok(Destination::LocalTopic { topic, .. }) if topic == "alerts/failed")
        );
        assert!(
            matches!(Destination::parse("arn:aws:iot:us-east-1:000000000000:topic/a/b"), Ok(Destination::MqttTopic { topic, .. }) if topic == "a/b")
        );
        assert!(Destination::parse("topic:a/#").is_err());
    }
}
