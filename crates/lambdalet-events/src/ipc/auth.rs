//! Greengrass IPC authorization: a component's `accessControl` policies.
//!
//! ```json
//! {"aws.greengrass.ipc.pubsub": {"my-policy": {"policyDescription": "...",
//!     "operations": ["aws.greengrass#PublishToTopic"], "resources": ["sensors/*"]}}}
//! ```
//!
//! An operation is allowed when some policy of its service lists it (or `*`) and one of the
//! policy's resources matches: literally, with `*` standing for any characters, or, for the
//! MQTT proxy service, as an MQTT topic filter. A function without policies is not restricted
//! (lambdalet enforces policies only where they are given).

use serde_json::Value;

use crate::topic::{TopicFilter, TopicName};

pub const PUBSUB: &str = "aws.greengrass.ipc.pubsub";
pub const MQTT_PROXY: &str = "aws.greengrass.ipc.mqttproxy";

/// Whether `policies` allow `operation` of `service` on `resource`.
pub fn allowed(policies: Option<&Value>, service: &str, operation: &str, resource: &str) -> bool {
    let Some(policies) = policies else {
        return true;
    };
    let Some(by_id) = policies.get(service).and_then(Value::as_object) else {
        return false;
    };
    by_id.values().any(|policy| {
        let listed = |key: &str| -> Vec<&str> {
            policy
                .get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let op_ok = listed("operations")
            .iter()
            .any(|o| *o == "*" || *o == operation);
        op_ok
            && listed("resources")
                .iter()
                .any(|r| resource_matches(r, resource, service == MQTT_PROXY))
    })
}

fn resource_matches(pattern: &str, resource: &str, mqtt: bool) -> bool {
    if pattern == resource || glob(pattern, resource) {
        return true;
    }
    if mqtt
        && let (Ok(filter), Ok(topic)) = (
            TopicFilter::new(pattern.to_owned()),
            TopicName::new(resource.to_owned()),
        )
    {
        return filter.matches(&topic);
    }
    false
}

/// `*` matches any run of characters (including `/`).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let p: Value = serde_json::from_str(
            r#"{"aws.greengrass.ipc.pubsub": {"p1": {"operations": ["aws.greengrass#PublishToTopic"], "resources": ["sensors/*", "exact/topic"]}},
                "aws.greengrass.ipc.mqttproxy": {"p2": {"operations": ["*"], "resources": ["devices/+/status"]}}}"#,
        )
        .expect("json");
        assert!(allowed(
            None,
            PUBSUB,
            "aws.greengrass#PublishToTopic",
            "anything"
        ));
        assert!(allowed(
            Some(&p),
            PUBSUB,
            "aws.greengrass#PublishToTopic",
            "sensors/a/b"
        ));
        assert!(allowed(
            Some(&p),
            PUBSUB,
            "aws.greengrass#PublishToTopic",
            "exact/topic"
        ));
        assert!(!allowed(
            Some(&p),
            PUBSUB,
            "aws.greengrass#PublishToTopic",
            "other"
        ));
        assert!(!allowed(
            Some(&p),
            PUBSUB,
            "aws.greengrass#SubscribeToTopic",
            "sensors/a"
        ));
        assert!(allowed(
            Some(&p),
            MQTT_PROXY,
            "aws.greengrass#PublishToIoTCore",
            "devices/7/status"
        ));
        assert!(!allowed(
            Some(&p),
            MQTT_PROXY,
            "aws.greengrass#PublishToIoTCore",
            "devices/7/other"
        ));
        assert!(glob("a*c*e", "abcde") && !glob("a*c*e", "abde") && glob("*", ""));
    }
}
