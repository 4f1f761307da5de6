//! A parameter's list of lookup tables (`alias_maps`, `transport_maps`,
//! `virtual_mailbox_maps`, `local_recipient_maps` ...) searched in order,
//! as Postfix's `maps_find()`.
//!
//! A table that cannot be opened is kept as a broken slot: every lookup that
//! reaches it is a temporary failure, so mail is deferred rather than
//! delivered by the wrong rules (Postfix's "surrogate" tables).

use std::sync::Arc;

use crate::{Table, TableError, TableKind};

/// A lookup that could not be answered now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table}: {why}")]
pub struct LookupFailure {
    pub table: String,
    pub why: String,
}

#[derive(Debug, Clone)]
enum Slot {
    Open(Arc<dyn Table>),
    Broken { spec: String, why: String },
}

#[derive(Debug, Clone, Default)]
pub struct MapList {
    slots: Vec<Slot>,
}

impl MapList {
    /// Open every spec with `opener` (`open_table` or `open_alias_table`).
    /// Failures are logged for `program` and remembered.
    pub fn open(
        program: &str,
        param: &str,
        specs: &[String],
        opener: impl Fn(&str) -> Result<Arc<dyn Table>, TableError>,
    ) -> MapList {
        let slots = specs
            .iter()
            .map(|spec| match opener(spec) {
                Ok(table) => Slot::Open(table),
                Err(err) => {
                    gatepost_log::warning(
                        program,
                        format!("{param}: {spec} is unavailable: {err}"),
                    );
                    Slot::Broken {
                        spec: spec.clone(),
                        why: err.to_string(),
                    }
                }
            })
            .collect();
        MapList { slots }
    }

    /// A list made of already opened tables.
    pub fn from_tables(tables: Vec<Arc<dyn Table>>) -> MapList {
        MapList {
            slots: tables.into_iter().map(Slot::Open).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The first table that has `key` wins.
    pub fn find(&self, key: &str) -> Result<Option<String>, LookupFailure> {
        self.find_filtered(key, |_| true)
    }

    /// Like [`find`](Self::find), but only in tables for which `wanted`
    /// holds (e.g. skip pattern tables for partial keys).
    pub fn find_filtered(
        &self,
        key: &str,
        wanted: impl Fn(TableKind) -> bool,
    ) -> Result<Option<String>, LookupFailure> {
        for slot in &self.slots {
            match slot {
                Slot::Open(table) => {
                    if !wanted(table.kind()) {
                        continue;
                    }
                    match table.lookup(key) {
                        Ok(Some(value)) => return Ok(Some(value)),
                        Ok(None) => {}
                        Err(err) => {
                            return Err(LookupFailure {
                                table: table.name().to_string(),
                                why: err.to_string(),
                            })
                        }
                    }
                }
                Slot::Broken { spec, why } => {
                    return Err(LookupFailure {
                        table: spec.clone(),
                        why: why.clone(),
                    })
                }
            }
        }
        Ok(None)
    }

    /// Postfix `mail_addr_find()` order: each key in turn, every table per
    /// key; partial keys (all but the first) only in exact-match tables.
    pub fn find_keys(&self, keys: &[String]) -> Result<Option<String>, LookupFailure> {
        for (i, key) in keys.iter().enumerate() {
            let found = if i == 0 {
                self.find(key)?
            } else {
                self.find_filtered(key, |k| k == TableKind::Exact)?
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

/// Split `localpart` at the first recipient delimiter character:
/// `(user, Some(extension))`. Postfix treats every character of
/// `recipient_delimiter` as a delimiter.
pub fn split_extension<'a>(localpart: &'a str, delimiters: &str) -> (&'a str, Option<&'a str>) {
    if delimiters.is_empty() {
        return (localpart, None);
    }
    match localpart.find(|c: char| delimiters.contains(c)) {
        Some(0) | None => (localpart, None),
        Some(i) => (&localpart[..i], Some(&localpart[i + 1..])),
    }
}

/// Split an address at the rightmost `@`.
pub fn split_address(address: &str) -> (&str, Option<&str>) {
    match address.rfind('@') {
        Some(i) => (&address[..i], Some(&address[i + 1..])),
        None => (address, None),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small in-memory table for unit tests.
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug)]
    pub struct MemTable {
        pub name: String,
        pub kind: TableKind,
        pub entries: HashMap<String, String>,
        pub fail: bool,
    }

    pub fn mem(entries: &[(&str, &str)]) -> Arc<dyn Table> {
        Arc::new(MemTable {
            name: "mem:test".into(),
            kind: TableKind::Exact,
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fail: false,
        })
    }

    pub fn failing() -> Arc<dyn Table> {
        Arc::new(MemTable {
            name: "mem:broken".into(),
            kind: TableKind::Exact,
            entries: HashMap::new(),
            fail: true,
        })
    }

    impl Table for MemTable {
        fn name(&self) -> &str {
            &self.name
        }
        fn kind(&self) -> TableKind {
            self.kind
        }
        fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
            if self.fail {
                return Err(TableError::Temporary {
                    table: self.name.clone(),
                    why: "test failure".into(),
                });
            }
            Ok(self.entries.get(key).cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn extension_split() {
        for (local, delim, user, ext) in [
            ("bob+list", "+", "bob", Some("list")),
            ("bob-list", "+-", "bob", Some("list")),
            ("bob", "+", "bob", None),
            ("+bob", "+", "+bob", None),
            ("bob+a+b", "+", "bob", Some("a+b")),
            ("bob+list", "", "bob+list", None),
        ] {
            assert_eq!(split_extension(local, delim), (user, ext), "{local}");
        }
        assert_eq!(split_address("a@b@c"), ("a@b", Some("c")));
        assert_eq!(split_address("a"), ("a", None));
    }

    #[test]
    fn first_table_wins_and_failures_are_temporary() {
        let list = MapList::from_tables(vec![mem(&[("a", "1")]), mem(&[("a", "2"), ("b", "3")])]);
        assert_eq!(list.find("a"), Ok(Some("1".into())));
        assert_eq!(list.find("b"), Ok(Some("3".into())));
        assert_eq!(list.find("c"), Ok(None));
        let broken = MapList::from_tables(vec![mem(&[]), failing()]);
        assert!(broken.find("x").is_err());
        let opened = MapList::open("test", "alias_maps", &["bogus:x".to_string()], |spec| {
            Err(TableError::Config {
                table: spec.into(),
                why: "unsupported".into(),
            })
        });
        assert_eq!(
            opened.find("x").map_err(|e| e.table),
            Err("bogus:x".to_string())
        );
        assert_eq!(
            list.find_keys(&["zz".into(), "b".into()]),
            Ok(Some("3".into()))
        );
    }
}
