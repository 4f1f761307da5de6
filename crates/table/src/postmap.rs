//! `postmap`: compile a `key whitespace value` source file `NAME` into
//! `NAME.gpdb` (format in [`crate::db`]; Postfix's `NAME.db` is left
//! alone), and query any table. Keys are folded to lower case; the first of
//! duplicate keys wins and the others are reported. The same parsing serves
//! `hash:` tables read straight from their source (see [`crate::hash`]).
//! The output replaces the old file atomically. Only the compiled
//! map types (`hash`, `btree`, `lmdb`, `cdb`, `dbm`) can be built; a spec
//! without a type means `hash` (Postfix's `default_database_type`).

use std::fs;

use crate::alias::parse_aliases;
use crate::db::{compiled_path, encode, write_atomic};
use crate::error::{io_text, TableError};
use crate::memory::MemoryTable;
use crate::open::DB_TYPES;
use crate::source::parse_records;
use crate::spec::parse_spec;

/// `(type, NAME)` of a buildable spec.
pub(crate) fn buildable(spec: &str) -> Result<(String, String), TableError> {
    let (kind, name) = if spec.contains(':') {
        let parsed = parse_spec(spec)?;
        (parsed.kind, parsed.name)
    } else {
        ("hash".to_string(), spec.to_string())
    };
    if !DB_TYPES.contains(&kind.as_str()) {
        return Err(TableError::config(
            spec,
            format!("unsupported dictionary type: {kind}"),
        ));
    }
    if name.is_empty() {
        return Err(TableError::config(
            spec,
            format!("open dictionary: expecting \"type:name\" form instead of \"{spec}\""),
        ));
    }
    Ok((kind, name))
}

/// Read a source file as text, with Postfix's error wording.
pub(crate) fn read_source(spec: &str, name: &str) -> Result<String, TableError> {
    let bytes = fs::read(name)
        .map_err(|e| TableError::config(spec, format!("open {name}: {}", io_text(&e))))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// How a source file is written: postmap(1)'s `key value` lines or
/// aliases(5) (postalias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceFormat {
    Map,
    Aliases,
}

/// Parse the source text of `kind:name` as postmap or postalias compiles
/// it; returns the table and Postfix-style warnings.
pub(crate) fn compile_source(
    spec: &str,
    kind: &str,
    name: &str,
    content: &str,
    format: SourceFormat,
) -> (MemoryTable, Vec<String>) {
    let mut table = MemoryTable::new(spec);
    let mut warnings = Vec::new();
    let label = format!("{kind}:{name}");
    match format {
        SourceFormat::Map => {
            for rec in parse_records(content, name, &mut warnings) {
                if !table.insert(&rec.key, &rec.value) {
                    warnings.push(format!(
                        "{label}: duplicate entry: \"{}\"",
                        rec.key.to_lowercase()
                    ));
                }
            }
        }
        SourceFormat::Aliases => parse_aliases(content, name, &label, &mut table, &mut warnings),
    }
    (table, warnings)
}

/// Write the table's entries to `NAME.gpdb`.
pub(crate) fn write_db(spec: &str, name: &str, table: &MemoryTable) -> Result<(), TableError> {
    let path = compiled_path(name);
    write_atomic(&path, &encode(&table.sorted_entries())).map_err(|e| {
        TableError::config(
            spec,
            format!("open database {}: {}", path.display(), io_text(&e)),
        )
    })
}

/// Build `NAME.gpdb`; returns Postfix-style warnings (one per skipped or
/// duplicate line) for the caller to log as `postmap: warning: ...`.
pub fn postmap_build_report(spec: &str) -> Result<Vec<String>, TableError> {
    let (kind, name) = buildable(spec)?;
    let content = read_source(spec, &name)?;
    let (table, warnings) = compile_source(spec, &kind, &name, &content, SourceFormat::Map);
    write_db(spec, &name, &table)?;
    Ok(warnings)
}

/// `postmap -q KEY TYPE:NAME`.
pub fn postmap_query(spec: &str, key: &str) -> Result<Option<String>, TableError> {
    crate::open_table(spec)?.lookup(key)
}

/// True when the source `NAME` is newer than `NAME.gpdb` (or that file is
/// missing), for Postfix's warning `database NAME.db is older than source
/// file NAME`. Nothing is rebuilt automatically.
pub fn db_is_stale(name: &str) -> bool {
    let src = fs::metadata(name).and_then(|m| m.modified());
    let db = fs::metadata(compiled_path(name)).and_then(|m| m.modified());
    match (src, db) {
        (Ok(s), Ok(d)) => s > d,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}
