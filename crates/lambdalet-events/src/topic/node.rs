//! One level of the subscription trie, and the path a filter takes through it.
//!
//! A node stands for the filter levels on the way to it. `#` is always a filter's last level,
//! so it gets no node of its own: its subscribers sit in the parent's `multi` list.

use std::collections::HashMap;

use super::name::TopicFilter;
use super::trie::SubscriptionId;

/// One subscription: its id and the caller's value.
pub(super) struct Sub<T> {
    pub(super) id: SubscriptionId,
    pub(super) value: T,
}

pub(super) struct Node<T> {
    /// Children for literal levels (never `+` or `#`), by level text.
    pub(super) exact: HashMap<Box<str>, Node<T>>,
    /// The child for a `+` level.
    pub(super) plus: Option<Box<Node<T>>>,
    /// Subscriptions whose filter ends at this node.
    pub(super) here: Vec<Sub<T>>,
    /// Subscriptions whose filter is this node's path followed by `#`.
    pub(super) multi: Vec<Sub<T>>,
    /// Subscriptions at this node and below; nodes other than the root with none are removed.
    pub(super) count: usize,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            plus: None,
            here: Vec::new(),
            multi: Vec::new(),
            count: 0,
        }
    }
}

impl<T> Node<T> {
    /// The child for filter level `level` (`+` or a literal).
    pub(super) fn child(&self, level: &str) -> Option<&Node<T>> {
        if level == "+" {
            self.plus.as_deref()
        } else {
            self.exact.get(level)
        }
    }

    pub(super) fn child_mut(&mut self, level: &str) -> Option<&mut Node<T>> {
        if level == "+" {
            self.plus.as_deref_mut()
        } else {
            self.exact.get_mut(level)
        }
    }

    pub(super) fn child_or_insert(&mut self, level: &str) -> &mut Node<T> {
        if level == "+" {
            return self.plus.get_or_insert_with(Box::default);
        }
        if !self.exact.contains_key(level) {
            self.exact.insert(level.into(), Node::default());
        }
        self.exact
            .get_mut(level)
            .expect("the child was just found or inserted")
    }

    /// Takes the child for `level` out of this node, with everything below it.
    pub(super) fn detach(&mut self, level: &str) -> Option<Node<T>> {
        if level == "+" {
            self.plus.take().map(|child| *child)
        } else {
            self.exact.remove(level)
        }
    }

    /// The subscriptions ending here (`multi == false`) or with `#` after this node.
    pub(super) fn subs(&self, multi: bool) -> &Vec<Sub<T>> {
        if multi { &self.multi } else { &self.here }
    }

    pub(super) fn subs_mut(&mut self, multi: bool) -> &mut Vec<Sub<T>> {
        if multi {
            &mut self.multi
        } else {
            &mut self.here
        }
    }

    fn take_children_into(&mut self, out: &mut Vec<Node<T>>) {
        out.extend(self.exact.drain().map(|(_, child)| child));
        if let Some(child) = self.plus.take() {
            out.push(*child);
        }
    }
}

impl<T> Drop for Node<T> {
    /// Drops the subtree one node at a time: a filter may have 32768 levels, and dropping
    /// such a chain recursively would overflow the stack.
    fn drop(&mut self) {
        if self.exact.is_empty() && self.plus.is_none() {
            return;
        }
        let mut pending = Vec::new();
        self.take_children_into(&mut pending);
        while let Some(mut node) = pending.pop() {
            node.take_children_into(&mut pending);
            // `node` has no children left, so dropping it here does not recurse.
        }
    }
}

/// The levels a filter walks through the trie, and whether its subscribers go in the last
/// node's `multi` list (the filter ends in `#`) rather than its `here` list.
pub(super) fn path(filter: &TopicFilter) -> (impl Iterator<Item = &str>, bool) {
    let s = filter.as_str();
    match s.strip_suffix('#') {
        // "#" alone walks no levels; "a/#" and "/#" walk "a" and "".
        Some(prefix) => (
            prefix
                .strip_suffix('/')
                .map(|p| p.split('/'))
                .into_iter()
                .flatten(),
            true,
        ),
        None => (Some(s.split('/')).into_iter().flatten(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(filter: &str) -> (Vec<&str>, bool) {
        let filter = Box::leak(Box::new(TopicFilter::new(filter).expect("valid filter")));
        let (levels, multi) = path(filter);
        (levels.collect(), multi)
    }

    #[test]
    fn path_drops_a_trailing_hash() {
        assert_eq!(levels("#"), (vec![], true));
        assert_eq!(levels("/#"), (vec![""], true));
        assert_eq!(levels("a/+/#"), (vec!["a", "+"], true));
        assert_eq!(levels("a"), (vec!["a"], false));
        assert_eq!(levels("a//"), (vec!["a", "", ""], false));
    }

    #[test]
    fn dropping_a_deep_chain_does_not_overflow_the_stack() {
        let mut root: Node<()> = Node::default();
        let mut node = &mut root;
        for _ in 0..200_000 {
            node = node.child_or_insert("+");
        }
        drop(root);
    }
}
