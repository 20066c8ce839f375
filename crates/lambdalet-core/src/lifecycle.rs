//! The Greengrass Lambda settings of a function version: how lambdalet schedules it.
//!
//! They keep their Greengrass names (`pinned`, `maxInstancesCount`, `maxQueueSize`,
//! `maxIdleTimeInSeconds`, `statusTimeoutInSeconds`, `inputPayloadEncodingType`) in stored
//! configuration and in JSON, so a Greengrass Lambda component's configuration reads the same
//! here. `timeoutInSeconds` is the function's Lambda `Timeout` and lives in
//! [`FunctionConfig`](crate::FunctionConfig).

use std::fmt;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::{ContainerMode, ContainerParams, NetworkMode};
use crate::error::LambdaError;

/// How event payloads reach the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The payload must be JSON; the runtime decodes it into the event object.
    #[default]
    Json,
    /// Raw bytes, delivered unchanged (`bytes` in Python, `Buffer` in Node.js).
    Binary,
}

impl Encoding {
    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "binary" => Ok(Self::Binary),
            _ => Err(LambdaError::invalid(format!(
                "inputPayloadEncodingType {s:?} is not valid: use json or binary"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Binary => "binary",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scheduling settings, with Greengrass's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LifecycleConfig {
    /// Long-lived: one sandbox started at deploy and daemon start, events run one at a time.
    pub pinned: bool,
    /// Most sandboxes of an on-demand function at once.
    pub max_instances_count: u32,
    /// Invocations that may wait for a sandbox; beyond it callers get 429.
    pub max_queue_size: u32,
    /// An on-demand sandbox idle this long is stopped.
    pub max_idle_time_in_seconds: u32,
    /// A pinned runtime that does not come back to `next` within this long after an
    /// invocation is restarted.
    pub status_timeout_in_seconds: u32,
    pub input_payload_encoding_type: Encoding,
    /// Topics whose messages invoke the function: Greengrass's `{"0": {"topic": ...,
    /// "type": "PUB_SUB" | "IOT_CORE"}}` map. Filters are checked by `lambdalet-control`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pubsub_topics: BTreeMap<String, PubsubTopic>,
    /// Greengrass IPC authorization policies (`accessControl`), enforced when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_control: Option<serde_json::Value>,
    /// `GreengrassContainer` or `NoContainer`; `None`: the daemon's `--sandbox` default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_mode: Option<ContainerMode>,
    /// Memory, `/sys`, volumes and devices of the container.
    pub container_params: ContainerParams,
    /// lambdalet's extension: `host` (default) or `none` (loopback only).
    #[serde(skip_serializing_if = "NetworkMode::is_host")]
    pub network: NetworkMode,
    /// lambdalet's extension: the function's own credentials (and requests from its
    /// sandboxes) may manage functions, as an administrator's key can. Off by default: a
    /// function may only invoke functions (as `accessControl` allows) and publish/subscribe.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_management: bool,
    /// lambdalet's extension: the buckets of the embedded S3 endpoint the function's own
    /// credentials (and its sandboxes) may use. Empty: every bucket, as a role with S3 access.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_buckets: Vec<String>,
}

/// Where a subscription's messages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TopicType {
    /// lambdalet's local publish/subscribe bus (Greengrass "local publish/subscribe").
    #[serde(rename = "PUB_SUB")]
    PubSub,
    /// The MQTT broker (Greengrass "AWS IoT Core MQTT"): the embedded one or `--mqtt-remote`.
    #[serde(rename = "IOT_CORE")]
    IotCore,
}

impl TopicType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PubSub => "PUB_SUB",
            Self::IotCore => "IOT_CORE",
        }
    }
}

/// One entry of `pubsubTopics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubsubTopic {
    pub topic: String,
    #[serde(rename = "type")]
    pub kind: TopicType,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            pinned: false,
            max_instances_count: 100,
            max_queue_size: 1000,
            max_idle_time_in_seconds: 60,
            status_timeout_in_seconds: 60,
            input_payload_encoding_type: Encoding::Json,
            pubsub_topics: BTreeMap::new(),
            access_control: None,
            container_mode: None,
            container_params: ContainerParams::default(),
            network: NetworkMode::Host,
            allow_management: false,
            allowed_buckets: Vec::new(),
        }
    }
}

/// A partial update of [`LifecycleConfig`]; numbers are wide so out-of-range values get a
/// clear error instead of a parse failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecyclePatch {
    pub pinned: Option<bool>,
    pub max_instances_count: Option<i64>,
    pub max_queue_size: Option<i64>,
    pub max_idle_time_in_seconds: Option<i64>,
    pub status_timeout_in_seconds: Option<i64>,
    pub input_payload_encoding_type: Option<String>,
    /// The function timeout under its Greengrass name (the same setting as Lambda's `Timeout`).
    pub timeout_in_seconds: Option<i64>,
    /// Replaces the topic subscriptions (an empty map removes them).
    pub pubsub_topics: Option<BTreeMap<String, PubsubTopic>>,
    /// Replaces the IPC authorization policies (`null` removes them).
    #[serde(default, deserialize_with = "present")]
    pub access_control: Option<Option<serde_json::Value>>,
    /// `GreengrassContainer` / `NoContainer` (`null`: back to the daemon's default).
    #[serde(default, deserialize_with = "present")]
    pub container_mode: Option<Option<serde_json::Value>>,
    /// Fields of `containerParams` to change (see [`ContainerParams::apply`]).
    pub container_params: Option<serde_json::Value>,
    /// `host` or `none`.
    pub network: Option<String>,
    /// Whether the function may manage functions.
    pub allow_management: Option<bool>,
    /// Replaces the buckets the function may use (`[]`: every bucket).
    pub allowed_buckets: Option<Vec<String>>,
}

/// Distinguishes a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D>(d: D) -> Result<Option<Option<serde_json::Value>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<serde_json::Value>::deserialize(d).map(Some)
}

impl LifecyclePatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Upper bound Greengrass allows for its counts and durations.
const MAX: i64 = i32::MAX as i64;

impl LifecycleConfig {
    /// Applies `patch` (except `timeoutInSeconds`, which belongs to the function config).
    pub fn apply(&self, patch: &LifecyclePatch) -> Result<Self, LambdaError> {
        let mut c = self.clone();
        if let Some(p) = patch.pinned {
            c.pinned = p;
        }
        if let Some(n) = patch.max_instances_count {
            c.max_instances_count = range("maxInstancesCount", n, 1, "")?;
        }
        if let Some(n) = patch.max_queue_size {
            c.max_queue_size = range("maxQueueSize", n, 1, "")?;
        }
        if let Some(n) = patch.max_idle_time_in_seconds {
            c.max_idle_time_in_seconds = range("maxIdleTimeInSeconds", n, 1, " seconds")?;
        }
        if let Some(n) = patch.status_timeout_in_seconds {
            c.status_timeout_in_seconds = range("statusTimeoutInSeconds", n, 1, " seconds")?;
        }
        if let Some(e) = &patch.input_payload_encoding_type {
            c.input_payload_encoding_type = Encoding::parse(e)?;
        }
        if let Some(topics) = &patch.pubsub_topics {
            for (key, t) in topics {
                if t.topic.is_empty() {
                    return Err(LambdaError::invalid(format!(
                        "pubsubTopics.{key}.topic must not be empty"
                    )));
                }
            }
            c.pubsub_topics = topics.clone();
        }
        if let Some(ac) = &patch.access_control {
            if let Some(v) = ac
                && !v.is_object()
            {
                return Err(LambdaError::invalid(
                    "accessControl must be an object: {\"aws.greengrass.ipc.pubsub\": {\"<policy id>\": {\"operations\": [...], \"resources\": [...]}}}",
                ));
            }
            c.access_control = ac.clone();
        }
        if let Some(mode) = &patch.container_mode {
            c.container_mode = match mode {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(ContainerMode::parse(s)?),
                Some(other) => {
                    return Err(LambdaError::invalid(format!(
                        "containerMode must be a string, GreengrassContainer or NoContainer (got {other})"
                    )));
                }
            };
        }
        if let Some(params) = &patch.container_params {
            c.container_params = c.container_params.apply(params)?;
        }
        if let Some(n) = &patch.network {
            c.network = NetworkMode::parse(n)?;
        }
        if let Some(m) = patch.allow_management {
            c.allow_management = m;
        }
        if let Some(buckets) = &patch.allowed_buckets {
            for b in buckets {
                check_bucket_name(b)?;
            }
            let mut buckets = buckets.clone();
            buckets.sort();
            buckets.dedup();
            c.allowed_buckets = buckets;
        }
        Ok(c)
    }
}

/// S3's bucket naming rules (3-63 characters of lower-case letters, digits, `.` and `-`,
/// starting and ending with a letter or digit).
pub fn check_bucket_name(b: &str) -> Result<(), LambdaError> {
    let ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(LambdaError::invalid(format!(
            "allowedBuckets: {b:?} is not a bucket name (3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit)"
        )))
    }
}

fn range(field: &str, value: i64, min: i64, unit: &str) -> Result<u32, LambdaError> {
    if value < min || value > MAX {
        return Err(LambdaError::invalid(format!(
            "{field} must be between {min} and {MAX}{unit} (got {value})"
        )));
    }
    Ok(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greengrass_names_and_defaults() {
        let c: LifecycleConfig =
            serde_json::from_str(r#"{"pinned": true, "maxQueueSize": 5}"#).expect("parses");
        assert!(c.pinned);
        assert_eq!(c.max_queue_size, 5);
        assert_eq!(c.max_instances_count, 100);
        assert_eq!(c.input_payload_encoding_type, Encoding::Json);
        let json = serde_json::to_value(&c).expect("serializes");
        assert_eq!(json["maxIdleTimeInSeconds"], 60);
        assert_eq!(json["inputPayloadEncodingType"], "json");
    }

    #[test]
    fn patches_are_validated() {
        let c = LifecycleConfig::default();
        let p = LifecyclePatch {
            max_instances_count: Some(0),
            ..Default::default()
        };
        let e = c.apply(&p).expect_err("zero instances");
        assert!(
            e.message.contains("maxInstancesCount") && e.message.contains("(got 0)"),
            "{}",
            e.message
        );
        let p = LifecyclePatch {
            input_payload_encoding_type: Some("xml".into()),
            ..Default::default()
        };
        assert!(c.apply(&p).is_err());
        let p = LifecyclePatch {
            input_payload_encoding_type: Some("BINARY".into()),
            ..Default::default()
        };
        assert_eq!(
            c.apply(&p).expect("valid").input_payload_encoding_type,
            Encoding::Binary
        );
        assert!(
            serde_json::from_str::<LifecyclePatch>(r#"{"pinnned": true}"#).is_err(),
            "typos are refused"
        );
    }
}
