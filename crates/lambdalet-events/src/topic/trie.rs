//! A subscription index: many topic filters, each with a value, searched by topic name.
//!
//! Filters are stored in a trie over their levels. Matching a topic visits only the nodes
//! whose path can still match it, never the whole list of subscriptions, so its cost depends
//! on the topic and on how many filters overlap it, not on how many there are. Empty nodes are
//! removed as subscriptions go, so churn does not leak memory.

use std::collections::HashMap;
use std::fmt;

use super::matches::Matches;
use super::name::{TopicFilter, TopicName};
use super::node::{Node, Sub, path};

const PATH_EXISTS: &str = "every indexed subscription's path exists in the trie";

/// Names one subscription of a [`TopicTrie`]. Ids are never reused by the trie that gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(u64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Topic filters with a value each, searched by the topic a message is published to.
///
/// Equal filters may be inserted many times; each insert is its own subscription and each
/// matching subscription yields its value.
pub struct TopicTrie<T> {
    root: Node<T>,
    slots: HashMap<SubscriptionId, Slot>,
    next_id: u64,
}

/// Where a subscription's value lives: the node its filter leads to, and its index there.
struct Slot {
    filter: TopicFilter,
    pos: usize,
}

impl<T> Default for TopicTrie<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TopicTrie<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicTrie")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T> TopicTrie<T> {
    pub fn new() -> Self {
        Self {
            root: Node::default(),
            slots: HashMap::new(),
            next_id: 0,
        }
    }

    /// Adds a subscription to `filter` carrying `value`.
    pub fn insert(&mut self, filter: &TopicFilter, value: T) -> SubscriptionId {
        let id = SubscriptionId(self.next_id);
        self.next_id += 1;
        let (levels, multi) = path(filter);
        let mut node = &mut self.root;
        node.count += 1;
        for level in levels {
            node = node.child_or_insert(level);
            node.count += 1;
        }
        let subs = node.subs_mut(multi);
        let pos = subs.len();
        subs.push(Sub { id, value });
        self.slots.insert(
            id,
            Slot {
                filter: filter.clone(),
                pos,
            },
        );
        id
    }

    /// Removes a subscription and returns its value; `None` if `id` is not (or no longer) in
    /// this trie.
    pub fn remove(&mut self, id: SubscriptionId) -> Option<T> {
        let slot = self.slots.remove(&id)?;
        let (mut levels, multi) = path(&slot.filter);
        let mut node = &mut self.root;
        node.count -= 1;
        while let Some(level) = levels.next() {
            if node.child(level).expect(PATH_EXISTS).count == 1 {
                // This subscription is the only one below: cut the branch off whole.
                let mut branch = node.detach(level).expect(PATH_EXISTS);
                for level in levels {
                    branch = branch.detach(level).expect(PATH_EXISTS);
                }
                return branch.subs_mut(multi).pop().map(|sub| sub.value);
            }
            node = node.child_mut(level).expect(PATH_EXISTS);
            node.count -= 1;
        }
        let subs = node.subs_mut(multi);
        let sub = subs.swap_remove(slot.pos);
        if let Some(moved) = subs.get(slot.pos) {
            self.slots.get_mut(&moved.id).expect(PATH_EXISTS).pos = slot.pos;
        }
        Some(sub.value)
    }

    /// The value of a subscription.
    pub fn get(&self, id: SubscriptionId) -> Option<&T> {
        let slot = self.slots.get(&id)?;
        let (levels, multi) = path(&slot.filter);
        let mut node = &self.root;
        for level in levels {
            node = node.child(level)?;
        }
        node.subs(multi).get(slot.pos).map(|sub| &sub.value)
    }

    /// The filter a subscription was inserted with.
    pub fn filter(&self, id: SubscriptionId) -> Option<&TopicFilter> {
        self.slots.get(&id).map(|slot| &slot.filter)
    }

    pub fn contains(&self, id: SubscriptionId) -> bool {
        self.slots.contains_key(&id)
    }

    /// The values of every subscription whose filter matches `topic` (MQTT 3.1.1 §4.7; see
    /// the [module docs](super) for the details), in no particular order.
    pub fn matches<'a>(&'a self, topic: &'a TopicName) -> Matches<'a, T> {
        Matches::new(&self.root, topic)
    }

    /// The number of subscriptions.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Removes every subscription. Ids given out before are not reused.
    pub fn clear(&mut self) {
        self.root = Node::default();
        self.slots.clear();
    }

    /// Test only: counts add up, no node but the root is empty, and every slot points at
    /// its value.
    #[cfg(test)]
    pub(super) fn check_invariants(&self) {
        assert_eq!(self.root.count, self.len());
        let mut pending = vec![(&self.root, true)];
        let mut seen = 0;
        while let Some((node, is_root)) = pending.pop() {
            let children: Vec<&Node<T>> = node.exact.values().chain(node.plus.as_deref()).collect();
            let below: usize = children.iter().map(|c| c.count).sum();
            assert_eq!(node.count, node.here.len() + node.multi.len() + below);
            assert!(is_root || node.count > 0, "an empty node was left behind");
            assert!(!node.exact.contains_key("+") && !node.exact.contains_key("#"));
            seen += node.here.len() + node.multi.len();
            pending.extend(children.into_iter().map(|c| (c, false)));
        }
        assert_eq!(seen, self.len());
        for (id, slot) in &self.slots {
            let (levels, multi) = path(&slot.filter);
            let mut node = &self.root;
            for level in levels {
                node = node.child(level).expect("path exists");
            }
            assert_eq!(node.subs(multi)[slot.pos].id, *id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(s: &str) -> TopicFilter {
        TopicFilter::new(s).expect("valid filter")
    }

    fn name(s: &str) -> TopicName {
        TopicName::new(s).expect("valid name")
    }

    fn sorted<T: Ord + Copy>(trie: &TopicTrie<T>, topic: &str) -> Vec<T> {
        let topic = name(topic);
        let mut found: Vec<T> = trie.matches(&topic).copied().collect();
        found.sort();
        found
    }

    #[test]
    fn insert_remove_and_reinsert() {
        let mut trie = TopicTrie::new();
        assert!(trie.is_empty());
        let a = trie.insert(&filter("a/+"), 1);
        let b = trie.insert(&filter("a/#"), 2);
        let c = trie.insert(&filter("a/+"), 3);
        let d = trie.insert(&filter("a/b"), 4);
        trie.check_invariants();
        assert_eq!(trie.len(), 4);
        assert_eq!(sorted(&trie, "a/b"), [1, 2, 3, 4]);
        assert_eq!(trie.get(c), Some(&3));
        assert_eq!(trie.filter(b).map(TopicFilter::as_str), Some("a/#"));

        assert_eq!(trie.remove(a), Some(1));
        assert_eq!(trie.remove(a), None, "removing twice");
        assert!(!trie.contains(a));
        assert_eq!(trie.get(c), Some(&3), "the moved value is still found");
        trie.check_invariants();
        assert_eq!(sorted(&trie, "a/b"), [2, 3, 4]);

        let e = trie.insert(&filter("a/+"), 5);
        assert_ne!(e, a, "ids are not reused");
        assert_eq!(sorted(&trie, "a/x"), [2, 3, 5]);
        for id in [b, c, d, e] {
            assert!(trie.remove(id).is_some());
            trie.check_invariants();
        }
        assert!(trie.is_empty());
        assert!(trie.root.exact.is_empty() && trie.root.plus.is_none());
        assert_eq!(sorted(&trie, "a/b"), Vec::<i32>::new());
    }

    #[test]
    fn removing_one_of_a_shared_branch_keeps_the_rest() {
        let mut trie = TopicTrie::new();
        let deep = trie.insert(&filter("a/b/c/d"), 1);
        let shallow = trie.insert(&filter("a/b"), 2);
        assert_eq!(trie.remove(deep), Some(1));
        trie.check_invariants();
        assert_eq!(sorted(&trie, "a/b"), [2]);
        assert_eq!(trie.remove(shallow), Some(2));
        trie.check_invariants();
        assert!(trie.root.exact.is_empty());
    }

    #[test]
    fn clear_keeps_ids_unique() {
        let mut trie = TopicTrie::new();
        let a = trie.insert(&filter("#"), 1);
        trie.clear();
        assert!(trie.is_empty());
        assert_eq!(trie.get(a), None);
        let b = trie.insert(&filter("#"), 2);
        assert_ne!(a, b);
        assert_eq!(sorted(&trie, "x"), [2]);
    }

    #[test]
    fn very_deep_filters_do_not_overflow_the_stack() {
        let levels = 30_000;
        let deep = vec!["+"; levels].join("/");
        let topic = vec!["x"; levels].join("/");
        let mut trie = TopicTrie::new();
        let id = trie.insert(&filter(&deep), 1);
        trie.insert(&filter(&format!("{deep}/#")), 2);
        assert_eq!(sorted(&trie, &topic), [1, 2]);
        assert_eq!(trie.remove(id), Some(1));
        assert_eq!(sorted(&trie, &topic), [2]);
        drop(trie);
    }

    /// Not a benchmark (those live in benches/): it only has to finish, which it would not
    /// in reasonable time if matching scanned every subscription or the walk blew up.
    #[test]
    fn ten_thousand_subscriptions_and_topics() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut trie = TopicTrie::new();
        let mut ids = Vec::new();
        for i in 0..10_000 {
            let depth = rng.usize(1..8);
            let mut levels: Vec<String> = (0..depth)
                .map(|_| match rng.u32(0..44) {
                    0..4 => "+".to_owned(),
                    n => format!("l{n}"),
                })
                .collect();
            if rng.u8(0..10) == 0 {
                levels.push("#".to_owned());
            }
            ids.push(trie.insert(&filter(&levels.join("/")), i));
        }
        let mut total = 0;
        for _ in 0..10_000 {
            let depth = rng.usize(1..9);
            let topic: Vec<String> = (0..depth).map(|_| format!("l{}", rng.u32(4..44))).collect();
            total += trie.matches(&name(&topic.join("/"))).count();
        }
        assert!(total > 0, "some random topics match");
        for id in ids.into_iter().step_by(2) {
            trie.remove(id);
        }
        trie.check_invariants();
        assert_eq!(trie.len(), 5_000);
    }
}
