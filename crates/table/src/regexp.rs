//! `regexp:/path` (regexp_table(5)) and `pcre:/path` (pcre_table(5)), both
//! compiled with the `regex` crate and matched against the full lookup key.
//!
//! Rules: `/pattern/flags result`, `!/pattern/flags result` (negation; the
//! result may not use `$n`), for `regexp:` also `/pat1/!/pat2/ result`, and
//! `if /pattern/flags` ... `endif` blocks (nestable). Any delimiter may be
//! used instead of `/`; `\` escapes it. Matching is case-insensitive unless
//! the `i` flag toggles it, as in Postfix. Flags: `regexp:` i, m, x;
//! `pcre:` i, m, s, x, A, E, U, X. `$1`, `${1}`, `$(1)` substitute matched
//! subexpressions.
//!
//! Differences from Postfix, by construction of the `regex` crate: no
//! look-around and no back-references (such rules are skipped with a
//! warning); `regexp:` uses leftmost-first instead of POSIX leftmost-longest
//! matching, and the `x` flag (POSIX basic syntax) is refused. Bad rules are
//! skipped with Postfix's warnings, readable through [`Table::warnings`].

use std::fs;

use regex::{Regex, RegexBuilder};

use crate::error::{io_text, TableError};
use crate::readlline::{is_space, logical_lines};
use crate::replacement::Replacement;
use crate::{Table, TableKind};

/// Which Postfix map type the file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Regexp,
    Pcre,
}

impl Flavor {
    fn label(self) -> &'static str {
        match self {
            Flavor::Regexp => "regexp",
            Flavor::Pcre => "pcre",
        }
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    re: Regex,
    positive: bool,
    anchored: bool,
}

impl Pattern {
    /// Leftmost match; an anchored pattern must match at the start, which is
    /// exactly when the leftmost match starts at 0.
    fn captures<'k>(&self, key: &'k str) -> Option<regex::Captures<'k>> {
        let caps = self.re.captures(key)?;
        if self.anchored && caps.get(0).map(|m| m.start()) != Some(0) {
            return None;
        }
        Some(caps)
    }

    fn is_match(&self, key: &str) -> bool {
        let found = if self.anchored {
            self.re.find(key).map(|m| m.start()) == Some(0)
        } else {
            self.re.is_match(key)
        };
        found == self.positive
    }
}

#[derive(Debug, Clone)]
enum Op {
    Match {
        first: Pattern,
        second: Option<Pattern>,
        result: Replacement,
    },
    If(Pattern),
    EndIf,
}

#[derive(Debug, Clone)]
struct Rule {
    op: Op,
    nesting: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct RegexpTable {
    name: String,
    rules: Vec<Rule>,
    warnings: Vec<String>,
}

/// A pattern as written: text between delimiters, negation and flags.
struct RawPattern {
    text: String,
    positive: bool,
    flags: String,
}

/// `dict_regexp_get_pat()`: parse `[!...]<delim>text<delim>flags` at the
/// start of `input`; returns the pattern and the rest of the line.
fn get_pat(input: &str) -> Result<(RawPattern, &str), String> {
    let mut positive = true;
    let mut rest = input;
    while let Some(r) = rest.strip_prefix('!') {
        positive = !positive;
        rest = r;
    }
    rest = rest.trim_start_matches(is_space);
    let mut chars = rest.char_indices();
    let Some((_, delim)) = chars.next() else {
        return Err("no regexp: skipping this rule".to_string());
    };
    let start = delim.len_utf8();
    let mut end = None;
    let mut escaped = false;
    for (pos, c) in chars {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            end = Some(pos);
            break;
        }
    }
    let Some(end) = end else {
        return Err(format!(
            "no closing regexp delimiter \"{delim}\": skipping this rule"
        ));
    };
    let text = rest[start..end].to_string();
    let after = &rest[end + delim.len_utf8()..];
    let flags_len = after
        .find(|c: char| is_space(c) || c == '!')
        .unwrap_or(after.len());
    Ok((
        RawPattern {
            text,
            positive,
            flags: after[..flags_len].to_string(),
        },
        &after[flags_len..],
    ))
}

fn compile(flavor: Flavor, raw: &RawPattern) -> Result<Pattern, String> {
    let mut icase = true;
    let mut multi = false;
    let mut dotall = flavor == Flavor::Regexp;
    let mut extended = false;
    let mut ungreedy = false;
    let mut anchored = false;
    for c in raw.flags.chars() {
        match (flavor, c) {
            (_, 'i') => icase = !icase,
            (Flavor::Regexp, 'm') => {
                // REG_NEWLINE: '.' stops at newlines, ^ and $ match at them.
                multi = !multi;
                dotall = !dotall;
            }
            (Flavor::Regexp, 'x') => {
                return Err(
                    "POSIX basic regular expressions (flag \"x\") are not supported: skipping this rule"
                        .to_string(),
                )
            }
            (Flavor::Pcre, 'm') => multi = !multi,
            (Flavor::Pcre, 's') => dotall = !dotall,
            (Flavor::Pcre, 'x') => extended = !extended,
            (Flavor::Pcre, 'A') => anchored = true,
            (Flavor::Pcre, 'U') => ungreedy = !ungreedy,
            // `$` never matches before a final newline here, and the regex
            // crate is already strict about unknown escapes.
            (Flavor::Pcre, 'E' | 'X') => {}
            _ => {
                return Err(format!(
                    "unknown regexp option \"{c}\": skipping this rule"
                ))
            }
        }
    }
    let re = RegexBuilder::new(&raw.text)
        .case_insensitive(icase)
        .multi_line(multi)
        .dot_matches_new_line(dotall)
        .ignore_whitespace(extended)
        .swap_greed(ungreedy)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid regular expression")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            format!("{last}: skipping this rule")
        })?;
    Ok(Pattern {
        re,
        positive: raw.positive,
        anchored,
    })
}

impl RegexpTable {
    pub(crate) fn open(spec: &str, path: &str, flavor: Flavor) -> Result<RegexpTable, TableError> {
        let content = fs::read(path)
            .map_err(|e| TableError::config(spec, format!("open {path}: {}", io_text(&e))))?;
        Ok(RegexpTable::parse(
            spec,
            path,
            flavor,
            &String::from_utf8_lossy(&content),
        ))
    }

    pub(crate) fn parse(spec: &str, path: &str, flavor: Flavor, content: &str) -> RegexpTable {
        let label = flavor.label();
        let mut warnings = Vec::new();
        let mut rules = Vec::new();
        let mut nesting = 0usize;
        let mut open_ifs: Vec<usize> = Vec::new();
        for line in logical_lines(content, path, &mut warnings) {
            let n = line.lineno;
            let text = line.text.as_str();
            let prefix = format!("{label} map {path}, line {n}: ");
            let first = text.chars().next().unwrap_or(' ');
            let word_is = |w: &str| {
                text.get(..w.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(w))
                    && !text[w.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric())
            };
            if !first.is_ascii_alphanumeric() {
                match parse_match_rule(flavor, text) {
                    Ok((op, empty)) => {
                        if empty {
                            warnings.push(format!("{prefix}using empty replacement string"));
                        }
                        rules.push(Rule { op, nesting });
                    }
                    Err(why) => warnings.push(format!("{prefix}{why}")),
                }
            } else if word_is("if") {
                let rest = text[2..].trim_start_matches(is_space);
                let parsed = get_pat(rest).and_then(|(raw, after)| {
                    let after = after.trim_matches(is_space);
                    if !after.is_empty() {
                        warnings.push(format!(
                            "{prefix}ignoring extra text after IF statement: \"{after}\""
                        ));
                    }
                    compile(flavor, &raw)
                });
                match parsed {
                    Ok(p) => {
                        rules.push(Rule {
                            op: Op::If(p),
                            nesting,
                        });
                        nesting += 1;
                        open_ifs.push(n);
                    }
                    Err(why) => warnings.push(format!("{prefix}{why}")),
                }
            } else if word_is("endif") {
                if nesting == 0 {
                    warnings.push(format!("{prefix}ignoring ENDIF without matching IF"));
                } else {
                    rules.push(Rule {
                        op: Op::EndIf,
                        nesting,
                    });
                    nesting -= 1;
                    open_ifs.pop();
                }
            } else {
                warnings.push(format!("{prefix}ignoring unrecognized request"));
            }
        }
        for n in open_ifs {
            warnings.push(format!(
                "{label} map {path}, line {n}: IF has no matching ENDIF"
            ));
        }
        RegexpTable {
            name: spec.to_string(),
            rules,
            warnings,
        }
    }
}

/// Parse `/pat/flags [!/pat2/flags] result`; the bool says the result is empty.
fn parse_match_rule(flavor: Flavor, text: &str) -> Result<(Op, bool), String> {
    let (first_raw, rest) = get_pat(text)?;
    let (second_raw, rest) = if flavor == Flavor::Regexp && rest.starts_with('!') {
        let (raw, rest) = get_pat(rest)?;
        (Some(raw), rest)
    } else {
        (None, rest)
    };
    let result_text = rest.trim_matches(is_space);
    let result = Replacement::parse(result_text)
        .map_err(|_| "bad replacement syntax: skipping this rule")?;
    if result.max_sub > 0 && !first_raw.positive {
        return Err(
            "$number found in negative match replacement text: skipping this rule".to_string(),
        );
    }
    let first = compile(flavor, &first_raw)?;
    let groups = first.re.captures_len().saturating_sub(1);
    if result.max_sub > groups {
        return Err(format!(
            "out of range replacement index \"{}\": skipping this rule",
            result.max_sub
        ));
    }
    let second = match second_raw {
        Some(raw) => Some(compile(flavor, &raw)?),
        None => None,
    };
    Ok((
        Op::Match {
            first,
            second,
            result,
        },
        result_text.is_empty(),
    ))
}

impl Table for RegexpTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> TableKind {
        TableKind::Pattern
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
        let mut level = 0usize;
        for rule in &self.rules {
            if level < rule.nesting {
                continue;
            }
            match &rule.op {
                Op::Match {
                    first,
                    second,
                    result,
                } => {
                    let caps = if first.positive && result.max_sub > 0 {
                        match first.captures(key) {
                            Some(c) => Some(c),
                            None => continue,
                        }
                    } else {
                        if !first.is_match(key) {
                            continue;
                        }
                        None
                    };
                    if let Some(second) = second {
                        if !second.is_match(key) {
                            continue;
                        }
                    }
                    let value = match caps {
                        Some(c) => result.expand(|n| c.get(n).map(|m| m.as_str())),
                        None => result.expand(|_| None),
                    };
                    return Ok(Some(value));
                }
                Op::If(p) => {
                    if p.is_match(key) {
                        level += 1;
                    }
                }
                Op::EndIf => level = level.saturating_sub(1),
            }
        }
        Ok(None)
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGEXP: &str = r#"# regexp_table(5)
/^(.*)-outgoing@(.*)$/   550 5.7.1 $1 at ${2} may not send
/^spam@/                 REJECT
/^Case@Sensitive$/i      OK case
!/\.example\.com$/       DUNNO not example
/^user@(.*)$/!/^user@bad\./ OK user at $(1)
if /^x/
/^xy/                    inside
endif
/^x/                     after if
/a\/b/                   slash
|pipe|                   other delimiter
/^empty$/
"#;

    fn regexp() -> RegexpTable {
        RegexpTable::parse("regexp:/r", "/r", Flavor::Regexp, REGEXP)
    }

    #[test]
    fn word_line_with_multibyte_text_is_a_warning_not_a_crash() {
        // Found by the fuzz target regexp_table: "if"/"endif" were compared
        // by slicing at a byte that can fall inside a character.
        let t = RegexpTable::parse(
            "regexp:/r",
            "/r",
            Flavor::Regexp,
            "0\u{e9} x\nif\u{e9}\ne\u{e9}\n",
        );
        assert_eq!(t.rules.len(), 0);
        assert!(!t.warnings.is_empty());
    }

    #[test]
    fn regexp_lookups() {
        let t = regexp();
        let cases = [
            (
                "Bob-Outgoing@Example.COM",
                Some("550 5.7.1 Bob at Example.COM may not send"),
            ),
            ("SPAM@x.example.com", Some("REJECT")),
            ("Case@Sensitive", Some("OK case")),
            ("case@sensitive", Some("DUNNO not example")),
            ("user@good.example.com", Some("OK user at good.example.com")),
            ("user@bad.example.com", None),
            ("xyz.example.com", Some("inside")),
            ("xz.example.com", Some("after if")),
            ("a/b.example.com", Some("slash")),
            ("pipe.example.com", Some("other delimiter")),
            ("empty", Some("DUNNO not example")),
            ("nobody@host.example.com", None),
        ];
        for (key, want) in cases {
            assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{key}");
        }
        assert_eq!(t.kind(), TableKind::Pattern);
        assert_eq!(
            t.warnings(),
            ["regexp map /r, line 13: using empty replacement string"]
        );
    }

    #[test]
    fn regexp_warnings() {
        let text = "/(a)/ $2\n!/(a)/ $1\n/a/q x\n/unclosed x\nword x\n/(?<=a)b/ lookbehind\nendif\nif /a/\n/a/x ok\n";
        let t = RegexpTable::parse("regexp:/w", "/w", Flavor::Regexp, text);
        let w = t.warnings();
        assert_eq!(
            w[0],
            "regexp map /w, line 1: out of range replacement index \"2\": skipping this rule"
        );
        assert_eq!(w[1], "regexp map /w, line 2: $number found in negative match replacement text: skipping this rule");
        assert_eq!(
            w[2],
            "regexp map /w, line 3: unknown regexp option \"q\": skipping this rule"
        );
        assert_eq!(
            w[3],
            "regexp map /w, line 4: no closing regexp delimiter \"/\": skipping this rule"
        );
        assert_eq!(w[4], "regexp map /w, line 5: ignoring unrecognized request");
        assert!(w[5].starts_with("regexp map /w, line 6: "), "{}", w[5]);
        assert!(w[5].ends_with(": skipping this rule"), "{}", w[5]);
        assert_eq!(
            w[6],
            "regexp map /w, line 7: ignoring ENDIF without matching IF"
        );
        assert!(
            w[7].starts_with("regexp map /w, line 9: POSIX basic"),
            "{}",
            w[7]
        );
        assert_eq!(w[8], "regexp map /w, line 8: IF has no matching ENDIF");
        assert_eq!(w.len(), 9);
    }

    #[test]
    fn pcre_flags() {
        let text = "/^abc/ default-icase\n/^Dot.X/s dotall\n/foo/A anchored\n/^(a+?)(a*)$/U $1|$2\n/^ x y $/x extended\n";
        let t = RegexpTable::parse("pcre:/p", "/p", Flavor::Pcre, text);
        assert!(t.warnings().is_empty(), "{:?}", t.warnings());
        let cases = [
            ("ABCdef", Some("default-icase")),
            ("dot\nx", Some("dotall")),
            ("foobar", Some("anchored")),
            ("barfoo", None),
            ("aaa", Some("aaa|")),
            ("xy", Some("extended")),
        ];
        for (key, want) in cases {
            assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{key:?}");
        }
    }

    #[test]
    fn regexp_dot_matches_newline_unless_m() {
        let t = RegexpTable::parse(
            "regexp:/n",
            "/n",
            Flavor::Regexp,
            "/^a.b$/ plain\n/^c$/m multi\n",
        );
        assert_eq!(t.lookup("a\nb").unwrap().as_deref(), Some("plain"));
        assert_eq!(t.lookup("x\nc\ny").unwrap().as_deref(), Some("multi"));
    }
}
