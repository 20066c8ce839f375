//! The pattern syntax, read by recursive descent into the [`Node`] tree the matcher runs.

use super::{Item, MAX_REPEAT, Node};

/// Parses a whole pattern; the error says what is wrong and where.
pub(super) fn parse(source: &str) -> Result<Node, String> {
    let mut p = Parser {
        chars: source.chars().collect(),
        pos: 0,
    };
    let node = p.alternation()?;
    match p.peek() {
        None => Ok(node),
        Some(c) => Err(format!("unmatched '{c}' at character {}", p.pos + 1)),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        self.pos += usize::from(found);
        found
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut options = vec![self.concatenation()?];
        while self.eat('|') {
            options.push(self.concatenation()?);
        }
        Ok(if options.len() == 1 {
            options.remove(0)
        } else {
            Node::Alt(options)
        })
    }

    fn concatenation(&mut self) -> Result<Node, String> {
        let mut parts = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            parts.push(self.quantified(atom)?);
        }
        Ok(match parts.len() {
            0 => Node::Empty,
            1 => parts.remove(0),
            _ => Node::Concat(parts),
        })
    }

    /// An optional quantifier after `atom`. A second one (`a**`) is refused by the next
    /// [`Parser::atom`] call, as Java refuses it.
    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                self.pos += 1;
                self.bounds()?
            }
            _ => return Ok(atom),
        };
        // Past the quantifier character, or the `}` that `bounds` stopped on.
        self.pos += 1;
        if self.eat('+') {
            return Err("possessive quantifiers (such as a*+) are not supported".to_string());
        }
        // A lazy quantifier (`*?`) matches the same whole strings as the greedy one.
        self.eat('?');
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    /// After `{`: `n}`, `n,}` or `n,m}`; stops on the `}`.
    fn bounds(&mut self) -> Result<(u32, Option<u32>), String> {
        let min = self.number()?.ok_or("expected a number after '{'")?;
        let max = if self.eat(',') {
            self.number()?
        } else {
            Some(min)
        };
        if self.peek() != Some('}') {
            return Err("unclosed '{'".to_string());
        }
        if let Some(max) = max.filter(|&m| m < min) {
            return Err(format!(
                "{{{min},{max}}} has its bounds the wrong way round"
            ));
        }
        Ok((min, max))
    }

    fn number(&mut self) -> Result<Option<u32>, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Ok(None);
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        match digits.parse::<u32>() {
            Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
            _ => Err(format!(
                "repetition counts above {MAX_REPEAT} are not supported"
            )),
        }
    }

    fn atom(&mut self) -> Result<Node, String> {
        let at = self.pos + 1;
        let Some(c) = self.next() else {
            return Ok(Node::Empty);
        };
        Ok(match c {
            '(' => {
                if self.eat('?') && !self.eat(':') {
                    return Err(format!(
                        "unsupported group construct '(?' at character {at}"
                    ));
                }
                let inner = self.alternation()?;
                if !self.eat(')') {
                    return Err(format!("unclosed '(' at character {at}"));
                }
                inner
            }
            '[' => self.class(at)?,
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '\\' => match self.escape()? {
                Escaped::Char(c) => Node::Char(c),
                Escaped::Item(item) => Node::Class {
                    negated: false,
                    items: vec![item],
                },
            },
            '*' | '+' | '?' | '{' => {
                return Err(format!("nothing to repeat before '{c}' at character {at}"));
            }
            c => Node::Char(c),
        })
    }

    fn class(&mut self, at: usize) -> Result<Node, String> {
        let negated = self.eat('^');
        let mut items = Vec::new();
        loop {
            let c = self
                .next()
                .ok_or(format!("unclosed '[' at character {at}"))?;
            let lo = match c {
                ']' if !items.is_empty() => break,
                ']' => return Err(format!("empty class at character {at}")),
                '[' => return Err("nested classes are not supported".to_string()),
                '&' if self.peek() == Some('&') => {
                    return Err("class intersections (&&) are not supported".to_string());
                }
                '\\' => match self.escape()? {
                    Escaped::Char(c) => c,
                    Escaped::Item(item) => {
                        items.push(item);
                        continue;
                    }
                },
                c => c,
            };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&c| c != ']') {
                self.pos += 1;
                let hi = match self.next() {
                    Some('\\') => match self.escape()? {
                        Escaped::Char(c) => c,
                        Escaped::Item(_) => return Err("a range cannot end in a class".to_string()),
                    },
                    Some(c) => c,
                    None => return Err(format!("unclosed '[' at character {at}")),
                };
                if hi < lo {
                    return Err(format!("range {lo}-{hi} is out of order"));
                }
                items.push(Item::Range(lo, hi));
            } else {
                items.push(Item::Range(lo, lo));
            }
        }
        Ok(Node::Class { negated, items })
    }

    /// After `\`.
    fn escape(&mut self) -> Result<Escaped, String> {
        let c = self.next().ok_or("a pattern cannot end in '\\'")?;
        Ok(match c {
            'd' | 'D' => Escaped::Item(Item::Digit(c == 'D')),
            'w' | 'W' => Escaped::Item(Item::Word(c == 'W')),
            's' | 'S' => Escaped::Item(Item::Space(c == 'S')),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\x0C'),
            c if c.is_ascii_alphanumeric() => {
                return Err(format!("unsupported escape '\\{c}'"));
            }
            c => Escaped::Char(c),
        })
    }
}

enum Escaped {
    Char(char),
    Item(Item),
}
