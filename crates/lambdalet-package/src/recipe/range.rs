//! The syntax of npm version ranges, checked before `nodejs_semver` reads one.
//!
//! `nodejs_semver::Range::parse` falls back to a loose parser that drops what it does not
//! understand: `>=2.0.0 <<3.0.0` becomes `>=2.0.0` and `1.2.3 foo` becomes `1.2.3`. A typo
//! in a `VersionRequirement` must not widen it silently, so a requirement has to pass
//! node-semver's documented grammar first:
//!
//! ```text
//! range-set  ::= range ( '||' range ) *        (no empty range beside '||')
//! range      ::= partial ' - ' partial | simple ( ' ' simple ) * | ''
//! simple     ::= ( '<' | '>' | '>=' | '<=' | '=' | '~' | '~>' | '^' ) ? ' '* partial
//! partial    ::= 'v'? xr ( '.' xr ( '.' xr qualifier ? ) ? ) ?
//! xr         ::= 'x' | 'X' | '*' | nr           nr ::= '0' | [1-9] [0-9] *
//! qualifier  ::= ( '-' parts ) ? ( '+' parts ) ?   parts ::= [-0-9A-Za-z]+ ( '.' … ) *
//! ```

/// Whether `range` follows the grammar above.
pub(crate) fn valid_range(range: &str) -> bool {
    let alternatives: Vec<&str> = range.split("||").map(str::trim).collect();
    if alternatives.len() > 1 && alternatives.iter().any(|a| a.is_empty()) {
        return false;
    }
    alternatives.into_iter().all(valid_alternative)
}

fn valid_alternative(range: &str) -> bool {
    if let Some((low, high)) = range.split_once(" - ") {
        return partial(low.trim()) && partial(high.trim());
    }
    let mut tokens = range.split_whitespace();
    while let Some(token) = tokens.next() {
        // An operator may stand apart from its version: `>= 1.2.0`.
        let joined;
        let simple = if OPERATORS.contains(&token) {
            let Some(version) = tokens.next() else {
                return false;
            };
            joined = format!("{token}{version}");
            joined.as_str()
        } else {
            token
        };
        if !valid_simple(simple) {
            return false;
        }
    }
    true
}

/// Longest first, so `>=` is not read as `>` followed by `=1.0.0`.
const OPERATORS: [&str; 8] = [">=", "<=", "~>", ">", "<", "=", "~", "^"];

fn valid_simple(simple: &str) -> bool {
    let rest = OPERATORS
        .iter()
        .find_map(|op| simple.strip_prefix(op))
        .unwrap_or(simple);
    partial(rest)
}

fn partial(text: &str) -> bool {
    let text = text.strip_prefix('v').unwrap_or(text);
    let (core, qualifier) = match text.find(['-', '+']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| xr(p)) {
        return false;
    }
    if qualifier.is_empty() {
        return true;
    }
    if parts.len() != 3 {
        return false;
    }
    let (pre, build) = match qualifier.split_once('+') {
        Some((pre, build)) => (pre, Some(build)),
        None => (qualifier, None),
    };
    let pre = pre.strip_prefix('-');
    pre.is_none_or(identifiers) && build.is_none_or(identifiers)
}

fn xr(part: &str) -> bool {
    matches!(part, "x" | "X" | "*") || number(part)
}

fn number(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_digit())
        && (part == "0" || !part.starts_with('0'))
}

fn identifiers(parts: &str) -> bool {
    parts
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        let good = [
            "",
            "*",
            "x",
            "1",
            "1.x",
            "1.2.X",
            "1.2.3",
            "v1.2.3",
            "=1.2.3",
            ">=2.0.0 <3.0.0",
            ">= 2.0.0  < 3.0.0",
            "^1.2",
            "~1.2.3",
            "~>1.2",
            "1.0.0 - 2.0.0",
            ">=1.0.0 || 0.9.x",
            "~1.2.3 || ^2",
            ">=1.0.0-rc.1 <2.0.0",
            "1.2.3+build.5",
            "1.2.3-beta-2+exp.sha.5114f85",
        ];
        for range in good {
            assert!(valid_range(range), "{range:?} should be valid");
        }
        let bad = [
            ">=2.0.0 <<3.0.0",
            "1.2.3 foo",
            "1.0.0 -",
            ">=1.0.0 ||",
            "|| 1.0.0",
            "latest",
            "abc",
            "1.2.3.4",
            "01.2.3",
            ">=1.0.0,<2.0.0",
            "!1.0.0",
            "^^1",
            "1.2-rc.1",
            "1.2.3-",
            "1.2.3-a..b",
            ">=",
            "1.0.0 - 2.0.0 - 3.0.0",
        ];
        for range in bad {
            assert!(!valid_range(range), "{range:?} should be invalid");
        }
    }
}
