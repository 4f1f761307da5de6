//! Alias databases (aliases(5), `postalias`): `name: value, value, ...` per
//! logical line (continuation lines and `#` comments as in every table
//! source). The name is the part before the first `:` outside double quotes;
//! it must be local (no `@` or `%`), is unquoted and folded to lower case.
//! The value is the comma-separated list, re-joined with `", "`; a value that
//! is just `""` means the empty string. Bad lines are skipped with Postfix's
//! warnings (`need name:value pair`, `name must be local`).
//!
//! `hash:` (and the other compiled types) read `NAME.gpdb` as built by
//! [`postalias_build`], else the aliases(5) source itself; `texthash:` parses the aliases syntax when opened;
//! any other table type is opened as a normal lookup table.

use std::sync::Arc;

use crate::error::{io_text, TableError};
use crate::hash::DbTable;
use crate::memory::MemoryTable;
use crate::open::DB_TYPES;
use crate::postmap::{buildable, compile_source, read_source, write_db, SourceFormat};
use crate::readlline::{is_space, logical_lines};
use crate::spec::parse_spec;
use crate::Table;

/// Split on `sep` outside double quotes (backslash escapes one character).
fn split_unquoted(text: &str, sep: char, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (pos, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted && out.len() + 1 < max => {
                out.push(&text[start..pos]);
                start = pos + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// Remove double quotes and backslash escapes from a local part.
fn unquote(text: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c != '"' {
            out.push(c);
        }
    }
    out
}

/// Whether `c` occurs in `text` outside double quotes.
fn has_unquoted(text: &str, c: char) -> bool {
    split_unquoted(text, c, usize::MAX).len() > 1
}

/// Parse aliases(5) text into `table`; warnings go to `warnings`.
pub(crate) fn parse_aliases(
    content: &str,
    path: &str,
    duplicate_label: &str,
    table: &mut MemoryTable,
    warnings: &mut Vec<String>,
) {
    for line in logical_lines(content, path, warnings) {
        let n = line.lineno;
        let parts = split_unquoted(&line.text, ':', 2);
        let (key, value) = match parts.as_slice() {
            [k, v] => (k.trim_matches(is_space), v.trim_matches(is_space)),
            _ => ("", ""),
        };
        if key.is_empty() || value.is_empty() || has_unquoted(key, ',') {
            warnings.push(format!("{path}, line {n}: need name:value pair"));
            continue;
        }
        if has_unquoted(key, '@') || has_unquoted(key, '%') {
            warnings.push(format!("{path}, line {n}: name must be local"));
            continue;
        }
        let key = unquote(key).to_lowercase();
        let value = if value == "\"\"" {
            String::new()
        } else {
            split_unquoted(value, ',', usize::MAX)
                .into_iter()
                .map(|v| v.trim_matches(is_space))
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !table.insert(&key, &value) {
            warnings.push(format!("{duplicate_label}: duplicate entry: \"{key}\""));
        }
    }
}

/// Open an alias table (`alias_maps`, `alias_database`).
pub fn open_alias_table(spec: &str) -> Result<Arc<dyn Table>, TableError> {
    let parsed = parse_spec(spec)?;
    if DB_TYPES.contains(&parsed.kind.as_str()) {
        return Ok(Arc::new(DbTable::open(
            spec,
            &parsed.kind,
            &parsed.name,
            SourceFormat::Aliases,
        )?));
    }
    if parsed.kind == "texthash" {
        let bytes = std::fs::read(&parsed.name).map_err(|e| {
            TableError::config(
                spec,
                format!("open database {}: {}", parsed.name, io_text(&e)),
            )
        })?;
        let mut table = MemoryTable::new(spec);
        let mut warnings = Vec::new();
        parse_aliases(
            &String::from_utf8_lossy(&bytes),
            &parsed.name,
            &format!("texthash:{}", parsed.name),
            &mut table,
            &mut warnings,
        );
        for w in warnings {
            table.warn(w);
        }
        return Ok(Arc::new(table));
    }
    crate::open_table(spec)
}

/// `postalias TYPE:NAME`, returning the warnings for the caller to log.
pub fn postalias_build_report(spec: &str) -> Result<Vec<String>, TableError> {
    let (kind, name) = buildable(spec)?;
    let content = read_source(spec, &name)?;
    let (table, warnings) = compile_source(spec, &kind, &name, &content, SourceFormat::Aliases);
    write_db(spec, &name, &table)?;
    Ok(warnings)
}

/// `postalias TYPE:NAME`: compile an aliases(5) file into `NAME.gpdb`.
pub fn postalias_build(spec: &str) -> Result<(), TableError> {
    postalias_build_report(spec).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const ALIASES: &str = "\
# /etc/aliases
postmaster: root
Root: alice, bob,
  carol
\"Quoted Name\": dave
nothing:
empty: \"\"
user@example.com: eve
list: :include:/etc/postfix/list, \"|/usr/bin/prog arg\"
root: duplicate
nocolon value
";

    fn want() -> Vec<(&'static str, Option<&'static str>)> {
        vec![
            ("postmaster", Some("root")),
            ("root", Some("alice, bob, carol")),
            ("ROOT", Some("alice, bob, carol")),
            ("quoted name", Some("dave")),
            ("empty", Some("")),
            (
                "list",
                Some(":include:/etc/postfix/list, \"|/usr/bin/prog arg\""),
            ),
            ("nothing", None),
            ("user@example.com", None),
        ]
    }

    #[test]
    fn parse_alias_file() {
        let mut table = MemoryTable::new("test");
        let mut warnings = Vec::new();
        parse_aliases(
            ALIASES,
            "/etc/aliases",
            "hash:/etc/aliases",
            &mut table,
            &mut warnings,
        );
        for (key, value) in want() {
            assert_eq!(table.lookup(key).unwrap().as_deref(), value, "{key}");
        }
        assert_eq!(
            warnings,
            vec![
                "/etc/aliases, line 6: need name:value pair",
                "/etc/aliases, line 8: name must be local",
                "hash:/etc/aliases: duplicate entry: \"root\"",
                "/etc/aliases, line 11: need name:value pair",
            ]
        );
    }

    #[test]
    fn postalias_round_trip_and_texthash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases");
        fs::write(&path, ALIASES).unwrap();
        let name = path.to_str().unwrap();

        // Not built yet: the aliases(5) source is read as it is.
        let t = open_alias_table(&format!("hash:{name}")).unwrap();
        for (key, value) in want() {
            assert_eq!(t.lookup(key).unwrap().as_deref(), value, "source {key}");
        }
        // Neither source nor compiled file: Postfix's error.
        let missing = dir.path().join("missing");
        let missing = missing.to_str().unwrap();
        let err = open_alias_table(&format!("hash:{missing}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("hash:{missing}: open database {missing}.db: No such file or directory")
        );

        let warnings = postalias_build_report(&format!("hash:{name}")).unwrap();
        assert_eq!(warnings.len(), 4);
        for spec in [format!("hash:{name}"), format!("texthash:{name}")] {
            let t = open_alias_table(&spec).unwrap();
            for (key, value) in want() {
                assert_eq!(t.lookup(key).unwrap().as_deref(), value, "{spec} {key}");
            }
        }
        let t = open_alias_table("inline:{root=admin}").unwrap();
        assert_eq!(t.lookup("root").unwrap().as_deref(), Some("admin"));
        postalias_build(name).unwrap();
    }
}
