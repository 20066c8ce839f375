//! Why a topic name or topic filter was rejected.
//!
//! Each rule of MQTT 3.1.1 §4.7 has its own variant; the message quotes the topic (cut short
//! if long) and says what a valid one looks like.

use std::fmt;

use lambdalet_core::{ErrorCode, HasErrorCode};

/// Which kind of topic was being validated; it decides the wording of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// A topic name that messages are published to.
    Name,
    /// A topic filter that a subscription asks for.
    Filter,
}

impl fmt::Display for TopicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Name => "publish topic",
            Self::Filter => "topic filter",
        })
    }
}

/// A topic name or filter that breaks a rule of MQTT 3.1.1 §4.7.
///
/// `topic` holds the offending topic, cut to its first 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error(
        "{kind} must not be empty; give at least one character, such as \"sensors/temperature\""
    )]
    Empty { kind: TopicKind },
    #[error(
        "{kind} {topic:?} is {len} bytes long; MQTT allows at most {max} bytes of UTF-8",
        max = super::MAX_TOPIC_BYTES
    )]
    TooLong {
        kind: TopicKind,
        topic: String,
        len: usize,
    },
    #[error("{kind} {topic:?} must not contain the NUL character (U+0000)")]
    Nul { kind: TopicKind, topic: String },
    #[error(
        "publish topic {topic:?} must not contain a wildcard ('+' or '#'); wildcards belong in subscription topic filters only"
    )]
    WildcardInName { topic: String },
    #[error(
        "topic filter {topic:?} has '+' inside the level {level:?}; '+' must be a whole level, as in \"a/+/c\""
    )]
    PlusNotWholeLevel { topic: String, level: String },
    #[error(
        "topic filter {topic:?} has '#' inside the level {level:?}; '#' must be the whole last level, as in \"a/b/#\""
    )]
    HashNotWholeLevel { topic: String, level: String },
    #[error(
        "topic filter {topic:?} has '#' before its last level; '#' must be the whole last level, as in \"a/b/#\""
    )]
    HashNotLast { topic: String },
}

impl HasErrorCode for TopicError {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidParameterValue
    }
}

/// The start of `topic`, short enough to put in a message: at most 100 characters, with
/// `...` appended when cut.
pub(super) fn preview(topic: &str) -> String {
    const MAX_CHARS: usize = 100;
    match topic.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}...", &topic[..end]),
        None => topic.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_topic_and_the_rule() {
        let e = TopicError::WildcardInName {
            topic: "a/+".into(),
        };
        assert_eq!(
            e.to_string(),
            "publish topic \"a/+\" must not contain a wildcard ('+' or '#'); wildcards belong in subscription topic filters only"
        );
        let e = TopicError::Empty {
            kind: TopicKind::Filter,
        };
        assert!(e.to_string().starts_with("topic filter must not be empty"));
        let e = TopicError::TooLong {
            kind: TopicKind::Name,
            topic: "x".into(),
            len: 70_000,
        };
        assert!(e.to_string().contains("at most 65535 bytes"), "{e}");
    }

    #[test]
    fn every_variant_is_an_invalid_parameter() {
        let e = TopicError::HashNotLast {
            topic: "#/a".into(),
        };
        assert_eq!(e.error_code(), ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn preview_cuts_long_topics_on_a_char_boundary() {
        assert_eq!(preview("a/b"), "a/b");
        let long = "é".repeat(150);
        let p = preview(&long);
        assert_eq!(p.chars().count(), 103);
        assert!(p.ends_with("..."));
    }
}
