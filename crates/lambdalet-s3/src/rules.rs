//! Bucket notification rules: what `PutBucketNotificationConfiguration` may say, the overlap
//! rule S3 enforces, and which rules a change matches. Pure; the notifier stores and applies
//! them.

use serde::{Deserialize, Serialize};

/// One `LambdaFunctionConfiguration` as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    /// As the caller wrote it (returned by Get).
    pub function_arn: String,
    /// The function to invoke and the qualifier the ARN names.
    pub function: String,
    pub qualifier: Option<String>,
    /// Event types as written (`s3:ObjectCreated:*`).
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// The event types lambdalet raises, and those it accepts in a configuration (S3's list; the
/// ones lambdalet never raises are accepted and simply never match).
const EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:ReducedRedundancyLostObject",
    "s3:LifecycleTransition",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:IntelligentTiering",
    "s3:Replication:*",
    "s3:ObjectRetention:Put",
];

/// Checks an event type name.
pub fn check_event(e: &str) -> Result<(), String> {
    if EVENTS.contains(&e) {
        Ok(())
    } else {
        Err(format!(
            "The event is not supported for notifications: {e} (use for example s3:ObjectCreated:*, s3:ObjectCreated:Put or s3:ObjectRemoved:*)"
        ))
    }
}

/// Whether a configured event type covers the event `name` (`ObjectCreated:Put`).
fn covers(configured: &str, name: &str) -> bool {
    let configured = configured.strip_prefix("s3:").unwrap_or(configured);
    match configured.strip_suffix(":*") {
        Some(family) => name.split(':').next() == Some(family),
        None => configured == name,
    }
}

impl Rule {
    /// Whether this rule wants event `name` for `key`.
    pub fn matches(&self, name: &str, key: &str) -> bool {
        self.events.iter().any(|e| covers(e, name))
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// Two prefixes overlap when some key starts with both (one starts with the other); two
/// suffixes when some key ends with both. A missing one matches everything.
fn prefixes_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.starts_with(b) || b.starts_with(a),
        _ => true,
    }
}

fn suffixes_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.ends_with(b) || b.ends_with(a),
        _ => true,
    }
}

/// Event types two configured names have in common (`s3:ObjectCreated:*` and
/// `s3:ObjectCreated:Put` share `Put`).
fn events_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (
        a.strip_prefix("s3:").unwrap_or(a),
        b.strip_prefix("s3:").unwrap_or(b),
    );
    let family = |s: &str| s.split(':').next().unwrap_or(s).to_owned();
    a == b
        || (a.ends_with(":*") && family(a) == family(b))
        || (b.ends_with(":*") && family(a) == family(b))
}

/// S3's rule: for the same event type, no two configurations may match the same key.
pub fn check_overlaps(rules: &[Rule]) -> Result<(), String> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let same_event = a
                .events
                .iter()
                .any(|x| b.events.iter().any(|y| events_overlap(x, y)));
            if same_event
                && prefixes_overlap(a.prefix.as_deref(), b.prefix.as_deref())
                && suffixes_overlap(a.suffix.as_deref(), b.suffix.as_deref())
            {
                return Err("Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.".to_owned());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> Rule {
        Rule {
            id: "r".into(),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            function: "f".into(),
            qualifier: None,
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        }
    }

    #[test]
    fn events_and_filters_match_as_s3_does() {
        let r = rule(&["s3:ObjectCreated:*"], Some("uploads/"), Some(".jpg"));
        assert!(r.matches("ObjectCreated:Put", "uploads/a.jpg"));
        assert!(r.matches("ObjectCreated:CompleteMultipartUpload", "uploads/b.jpg"));
        assert!(!r.matches("ObjectRemoved:Delete", "uploads/a.jpg"));
        assert!(!r.matches("ObjectCreated:Put", "processed/a.jpg"));
        assert!(!r.matches("ObjectCreated:Put", "uploads/a.png"));
        let put = rule(&["s3:ObjectCreated:Put"], None, None);
        assert!(put.matches("ObjectCreated:Put", "x"));
        assert!(!put.matches("ObjectCreated:Copy", "x"));
    }

    #[test]
    fn overlapping_rules_for_the_same_event_are_refused() {
        let ok = [
            rule(&["s3:ObjectCreated:*"], Some("images/"), Some(".jpg")),
            rule(&["s3:ObjectCreated:*"], Some("images/"), Some(".png")),
            rule(&["s3:ObjectRemoved:*"], Some("images/"), Some(".jpg")),
            rule(&["s3:ObjectCreated:Put"], Some("docs/"), None),
        ];
        assert!(check_overlaps(&ok).is_ok());
        let bad = [
            rule(&["s3:ObjectCreated:*"], Some("images/"), Some("jpg")),
            rule(&["s3:ObjectCreated:Put"], Some("images/2024/"), Some("pg")),
        ];
        let e = check_overlaps(&bad).unwrap_err();
        assert!(e.starts_with("Configuration is ambiguously defined"), "{e}");
        let no_filters = [
            rule(&["s3:ObjectCreated:*"], None, None),
            rule(&["s3:ObjectCreated:Copy"], Some("a"), None),
        ];
        assert!(check_overlaps(&no_filters).is_err());
    }

    #[test]
    fn unknown_events_are_named() {
        assert!(check_event("s3:ObjectCreated:Put").is_ok());
        let e = check_event("s3:ObjectCreated").unwrap_err();
        assert!(e.contains("s3:ObjectCreated"), "{e}");
    }
}
