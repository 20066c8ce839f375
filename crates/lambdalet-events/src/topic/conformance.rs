//! Tests that the two matchers, [`TopicFilter::matches`] and [`TopicTrie`], follow MQTT 3.1.1
//! §4.7: the spec's own examples, and random filters and topics checked against a naive
//! level-by-level matcher written here from the spec's text.

use proptest::prelude::*;

use super::{TopicError, TopicFilter, TopicName, TopicTrie};

/// The spec's rules, as plainly as possible: split both on `/` and compare level by level.
fn naive_matches(filter: &str, topic: &str) -> bool {
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    if topic.starts_with('$') && (f[0] == "+" || f[0] == "#") {
        return false;
    }
    for i in 0.. {
        if i == f.len() {
            return i == t.len();
        }
        if f[i] == "#" {
            // The rest of the topic, however many levels, none included.
            return true;
        }
        if i == t.len() || (f[i] != "+" && f[i] != t[i]) {
            return false;
        }
    }
    unreachable!("the loop returns")
}

fn naive_valid_filter(filter: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    !filter.is_empty()
        && !filter.contains('\0')
        && levels.iter().enumerate().all(|(i, level)| {
            *level == "+" || (*level == "#" && i == levels.len() - 1) || !level.contains(['+', '#'])
        })
}

fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s).expect("valid filter")
}

fn name(s: &str) -> TopicName {
    TopicName::new(s).expect("valid name")
}

/// (filter, topic, matches?) — MQTT 3.1.1 §4.7.1-§4.7.2 examples, and more edge cases.
const TABLE: &[(&str, &str, bool)] = &[
    ("sport/tennis/player1/#", "sport/tennis/player1", true),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/ranking",
        true,
    ),
    (
        "sport/tennis/player1/#",
        "sport/tennis/player1/score/wimbledon",
        true,
    ),
    ("sport/tennis/player1/#", "sport/tennis/player2", false),
    ("sport/tennis/player1/#", "sport/tennis", false),
    ("sport/#", "sport", true),
    ("sport/#", "sport/", true),
    ("sport/#", "sports", false),
    ("sport/tennis/#", "sport/tennis", true),
    ("sport/tennis/#", "sport/tennis/x/y/z", true),
    ("sport/tennis/+", "sport/tennis/player1", true),
    ("sport/tennis/+", "sport/tennis/player2", true),
    ("sport/tennis/+", "sport/tennis/player1/ranking", false),
    ("sport/+", "sport", false),
    ("sport/+", "sport/", true),
    ("+/tennis/#", "sport/tennis", true),
    ("+/tennis/#", "sport/tennis/player1", true),
    ("+/+", "/finance", true),
    ("/+", "/finance", true),
    ("+", "/finance", false),
    ("+", "finance", true),
    ("+/#", "a", true),
    ("#", "sport", true),
    ("#", "/", true),
    ("#", "a/b/c", true),
    ("#", "$SYS", false),
    ("#", "$SYS/monitor/Clients", false),
    ("+", "$SYS", false),
    ("+/#", "$SYS", false),
    ("+/monitor/Clients", "$SYS/monitor/Clients", false),
    ("$SYS/#", "$SYS/x", true),
    ("$SYS/#", "$SYS", true),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
    ("$SYS/monitor/Clients", "$SYS/monitor/Clients", true),
    ("a/$b/#", "a/$b/c", true),
    ("+/$b", "a/$b", true),
    ("a//b", "a//b", true),
    ("a/+/b", "a//b", true),
    ("a//b", "a/b", false),
    ("a/+", "a//", false),
    ("a/+/+", "a//", true),
    ("/#", "/", true),
    ("/#", "a", false),
    ("/", "/", true),
    ("a/", "a", false),
    ("a", "a/", false),
    ("A", "a", false),
    ("a/b", "a/b/c", false),
    ("a/b/c", "a/b", false),
];

#[test]
fn mqtt_examples() {
    // One trie holding every filter of the table, to see they do not disturb each other.
    let mut all = TopicTrie::new();
    for (i, (f, _, _)) in TABLE.iter().enumerate() {
        all.insert(&filter(f), i);
    }
    for (i, &(f, t, expected)) in TABLE.iter().enumerate() {
        let (f, t) = (filter(f), name(t));
        assert_eq!(
            naive_matches(f.as_str(), t.as_str()),
            expected,
            "naive: {f} vs {t}"
        );
        assert_eq!(f.matches(&t), expected, "TopicFilter::matches: {f} vs {t}");
        let mut one = TopicTrie::new();
        one.insert(&f, ());
        assert_eq!(
            one.matches(&t).count(),
            usize::from(expected),
            "trie: {f} vs {t}"
        );
        assert_eq!(
            all.matches(&t).any(|&j| j == i),
            expected,
            "big trie: {f} vs {t}"
        );
    }
}

#[test]
fn equal_filters_each_match() {
    let mut trie = TopicTrie::new();
    for v in 0..3 {
        trie.insert(&filter("a/+"), v);
    }
    trie.insert(&filter("a/b"), 3);
    trie.insert(&filter("#"), 4);
    let mut found: Vec<i32> = trie.matches(&name("a/b")).copied().collect();
    found.sort();
    assert_eq!(found, [0, 1, 2, 3, 4]);
}

#[test]
fn greengrass_message_for_a_wildcard_publish() {
    let e = TopicName::new("a/+").expect_err("wildcard");
    assert!(matches!(e, TopicError::WildcardInName { .. }));
    assert!(
        e.to_string()
            .starts_with("publish topic \"a/+\" must not contain a wildcard")
    );
}

/// Filters of 1 to 4 levels (then maybe `#`) from a small alphabet, sometimes ending in `#`, sometimes
/// starting with a `$` level; all valid by construction.
fn filter_strategy() -> impl Strategy<Value = String> {
    let level = prop_oneof![Just("a"), Just("b"), Just(""), Just("+"), Just("$a")];
    (
        prop::collection::vec(level, 1..5),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash, hash_alone)| {
            if hash_alone && hash {
                return "#".to_owned();
            }
            if hash {
                levels.push("#");
            }
            non_empty(levels.join("/"))
        })
}

fn topic_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just(""), Just("$a")],
        1..6,
    )
    .prop_map(|l| non_empty(l.join("/")))
}

/// A lone empty level makes an empty topic, which is invalid; use two empty levels instead.
fn non_empty(topic: String) -> String {
    if topic.is_empty() {
        "/".to_owned()
    } else {
        topic
    }
}

fn sorted_matches(trie: &TopicTrie<usize>, topic: &TopicName) -> Vec<usize> {
    let mut found: Vec<usize> = trie.matches(topic).copied().collect();
    found.sort_unstable();
    found
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn trie_agrees_with_the_naive_matcher(
        filters in prop::collection::vec(filter_strategy(), 1..150),
        topics in prop::collection::vec(topic_strategy(), 1..30),
        removed in prop::collection::vec(any::<bool>(), 150),
    ) {
        let parsed: Vec<TopicFilter> = filters.iter().map(|f| filter(f)).collect();
        let topics: Vec<TopicName> = topics.iter().map(|t| name(t)).collect();
        // expected[t][f]: does filter f match topic t, by the naive matcher.
        let expected: Vec<Vec<bool>> = topics
            .iter()
            .map(|t| filters.iter().map(|f| naive_matches(f, t.as_str())).collect())
            .collect();
        for (t, row) in topics.iter().zip(&expected) {
            for (f, &want) in parsed.iter().zip(row) {
                prop_assert_eq!(f.matches(t), want, "TopicFilter::matches: {} vs {}", f, t);
            }
        }

        let mut trie = TopicTrie::new();
        // The trie stores an index into `subs`: (index into `filters`, still subscribed?).
        let mut subs: Vec<(usize, bool)> = Vec::new();
        let mut ids = Vec::new();
        for (i, f) in parsed.iter().enumerate() {
            ids.push(trie.insert(f, i));
            subs.push((i, true));
        }
        let check = |trie: &TopicTrie<usize>, subs: &[(usize, bool)]| {
            for (t, row) in topics.iter().zip(&expected) {
                let want: Vec<usize> = (0..subs.len())
                    .filter(|&v| subs[v].1 && row[subs[v].0])
                    .collect();
                prop_assert_eq!(sorted_matches(trie, t), want, "topic {}", t);
            }
            Ok(())
        };
        check(&trie, &subs)?;

        for (i, id) in ids.iter().enumerate() {
            if removed[i] {
                prop_assert_eq!(trie.remove(*id), Some(i));
                subs[i].1 = false;
            }
        }
        trie.check_invariants();
        check(&trie, &subs)?;

        // Subscribe the removed filters again, under new values.
        for (i, f) in parsed.iter().enumerate() {
            if removed[i] {
                trie.insert(f, subs.len());
                subs.push((i, true));
            }
        }
        trie.check_invariants();
        prop_assert_eq!(trie.len(), filters.len());
        check(&trie, &subs)?;
    }

    #[test]
    fn validation_agrees_with_the_rules(raw in "[ab/+#\u{0}]{0,8}") {
        prop_assert_eq!(TopicFilter::new(raw.as_str()).is_ok(), naive_valid_filter(&raw));
        let valid_name = !raw.is_empty() && !raw.contains(['+', '#', '\0']);
        prop_assert_eq!(TopicName::new(raw.as_str()).is_ok(), valid_name);
    }
}
