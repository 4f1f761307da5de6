//! Result text of regexp/pcre rules: `$1`, `${1}`, `$(1)` insert the text of
//! a matched subexpression (empty when it did not take part), `$$` is a
//! literal `$`. Parsed once when the table is opened, like Postfix's
//! `mac_parse()` pre-scan.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replacement {
    parts: Vec<Part>,
    /// Largest `$number` used (0: plain text).
    pub max_sub: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Replacement {
    /// Parse result text; the error is Postfix's reason for skipping the rule.
    pub(crate) fn parse(text: &str) -> Result<Replacement, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut max_sub = 0usize;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                lit.push(c);
                continue;
            }
            if chars.peek() == Some(&'$') {
                chars.next();
                lit.push('$');
                continue;
            }
            let mut name = String::new();
            match chars.peek().copied() {
                Some(open @ ('(' | '{')) => {
                    chars.next();
                    let close = if open == '(' { ')' } else { '}' };
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == close {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!("unbalanced {open}"));
                    }
                }
                _ => {
                    while let Some(&c) = chars.peek() {
                        if !is_name_char(c) {
                            break;
                        }
                        name.push(c);
                        chars.next();
                    }
                }
            }
            if name.is_empty() {
                return Err(format!("empty macro name: \"{text}\""));
            }
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("non-numeric replacement index \"{name}\""));
            }
            let n = name
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("out-of-range replacement index \"{name}\""))?;
            if !lit.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut lit)));
            }
            parts.push(Part::Group(n));
            max_sub = max_sub.max(n);
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(Replacement { parts, max_sub })
    }

    /// Build the result; `group(n)` returns the matched text of group `n`.
    pub(crate) fn expand<'a>(&self, group: impl Fn(usize) -> Option<&'a str>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Group(n) => out.push_str(group(*n).unwrap_or("")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_expand() {
        let groups = ["all", "one", "two"];
        let g = |n: usize| groups.get(n).copied();
        let cases = [
            ("REJECT $1 and ${2}", "REJECT one and two", 2),
            ("$(1)x$$y", "onex$y", 1),
            ("plain $$5", "plain $5", 0),
            ("$3 missing", " missing", 3),
            ("", "", 0),
        ];
        for (text, want, max) in cases {
            let r = Replacement::parse(text).unwrap();
            assert_eq!(r.expand(g), want, "{text}");
            assert_eq!(r.max_sub, max, "{text}");
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("x $a", "non-numeric replacement index \"a\""),
            ("x ${0}", "out-of-range replacement index \"0\""),
            ("x ${1", "unbalanced {"),
            ("cost $ 5", "empty macro name: \"cost $ 5\""),
        ];
        for (text, want) in cases {
            assert_eq!(Replacement::parse(text).unwrap_err(), want, "{text}");
        }
    }
}
