//! Greengrass's legacy subscription router (`aws.greengrass.LegacySubscriptionRouter`): routes
//! messages by `source` and `subject` to a `target`, so Greengrass V1-style code (the
//! `greengrasssdk` `publish`) keeps working. The configuration is Greengrass's:
//!
//! ```json
//! {"subscriptions": {"to-cloud": {"id": "to-cloud", "source": "arn:aws:lambda:us-east-1:000000000000:function:sensor:1",
//!                                  "subject": "sensors/#", "target": "cloud"}}}
//! ```
//!
//! `source` and `target` are `cloud` (the MQTT broker), `component:NAME` (the local bus; NAME
//! is a lambdalet function) or a function ARN. Greengrass requires versioned ARNs; lambdalet
//! also accepts an unversioned one, which matches every version.

use std::collections::BTreeMap;

use lambdalet_core::{FunctionRef, LambdaError, Qualifier};
use serde::{Deserialize, Serialize};

use crate::topic::{TopicFilter, TopicName};

/// One end of a legacy subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Cloud,
    Component(String),
    Function {
        name: String,
        version: Option<String>,
    },
}

impl Endpoint {
    fn parse(s: &str, field: &str, id: &str) -> Result<Self, LambdaError> {
        if s == "cloud" {
            return Ok(Self::Cloud);
        }
        if let Some(name) = s.strip_prefix("component:") {
            if name.is_empty() {
                return Err(LambdaError::invalid(format!(
                    "subscription {id}: {field} {s:?} names no component"
                )));
            }
            return Ok(Self::Component(name.to_owned()));
        }
        if s.starts_with("arn:") {
            let r = FunctionRef::parse(s).map_err(|e| {
                LambdaError::invalid(format!(
                    "subscription {id}: {field} {s:?} is not a function ARN: {}",
                    e.message
                ))
            })?;
            let version = match r.qualifier {
                None => None,
                Some(Qualifier::Version(v)) => Some(v.to_string()),
                Some(q) => {
                    return Err(LambdaError::invalid(format!(
                        "subscription {id}: {field} {s:?} uses {q}; subscriptions name a version number (or no qualifier for every version)"
                    )));
                }
            };
            return Ok(Self::Function {
                name: r.name.to_string(),
                version,
            });
        }
        Err(LambdaError::invalid(format!(
            "subscription {id}: {field} {s:?} is not valid: use cloud, component:NAME or a function ARN"
        )))
    }

    /// Whether a message from `from` comes from this (source) endpoint.
    fn matches_source(&self, from: &Origin) -> bool {
        match (self, from) {
            (Self::Cloud, Origin::Cloud) => true,
            (Self::Component(n), Origin::Function { name, .. }) => n == name,
            (
                Self::Function {
                    name: n,
                    version: v,
                },
                Origin::Function { name, version },
            ) => n == name && v.as_ref().is_none_or(|v| v == version),
            _ => false,
        }
    }
}

/// Where a routed message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Cloud,
    Function { name: String, version: String },
}

/// A validated subscription.
#[derive(Debug, Clone)]
pub struct LegacySubscription {
    pub id: String,
    pub source: Endpoint,
    pub subject: TopicFilter,
    pub target: Endpoint,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubscriptionsDoc {
    #[serde(default)]
    pub subscriptions: BTreeMap<String, SubscriptionEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubscriptionEntry {
    pub id: String,
    pub source: String,
    pub subject: String,
    pub target: String,
}

/// Checks a configuration document; every problem names the subscription and the field.
pub fn parse(doc: &SubscriptionsDoc) -> Result<Vec<LegacySubscription>, LambdaError> {
    let mut out = Vec::new();
    for (key, e) in &doc.subscriptions {
        if key != &e.id {
            return Err(LambdaError::invalid(format!(
                "subscription key {key:?} must equal its id ({:?}), as Greengrass requires",
                e.id
            )));
        }
        let subject = TopicFilter::new(e.subject.clone())
            .map_err(|err| LambdaError::invalid(format!("subscription {key}: subject: {err}")))?;
        let source = Endpoint::parse(&e.source, "source", key)?;
        let target = Endpoint::parse(&e.target, "target", key)?;
        if source == Endpoint::Cloud && target == Endpoint::Cloud {
            return Err(LambdaError::invalid(format!(
                "subscription {key}: cloud to cloud would route the broker's messages back to it"
            )));
        }
        out.push(LegacySubscription {
            id: key.clone(),
            source,
            subject,
            target,
        });
    }
    Ok(out)
}

/// The targets of a message from `origin` on `subject`.
pub fn targets<'a>(
    subs: &'a [LegacySubscription],
    origin: &Origin,
    subject: &TopicName,
) -> Vec<&'a Endpoint> {
    subs.iter()
        .filter(|s| s.source.matches_source(origin) && s.subject.matches(subject))
        .map(|s| &s.target)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(entries: &[(&str, &str, &str, &str)]) -> SubscriptionsDoc {
        SubscriptionsDoc {
            subscriptions: entries
                .iter()
                .map(|(id, source, subject, target)| {
                    (
                        (*id).to_owned(),
                        SubscriptionEntry {
                            id: (*id).into(),
                            source: (*source).into(),
                            subject: (*subject).into(),
                            target: (*target).into(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn routes_by_source_and_subject() {
        let subs = parse(&doc(&[
            (
                "a",
                "arn:aws:lambda:us-east-1:000000000000:function:sensor:1",
                "sensors/#",
                "cloud",
            ),
            (
                "b",
                "cloud",
                "commands/+",
                "arn:aws:lambda:us-east-1:000000000000:function:actuator",
            ),
            ("c", "component:sensor", "local/x", "component:other"),
        ]))
        .expect("valid");
        let v1 = Origin::Function {
            name: "sensor".into(),
            version: "1".into(),
        };
        let v2 = Origin::Function {
            name: "sensor".into(),
            version: "2".into(),
        };
        let t = TopicName::new("sensors/t1").expect("topic");
        assert_eq!(targets(&subs, &v1, &t), [&Endpoint::Cloud]);
        assert!(
            targets(&subs, &v2, &t).is_empty(),
            "a versioned source matches that version only"
        );
        let c = TopicName::new("commands/open").expect("topic");
        assert_eq!(targets(&subs, &Origin::Cloud, &c).len(), 1);
        assert_eq!(
            targets(&subs, &v2, &TopicName::new("local/x").expect("topic")),
            [&Endpoint::Component("other".into())]
        );
    }

    #[test]
    fn bad_configuration_is_explained() {
        for (entries, needle) in [
            (vec![("x", "cloud", "a/#", "cloud")], "cloud to cloud"),
            (vec![("x", "somewhere", "a", "cloud")], "source"),
            (vec![("x", "cloud", "a/#/b", "component:f")], "subject"),
            (
                vec![(
                    "x",
                    "cloud",
                    "a",
                    "arn:aws:lambda:us-east-1:000000000000:function:f:prod",
                )],
                "version number",
            ),
        ] {
            let err = parse(&doc(&entries)).expect_err("invalid");
            assert!(err.message.contains(needle), "{}", err.message);
        }
        let mut d = doc(&[("x", "cloud", "a", "component:f")]);
        let e = d.subscriptions.remove("x").expect("entry");
        d.subscriptions.insert("y".into(), e);
        assert!(
            parse(&d)
                .expect_err("key mismatch")
                .message
                .contains("must equal its id")
        );
    }
}
