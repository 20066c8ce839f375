//! Walking the trie for one topic name: the iterator [`super::TopicTrie::matches`] returns.
//!
//! A depth-first walk with its own stack: at each node it takes the `#` subscribers, then
//! follows the child for the next topic level and the `+` child. The topic is split on `/`
//! as the walk goes, so matching allocates nothing per level (only the stack grows).

use std::iter::FusedIterator;
use std::slice;

use super::name::TopicName;
use super::node::{Node, Sub};

/// The values of the subscriptions whose filter matches a topic, in no particular order.
/// Two subscriptions that both match give two values, even with equal filters.
pub struct Matches<'a, T> {
    multi: slice::Iter<'a, Sub<T>>,
    here: slice::Iter<'a, Sub<T>>,
    /// Nodes still to visit, each with the topic levels left after it (`None`: none left).
    stack: Vec<(&'a Node<T>, Option<&'a str>)>,
}

impl<'a, T> Matches<'a, T> {
    pub(super) fn new(root: &'a Node<T>, topic: &'a TopicName) -> Self {
        let mut matches = Self {
            multi: [].iter(),
            here: [].iter(),
            stack: Vec::new(),
        };
        let topic_str = topic.as_str();
        if topic.is_dollar() {
            // MQTT §4.7.2: filters starting with `#` or `+` do not match `$` topics, so the
            // root's `#` subscribers and its `+` child are skipped.
            let (level, rest) = split_level(topic_str);
            if let Some(child) = root.exact.get(level) {
                matches.stack.push((child, rest));
            }
        } else {
            matches.visit(root, Some(topic_str));
        }
        matches
    }

    fn visit(&mut self, node: &'a Node<T>, rest: Option<&'a str>) {
        // `#` matches whatever is left, including nothing: `a/#` matches `a`.
        self.multi = node.multi.iter();
        match rest {
            None => self.here = node.here.iter(),
            Some(rest) => {
                let (level, rest) = split_level(rest);
                if let Some(child) = node.exact.get(level) {
                    self.stack.push((child, rest));
                }
                if let Some(child) = &node.plus {
                    self.stack.push((child, rest));
                }
            }
        }
    }
}

impl<'a, T> Iterator for Matches<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(sub) = self.multi.next().or_else(|| self.here.next()) {
                return Some(&sub.value);
            }
            let (node, rest) = self.stack.pop()?;
            self.visit(node, rest);
        }
    }
}

impl<T> FusedIterator for Matches<'_, T> {}

/// The first level of `topic` and the levels after it (`None` when it was the last).
fn split_level(topic: &str) -> (&str, Option<&str>) {
    match topic.split_once('/') {
        Some((level, rest)) => (level, Some(rest)),
        None => (topic, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_level_keeps_empty_levels() {
        assert_eq!(split_level("a/b/c"), ("a", Some("b/c")));
        assert_eq!(split_level("a"), ("a", None));
        assert_eq!(split_level("/a"), ("", Some("a")));
        assert_eq!(split_level("a/"), ("a", Some("")));
        assert_eq!(split_level(""), ("", None));
    }
}
