//! Topic names, topic filters and wildcard matching, following MQTT 3.1.1 (OASIS, §4.7).
//!
//! - [`TopicName`] is a concrete topic a message is published to; it never holds a wildcard.
//! - [`TopicFilter`] is what a subscriber asks for; `+` matches exactly one level and `#`
//!   matches the rest of the topic, including zero more levels.
//! - [`TopicTrie`] indexes many filters and finds those matching a topic name without looking
//!   at the subscriptions that cannot match.
//!
//! Semantics, where MQTT and Greengrass differ or leave room:
//!
//! - **`a/#` matches `a`** (MQTT §4.7.1.2, "the parent level"). Greengrass's own matchers do
//!   not; we follow MQTT so that the local bus and an MQTT broker agree.
//! - Levels are separated by `/` and may be empty: `a//b` has three levels, `/a` and `a/`
//!   two. `+` matches an empty level too (`a/+` matches `a/`), but not a missing one (`a/+`
//!   does not match `a`).
//! - Topics whose first character is `$` (`$SYS/...`, `$aws/...`) are not matched by filters
//!   whose first level is a wildcard (`#`, `+/...`) (MQTT §4.7.2); `$SYS/#` matches them.
//!   Publishing to them is allowed: Greengrass components use `$aws/things/...`.
//! - Names and filters must be 1 to 65535 bytes of UTF-8 without U+0000 (MQTT §1.5.3,
//!   §4.7.3). Other limits, such as AWS IoT Core's 256 bytes and 7 slashes, are not imposed.
//! - Matching is exact and case-sensitive; `$share/...` (an MQTT 5 feature) is an ordinary
//!   topic here.
//!
//! This module only matches; delivering messages is the bus's and the router's business.

mod error;
mod matches;
mod name;
mod node;
mod trie;

#[cfg(test)]
mod conformance;

pub use error::{TopicError, TopicKind};
pub use matches::Matches;
pub use name::{MAX_TOPIC_BYTES, TopicFilter, TopicName};
pub use trie::{SubscriptionId, TopicTrie};
