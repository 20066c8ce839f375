//! A small regular-expression matcher for `/regex/` platform values.
//!
//! The workspace has no `regex` crate and one `Platform: {architecture: /arm.*/}` does not
//! justify adding it, so this covers the part of Java's syntax platform values use:
//! literals, `.`, classes (`[a-z0-9_]`, `[^x]`, `\d \w \s` and their negations), groups
//! (`(…)`, `(?:…)`), `|`, the quantifiers `* + ? {n} {n,} {n,m}` (lazy forms are accepted;
//! they match the same set of strings) and `^`/`$`. Anything else (look-around,
//! back-references, inline flags, possessive quantifiers, class intersections) is refused
//! when the recipe is parsed, so a pattern never silently means something else.
//!
//! Like Java's `String.matches`, a pattern must match the whole value. Matching tracks the
//! set of reachable positions instead of backtracking, so it is polynomial for any pattern.

/// Largest `{n,m}` bound accepted.
const MAX_REPEAT: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class { negated: bool, items: Vec<Item> },
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
    Start,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Range(char, char),
    Digit(bool),
    Word(bool),
    Space(bool),
}

impl Item {
    fn test(self, c: char) -> bool {
        match self {
            Item::Range(lo, hi) => lo <= c && c <= hi,
            Item::Digit(neg) => c.is_ascii_digit() != neg,
            Item::Word(neg) => (c.is_ascii_alphanumeric() || c == '_') != neg,
            Item::Space(neg) => matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C') != neg,
        }
    }
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Node);

impl Pattern {
    /// Compiles `source` (without the surrounding slashes); the error says what is wrong.
    pub fn compile(source: &str) -> Result<Self, String> {
        parse::parse(source).map(Self)
    }

    /// Whether the pattern matches all of `text`.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let mut starts = vec![false; text.len() + 1];
        starts[0] = true;
        run(&self.0, &text, &starts)[text.len()]
    }
}

/// The positions reachable after `node`, from any of `starts`.
fn run(node: &Node, text: &[char], starts: &[bool]) -> Vec<bool> {
    let n = text.len();
    let mut out = vec![false; n + 1];
    let one = |out: &mut Vec<bool>, test: &dyn Fn(char) -> bool| {
        for i in 0..n {
            if starts[i] && test(text[i]) {
                out[i + 1] = true;
            }
        }
    };
    match node {
        Node::Empty => out.copy_from_slice(starts),
        Node::Char(c) => one(&mut out, &|x| x == *c),
        Node::Any => one(&mut out, &|x| x != '\n' && x != '\r'),
        Node::Class { negated, items } => {
            one(&mut out, &|x| items.iter().any(|i| i.test(x)) != *negated)
        }
        Node::Start => out[0] = starts[0],
        Node::End => out[n] = starts[n],
        Node::Concat(parts) => {
            out.copy_from_slice(starts);
            for part in parts {
                out = run(part, text, &out);
            }
        }
        Node::Alt(options) => {
            for option in options {
                for (o, r) in out.iter_mut().zip(run(option, text, starts)) {
                    *o |= r;
                }
            }
        }
        Node::Repeat(inner, min, max) => {
            let mut frontier = starts.to_vec();
            for _ in 0..*min {
                frontier = run(inner, text, &frontier);
            }
            out.copy_from_slice(&frontier);
            // Only positions reached for the first time need exploring again: reaching one
            // earlier leaves at least as many repetitions to spend from it.
            let mut count = *min;
            while max.is_none_or(|m| count < m) {
                let next = run(inner, text, &frontier);
                frontier = next.iter().zip(&out).map(|(n, o)| *n && !*o).collect();
                if !frontier.contains(&true) {
                    break;
                }
                for (o, f) in out.iter_mut().zip(&frontier) {
                    *o |= f;
                }
                count += 1;
            }
        }
    }
    out
}

mod parse;

#[cfg(test)]
mod tests;
