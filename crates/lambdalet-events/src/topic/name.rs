//! Validated topic names and topic filters (MQTT 3.1.1 §4.7), and matching one filter
//! against one name.
//!
//! Both types can only hold a topic that passed validation, so code that receives one never
//! checks again. Matching many filters at once is [`super::TopicTrie`]'s job.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{TopicError, TopicKind, preview};

/// The longest topic name or filter MQTT can carry: a UTF-8 string with a 16-bit length.
pub const MAX_TOPIC_BYTES: usize = 65_535;

/// A topic that messages are published to, such as `sensors/kitchen/temperature`.
///
/// Non-empty, at most [`MAX_TOPIC_BYTES`] bytes, no U+0000, and no `+` or `#` anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

/// What a subscription asks for, such as `sensors/+/temperature` or `sensors/#`.
///
/// Non-empty, at most [`MAX_TOPIC_BYTES`] bytes, no U+0000; `+` only as a whole level and `#`
/// only as the whole last level.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicFilter(String);

impl TopicName {
    /// Validates `topic` as a name to publish to.
    pub fn new(topic: impl Into<String>) -> Result<Self, TopicError> {
        let topic = topic.into();
        check_common(TopicKind::Name, &topic)?;
        if topic.contains(['+', '#']) {
            return Err(TopicError::WildcardInName {
                topic: preview(&topic),
            });
        }
        Ok(Self(topic))
    }

    /// Whether the first character is `$` (`$SYS/...`, `$aws/...`): filters that start
    /// with a wildcard do not match such topics.
    pub fn is_dollar(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl TopicFilter {
    /// Validates `filter` as a subscription topic filter.
    pub fn new(filter: impl Into<String>) -> Result<Self, TopicError> {
        let filter = filter.into();
        check_common(TopicKind::Filter, &filter)?;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" {
                if levels.peek().is_some() {
                    return Err(TopicError::HashNotLast {
                        topic: preview(&filter),
                    });
                }
            } else if level.contains('#') {
                return Err(TopicError::HashNotWholeLevel {
                    topic: preview(&filter),
                    level: preview(level),
                });
            } else if level != "+" && level.contains('+') {
                return Err(TopicError::PlusNotWholeLevel {
                    topic: preview(&filter),
                    level: preview(level),
                });
            }
        }
        Ok(Self(filter))
    }

    /// Whether the filter holds a `+` or `#` level, so it can match more than one topic.
    /// (Greengrass picks a subscription's default receive mode by this.)
    pub fn is_wildcard(&self) -> bool {
        self.0.contains(['+', '#'])
    }

    /// Whether a message published to `name` is delivered to this filter.
    pub fn matches(&self, name: &TopicName) -> bool {
        if !self.is_wildcard() {
            return self.0 == name.0;
        }
        // A valid filter starting with '+' or '#' has a wildcard as its whole first level.
        if name.is_dollar() && self.0.starts_with(['+', '#']) {
            return false;
        }
        let mut filter = self.levels();
        let mut topic = name.levels();
        loop {
            match (filter.next(), topic.next()) {
                // '#' takes the rest, including nothing: `a/#` matches `a`.
                (Some("#"), _) => return true,
                (None, None) => return true,
                (Some("+"), Some(_)) => {}
                (Some(f), Some(t)) if f == t => {}
                _ => return false,
            }
        }
    }
}

/// The rules names and filters share.
fn check_common(kind: TopicKind, topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty { kind });
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(TopicError::TooLong {
            kind,
            topic: preview(topic),
            len: topic.len(),
        });
    }
    if topic.contains('\0') {
        return Err(TopicError::Nul {
            kind,
            topic: preview(topic),
        });
    }
    Ok(())
}

/// Conversions and accessors the two string newtypes share.
macro_rules! topic_string {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// The `/`-separated levels, empty ones included (`a//b` has three).
            pub fn levels(&self) -> std::str::Split<'_, char> {
                self.0.split('/')
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = TopicError;
            fn from_str(s: &str) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = TopicError;
            fn try_from(s: String) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = TopicError;
            fn try_from(s: &str) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl From<$ty> for String {
            fn from(t: $ty) -> String {
                t.0
            }
        }
    };
}

topic_string!(TopicName);
topic_string!(TopicFilter);

/// Every topic name is also a filter that matches exactly that topic.
impl From<TopicName> for TopicFilter {
    fn from(name: TopicName) -> Self {
        Self(name.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for t in [
            "a", "/", "//", "a//b", "/a", "a/", "$SYS/x", "$", "é/ü", " a b ",
        ] {
            assert_eq!(TopicName::new(t).map(|n| n.into_string()), Ok(t.to_owned()));
        }
        let longest = "a".repeat(MAX_TOPIC_BYTES);
        assert!(TopicName::new(longest).is_ok());
    }

    /// The variant's name, to write expected failures as a table.
    fn rule(e: &TopicError) -> &'static str {
        match e {
            TopicError::Empty { .. } => "Empty",
            TopicError::TooLong { .. } => "TooLong",
            TopicError::Nul { .. } => "Nul",
            TopicError::WildcardInName { .. } => "WildcardInName",
            TopicError::PlusNotWholeLevel { .. } => "PlusNotWholeLevel",
            TopicError::HashNotWholeLevel { .. } => "HashNotWholeLevel",
            TopicError::HashNotLast { .. } => "HashNotLast",
        }
    }

    #[test]
    fn invalid_names() {
        for (topic, expected) in [
            ("", "Empty"),
            ("a\0b", "Nul"),
            ("a/+", "WildcardInName"),
            ("#", "WildcardInName"),
            ("a+b", "WildcardInName"),
            ("a/b#", "WildcardInName"),
        ] {
            let e = TopicName::new(topic).expect_err(topic);
            assert_eq!(rule(&e), expected, "{topic:?} gave {e}");
        }
        let e = TopicName::new("").expect_err("empty");
        assert_eq!(
            e,
            TopicError::Empty {
                kind: TopicKind::Name
            }
        );
        let e = TopicName::new("a".repeat(MAX_TOPIC_BYTES + 1)).expect_err("too long");
        assert!(
            matches!(e, TopicError::TooLong { len: 65_536, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("..."), "long topics are cut: {e}");
    }

    #[test]
    fn valid_filters() {
        for f in [
            "#", "+", "+/+", "/+", "+/", "a/#", "a/+/b", "a/+/#", "+/#", "$SYS/#", "a//b", "/",
        ] {
            assert!(TopicFilter::new(f).is_ok(), "{f:?}");
        }
    }

    #[test]
    fn invalid_filters() {
        for (filter, expected) in [
            ("", "Empty"),
            ("a/\0", "Nul"),
            ("a+", "PlusNotWholeLevel"),
            ("a/+b/c", "PlusNotWholeLevel"),
            ("++", "PlusNotWholeLevel"),
            ("a#", "HashNotWholeLevel"),
            ("a/b#", "HashNotWholeLevel"),
            ("+#", "HashNotWholeLevel"),
            ("##", "HashNotWholeLevel"),
            ("#/a", "HashNotLast"),
            ("a/#/", "HashNotLast"),
            ("#/#", "HashNotLast"),
        ] {
            let e = TopicFilter::new(filter).expect_err(filter);
            assert_eq!(rule(&e), expected, "{filter:?} gave {e}");
        }
        let e = TopicFilter::new("").expect_err("empty");
        assert_eq!(
            e,
            TopicError::Empty {
                kind: TopicKind::Filter
            }
        );
        let e = TopicFilter::new("sport/tennis#").expect_err("'#' inside a level");
        assert_eq!(
            e.to_string(),
            "topic filter \"sport/tennis#\" has '#' inside the level \"tennis#\"; '#' must be the whole last level, as in \"a/b/#\""
        );
    }

    #[test]
    fn a_name_is_a_filter_matching_itself() {
        let name = TopicName::new("a/b").expect("valid");
        let filter = TopicFilter::from(name.clone());
        assert!(!filter.is_wildcard());
        assert!(filter.matches(&name));
    }

    #[test]
    fn serde_validates() {
        let f: TopicFilter = serde_json::from_str("\"a/+\"").expect("valid filter");
        assert_eq!(f.as_str(), "a/+");
        assert_eq!(serde_json::to_string(&f).expect("serializes"), "\"a/+\"");
        let e = serde_json::from_str::<TopicName>("\"a/+\"").expect_err("wildcard in name");
        assert!(e.to_string().contains("must not contain a wildcard"), "{e}");
    }

    #[test]
    fn levels_keep_empty_levels() {
        let name = TopicName::new("/a//b/").expect("valid");
        assert_eq!(name.levels().collect::<Vec<_>>(), ["", "a", "", "b", ""]);
    }
}
