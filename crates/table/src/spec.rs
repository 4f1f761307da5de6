//! Table specifications: `[proxy:]type:name`, and the `{ ... }` brace
//! helpers Postfix uses for `inline:{...}`, `static:{...}` and match-list
//! files (`mystrtokq()` and `extpar()`).

use crate::error::TableError;
use crate::readlline::is_space;

/// A parsed `type:name`, with `proxy:` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub kind: String,
    pub name: String,
}

/// Split `[proxy:]type:name`. The `proxy:` prefix only moves lookups to
/// Postfix's proxymap server; here the table is opened directly.
pub(crate) fn parse_spec(spec: &str) -> Result<Spec, TableError> {
    let mut rest = spec.trim();
    while let Some(inner) = rest.strip_prefix("proxy:") {
        rest = inner;
    }
    match rest.split_once(':') {
        Some((kind, name)) if !kind.is_empty() => Ok(Spec {
            kind: kind.to_ascii_lowercase(),
            name: name.to_string(),
        }),
        _ => Err(TableError::config(
            spec,
            format!("open dictionary: expecting \"type:name\" form instead of \"{spec}\""),
        )),
    }
}

fn is_sep(c: char) -> bool {
    c == ',' || is_space(c)
}

/// Split on commas and whitespace, keeping `{ ... }` groups (nested braces
/// allowed) in one token, like Postfix's `mystrtokq(CHARS_COMMA_SP, "{}")`.
pub(crate) fn split_brace_list(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        if depth == 0 && is_sep(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Remove the outer `{ }` of `text` and the whitespace just inside them
/// (Postfix `extpar(..., EXTPAR_FLAG_STRIP)`). Text without a leading `{`
/// is returned trimmed.
pub(crate) fn extpar(text: &str) -> Result<String, String> {
    let trimmed = text.trim_matches(is_space);
    let Some(inner) = trimmed.strip_prefix('{') else {
        return Ok(trimmed.to_string());
    };
    let mut depth = 1usize;
    for (pos, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let after = &inner[pos + 1..];
                    if !after.trim_matches(is_space).is_empty() {
                        return Err(format!("syntax error after '}}' in \"{trimmed}\""));
                    }
                    return Ok(inner[..pos].trim_matches(is_space).to_string());
                }
            }
            _ => {}
        }
    }
    Err(format!("missing '}}' in \"{trimmed}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let cases = [
            ("hash:/etc/postfix/access", "hash", "/etc/postfix/access"),
            ("proxy:hash:/etc/aliases", "hash", "/etc/aliases"),
            ("inline:{a=b}", "inline", "{a=b}"),
            ("static:{550 5.7.1 no}", "static", "{550 5.7.1 no}"),
            ("unix:passwd.byname", "unix", "passwd.byname"),
            ("CIDR:/x", "cidr", "/x"),
        ];
        for (spec, kind, name) in cases {
            let got = parse_spec(spec).unwrap();
            assert_eq!(
                (got.kind.as_str(), got.name.as_str()),
                (kind, name),
                "{spec}"
            );
        }
        let err = parse_spec("noform").unwrap_err();
        assert_eq!(
            err.to_string(),
            "noform: open dictionary: expecting \"type:name\" form instead of \"noform\""
        );
    }

    #[test]
    fn brace_lists() {
        assert_eq!(
            split_brace_list(" a=b, { c = d e },f=g {x {y} z}"),
            vec!["a=b", "{ c = d e }", "f=g", "{x {y} z}"]
        );
        assert_eq!(split_brace_list(" , ,"), Vec::<String>::new());
    }

    #[test]
    fn extpar_cases() {
        assert_eq!(extpar("{ c = d e }").unwrap(), "c = d e");
        assert_eq!(extpar("plain ").unwrap(), "plain");
        assert_eq!(extpar("{a {b} c}").unwrap(), "a {b} c");
        assert_eq!(extpar("{abc").unwrap_err(), "missing '}' in \"{abc\"");
        assert_eq!(
            extpar("{abc} x").unwrap_err(),
            "syntax error after '}' in \"{abc} x\""
        );
    }
}
