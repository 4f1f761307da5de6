//! Shared front end of Postfix match lists (`match_list_parse()`): `!`
//! negation (repeatable), `/file` inclusion (the file's lines hold more
//! patterns, separated by commas or whitespace; lines starting with `#` are
//! skipped; a `!/file` negates every pattern in it), `type:table` detection,
//! and the `#` item warning.

use std::fs;

use crate::error::{io_text, TableError};
use crate::readlline::is_space;
use crate::spec::split_brace_list;

/// Table types [`crate::open_table`] knows (used to tell `type:name` from an
/// IPv6 address pattern).
const TABLE_TYPES: &[&str] = &[
    "inline", "static", "texthash", "hash", "btree", "lmdb", "cdb", "dbm", "cidr", "regexp",
    "pcre", "unix", "proxy",
];

/// One pattern after `!` and `/file` processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawItem {
    pub positive: bool,
    pub pattern: String,
}

/// How deeply `/file` may include `/file`.
const MAX_FILE_DEPTH: usize = 10;

/// Expand list items into patterns.
pub(crate) fn expand_items(
    items: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<RawItem>, TableError> {
    let mut out = Vec::new();
    expand_into(items, true, 0, &mut out, warnings)?;
    Ok(out)
}

fn expand_into(
    items: &[String],
    init_positive: bool,
    depth: usize,
    out: &mut Vec<RawItem>,
    warnings: &mut Vec<String>,
) -> Result<(), TableError> {
    for (idx, item) in items.iter().enumerate() {
        let item = item.trim_matches(is_space);
        if item.is_empty() {
            continue;
        }
        if item.starts_with('#') {
            warnings.push(format!(
                "comment at end of line is not supported: {}",
                items[idx..].join(" ")
            ));
            break;
        }
        let mut positive = init_positive;
        let mut pattern = item;
        while let Some(rest) = pattern.strip_prefix('!') {
            positive = !positive;
            pattern = rest;
        }
        if pattern.is_empty() {
            return Err(TableError::config(item, "no pattern after '!'"));
        }
        if pattern.starts_with('/') {
            if depth >= MAX_FILE_DEPTH {
                return Err(TableError::config(
                    pattern,
                    "pattern files nested too deeply",
                ));
            }
            let bytes = fs::read(pattern).map_err(|e| {
                TableError::config(pattern, format!("open file {pattern}: {}", io_text(&e)))
            })?;
            let content = String::from_utf8_lossy(&bytes);
            for line in content.lines() {
                if line.trim_start_matches(is_space).starts_with('#') {
                    continue;
                }
                let words = split_brace_list(line);
                expand_into(&words, positive, depth + 1, out, warnings)?;
            }
            continue;
        }
        out.push(RawItem {
            positive,
            pattern: pattern.to_string(),
        });
    }
    Ok(())
}

/// Postfix's `MATCH_DICTIONARY()`: `type:name` not starting with `[`. Unlike
/// Postfix, a bare IPv6 address (`fe80::1`, `2001:db8::/32`: only hex digits
/// before the first `:`) is not taken for a table unless the prefix is a
/// known table type (`cdb`).
pub(crate) fn is_table_spec(pattern: &str) -> bool {
    if pattern.starts_with('[') {
        return false;
    }
    match pattern.split_once(':') {
        Some((kind, _)) => {
            TABLE_TYPES.contains(&kind.to_ascii_lowercase().as_str())
                || !kind.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn negation_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("domains");
        fs::write(
            &file,
            "# comment\na.example, b.example\n  !c.example\nd.example # trailing\n",
        )
        .unwrap();
        let f = file.to_str().unwrap().to_string();
        let mut warnings = Vec::new();
        let items =
            expand_items(&s(&["x", "!!y", &f, &format!("!{f}"), "!z"]), &mut warnings).unwrap();
        let got: Vec<(bool, &str)> = items
            .iter()
            .map(|i| (i.positive, i.pattern.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (true, "x"),
                (true, "y"),
                (true, "a.example"),
                (true, "b.example"),
                (false, "c.example"),
                (true, "d.example"),
                (false, "a.example"),
                (false, "b.example"),
                (true, "c.example"),
                (false, "d.example"),
                (false, "z"),
            ]
        );
        assert_eq!(
            warnings,
            vec![
                "comment at end of line is not supported: # trailing",
                "comment at end of line is not supported: # trailing",
            ]
        );
    }

    #[test]
    fn errors() {
        let mut w = Vec::new();
        let err = expand_items(&s(&["!"]), &mut w).unwrap_err();
        assert_eq!(err.to_string(), "!: no pattern after '!'");
        let err = expand_items(&s(&["/nonexistent/gatepost/list"]), &mut w).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/nonexistent/gatepost/list: open file /nonexistent/gatepost/list: No such file or directory"
        );
    }

    #[test]
    fn table_detection() {
        let cases = [
            ("hash:/etc/postfix/x", true),
            ("cdb:/a/b", true),
            ("inline:{a=b}", true),
            ("foo:bar", true),
            ("[::1]/128", false),
            ("::1", false),
            ("2001:db8::/32", false),
            ("fe80::1", false),
            ("example.com", false),
        ];
        for (p, want) in cases {
            assert_eq!(is_table_spec(p), want, "{p}");
        }
    }
}
