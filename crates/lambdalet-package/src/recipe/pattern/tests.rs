//! The matcher against a table of Java `String.matches` results, and the refusals.

use super::*;

#[test]
fn matches_whole_values_like_java() {
    let table: &[(&str, &str, bool)] = &[
        ("arm.*", "armv7l", true),
        ("arm.*", "aarch64", false),
        ("arm", "armv7", false),
        ("windows|linux", "linux", true),
        ("windows|linux", "linuxx", false),
        ("(amd|x86_)64", "x86_64", true),
        ("(?:amd|x86_)64", "amd64", true),
        ("a[0-9]+", "a123", true),
        ("a[0-9]+", "a", false),
        ("[^x]\\d{2}", "a42", true),
        ("[^x]\\d{2}", "x42", false),
        ("\\w+-\\w+", "arm-v7", true),
        ("v\\d{1,2}", "v123", false),
        ("v\\d{2,}", "v123", true),
        ("colou?r", "color", true),
        ("a.c", "a-c", true),
        (".+", "", false),
        (".*", "", true),
        ("^linux$", "linux", true),
        ("a.*?b", "axxb", true),
        ("a\\.b", "a.b", true),
        ("a\\.b", "axb", false),
        ("[a-c-]+", "a-b", true),
        ("[\\w.]+", "arch.detail", true),
        ("\\S+", "a b", false),
        ("", "", true),
        ("(a|ab)(c|bcd)(d*)", "abcd", true),
    ];
    for (pattern, text, expected) in table {
        let p = Pattern::compile(pattern).unwrap();
        assert_eq!(p.matches(text), *expected, "/{pattern}/ on {text:?}");
    }
}

#[test]
fn pathological_patterns_stay_fast() {
    let p = Pattern::compile("(a*)*(a|b)*(a+)+c").unwrap();
    assert!(!p.matches(&"a".repeat(200)));
    assert!(p.matches(&format!("{}c", "a".repeat(200))));
}

#[test]
fn unsupported_or_broken_syntax_is_refused() {
    let table: &[(&str, &str)] = &[
        ("(arm", "unclosed '(' at character 1"),
        ("arm)", "unmatched ')' at character 4"),
        ("[a-", "unclosed '[' at character 1"),
        ("*a", "nothing to repeat before '*' at character 1"),
        ("a**", "nothing to repeat before '*' at character 3"),
        (
            "a*+",
            "possessive quantifiers (such as a*+) are not supported",
        ),
        ("(?=a)", "unsupported group construct '(?' at character 1"),
        (
            "(?i)linux",
            "unsupported group construct '(?' at character 1",
        ),
        ("\\1", "unsupported escape '\\1'"),
        ("\\bx", "unsupported escape '\\b'"),
        ("a{3,1}", "{3,1} has its bounds the wrong way round"),
        ("a{2000}", "repetition counts above 1000 are not supported"),
        ("a{x}", "expected a number after '{'"),
        ("a{2", "unclosed '{'"),
        ("[z-a]", "range z-a is out of order"),
        ("[]", "empty class at character 1"),
        ("[a&&b]", "class intersections (&&) are not supported"),
        ("a\\", "a pattern cannot end in '\\'"),
    ];
    for (pattern, message) in table {
        assert_eq!(
            Pattern::compile(pattern).err().as_deref(),
            Some(*message),
            "/{pattern}/"
        );
    }
}
