//! Every table format reader: texthash, the indexed types (hash, btree,
//! lmdb, cdb, dbm: one compiled `.gpdb` file built by postmap), the
//! compiled file itself, aliases(5), regexp, pcre, cidr, inline and static.

use std::path::Path;

use gatepost_table::{open_alias_table, open_table, postalias_build, postmap_build, Table};

const FIXED_KEYS: &[&str] = &[
    "",
    "a",
    "user@example.com",
    "example.com",
    "@example.com",
    "user@",
    "192.0.2.1",
    "2001:db8::1",
    "127.0.0.1",
    "MAILER-DAEMON",
];

/// Lookup keys for a table source: the fixed ones and each line's first word.
fn keys_of(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = FIXED_KEYS.iter().map(|k| k.to_string()).collect();
    keys.extend(
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            .take(32)
            .map(str::to_string),
    );
    keys
}

fn lookups(table: &dyn Table, keys: &[String]) -> Vec<Option<String>> {
    keys.iter()
        .map(|k| table.lookup(k).ok().flatten())
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Option<String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).ok()?;
    Some(path.display().to_string())
}

/// A source file read as texthash and compiled by postmap into the indexed
/// types: both answer every key alike; the same file as aliases(5) builds
/// or fails without panic.
pub fn indexed_tables(input: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let Some(map) = write(dir.path(), "map", input) else {
        return;
    };
    let keys = keys_of(&String::from_utf8_lossy(input));
    let text = open_table(&format!("texthash:{map}")).ok();
    if postmap_build(&format!("hash:{map}")).is_ok() {
        for kind in ["hash", "btree", "lmdb", "cdb", "dbm"] {
            let compiled = open_table(&format!("{kind}:{map}"))
                .unwrap_or_else(|e| panic!("{kind} table built by postmap does not open: {e}"));
            if let Some(text) = &text {
                assert_eq!(
                    lookups(text.as_ref(), &keys),
                    lookups(compiled.as_ref(), &keys),
                    "texthash and {kind} disagree"
                );
            }
        }
    }
    if postalias_build(&format!("hash:{map}")).is_ok() {
        if let Ok(aliases) = open_alias_table(&format!("hash:{map}")) {
            let _ = lookups(aliases.as_ref(), &keys);
        }
    }
}

/// Any bytes as the compiled file beside a source: opens or fails, never
/// panics, and answers lookups.
pub fn compiled_table(input: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let (Some(map), Some(_)) = (
        write(dir.path(), "map", b"a b\n"),
        write(dir.path(), "map.gpdb", input),
    ) else {
        return;
    };
    let keys = keys_of(&String::from_utf8_lossy(input));
    for kind in ["hash", "lmdb"] {
        if let Ok(table) = open_table(&format!("{kind}:{map}")) {
            let _ = lookups(table.as_ref(), &keys);
        }
    }
    if let Ok(table) = open_alias_table(&format!("hash:{map}")) {
        let _ = lookups(table.as_ref(), &keys);
    }
}

/// regexp and pcre tables (first byte picks which).
pub fn regexp_table(input: &[u8]) {
    let (kind, source) = match input.split_first() {
        Some((b, rest)) if b & 1 == 1 => ("pcre", rest),
        Some((_, rest)) => ("regexp", rest),
        None => ("regexp", input),
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let Some(map) = write(dir.path(), "map", source) else {
        return;
    };
    if let Ok(table) = open_table(&format!("{kind}:{map}")) {
        let _ = table.warnings();
        let _ = lookups(table.as_ref(), &keys_of(&String::from_utf8_lossy(source)));
    }
}

/// cidr tables.
pub fn cidr_table(input: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let Some(map) = write(dir.path(), "map", input) else {
        return;
    };
    if let Ok(table) = open_table(&format!("cidr:{map}")) {
        let _ = lookups(table.as_ref(), &keys_of(&String::from_utf8_lossy(input)));
    }
}

/// inline:{...} and static: specs written in main.cf.
pub fn inline_table(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let keys = keys_of(&text.replace([',', '{', '}', '='], "\n"));
    for spec in [
        format!("inline:{{{text}}}"),
        format!("inline:{text}"),
        format!("static:{text}"),
        format!("static:{{{text}}}"),
    ] {
        if let Ok(table) = open_table(&spec) {
            let _ = lookups(table.as_ref(), &keys);
        }
    }
}
