//! Address-keyed table lookups, Postfix's `maps_find` + `mail_addr_find` +
//! `mail_addr_map`, as used for `virtual_alias_maps` and the canonical maps.
//!
//! Lookup order for `user+ext@domain` (external, quoted form):
//! `user+ext@domain`, `user@domain`, then — only when `domain` is
//! `$myorigin` or local (`mydestination`, interface literals) — `user+ext`,
//! `user`, and finally the catch-all `@domain`. Only the first (full) key is
//! given to pattern tables (regexp, pcre, cidr); exact tables get the key in
//! lower case. The extension is split at the first `recipient_delimiter`
//! character, never for `postmaster`, `MAILER-DAEMON`, `double-bounce`,
//! and not when the local part would become empty.
//!
//! A table's temporary failure stops the search and is reported, never
//! treated as "not found".

use std::sync::Arc;

use gatepost_table::{Table, TableKind};

use crate::error::RewriteError;

/// A `maps` search path: the tables of one parameter, first match wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrMaps {
    tables: Vec<Arc<dyn Table>>,
}

/// A successful address lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) value: String,
    /// The unmatched extension (with its delimiter) when the match needed
    /// the extension stripped.
    pub(crate) extension: Option<String>,
}

impl AddrMaps {
    pub(crate) fn new(tables: Vec<Arc<dyn Table>>) -> Self {
        AddrMaps { tables }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// `maps_find`: the first table holding `key`; `partial` keys skip
    /// pattern tables (Postfix `DICT_FLAG_FIXED`).
    fn find(&self, key: &str, partial: bool) -> Result<Option<String>, RewriteError> {
        for table in &self.tables {
            let result = match table.kind() {
                TableKind::Exact => table.lookup(&key.to_lowercase())?,
                TableKind::Pattern | TableKind::Cidr if !partial => table.lookup(key)?,
                TableKind::Pattern | TableKind::Cidr => None,
            };
            if result.is_some() {
                return Ok(result);
            }
        }
        Ok(None)
    }

    /// `mail_addr_find` on an external-form address. `is_local(domain)`
    /// says whether the bare local part may be tried.
    pub(crate) fn find_addr<F>(
        &self,
        address: &str,
        delimiters: &str,
        is_local: F,
    ) -> Result<Option<Found>, RewriteError>
    where
        F: Fn(&str) -> Result<bool, RewriteError>,
    {
        let stripped = strip_extension(address, delimiters);
        if let Some(value) = self.find(address, false)? {
            return Ok(Some(Found {
                value,
                extension: None,
            }));
        }
        if let Some((bare, ext)) = &stripped {
            if let Some(value) = self.find(bare, true)? {
                return Ok(Some(Found {
                    value,
                    extension: Some(ext.clone()),
                }));
            }
        }
        let Some(at) = address.rfind('@') else {
            return Ok(None);
        };
        let domain = &address[at + 1..];
        if is_local(domain)? {
            if let Some(value) = self.find(&address[..at], true)? {
                return Ok(Some(Found {
                    value,
                    extension: None,
                }));
            }
            if let Some((bare, ext)) = &stripped {
                let bare_local = bare.rfind('@').map_or(bare.as_str(), |pos| &bare[..pos]);
                if let Some(value) = self.find(bare_local, true)? {
                    return Ok(Some(Found {
                        value,
                        extension: Some(ext.clone()),
                    }));
                }
            }
        }
        Ok(self.find(&address[at..], true)?.map(|value| Found {
            value,
            extension: None,
        }))
    }
}

/// Postfix `strip_addr`/`split_addr`: `user+ext@domain` →
/// (`user@domain`, `+ext`), or `None` when there is nothing to strip.
pub(crate) fn strip_extension(address: &str, delimiters: &str) -> Option<(String, String)> {
    if delimiters.is_empty() {
        return None;
    }
    let (local, domain) = match address.rfind('@') {
        Some(at) => address.split_at(at),
        None => (address, ""),
    };
    let lower = local.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "postmaster" | "mailer-daemon" | "double-bounce"
    ) {
        return None;
    }
    if delimiters.contains('-') && (lower.starts_with("owner-") || lower.ends_with("-request")) {
        return None;
    }
    let pos = local.find(|ch| delimiters.contains(ch))?;
    if pos == 0 {
        return None;
    }
    Some((
        format!("{}{}", &local[..pos], domain),
        local[pos..].to_string(),
    ))
}

/// Insert an address extension before the last `@` (or at the end).
pub(crate) fn add_extension(address: &str, extension: &str) -> String {
    match address.rfind('@') {
        Some(at) => format!("{}{}{}", &address[..at], extension, &address[at..]),
        None => format!("{address}{extension}"),
    }
}

/// Split a table result into addresses: separated by commas and/or
/// whitespace outside double quotes; `<addr>` brackets removed. An empty
/// result is the empty address. Not the header tokenizer
/// (`address_list_items`): a table result has no display names, comments or
/// groups, and white space alone separates its addresses.
pub(crate) fn split_result(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut escaped = false;
    for ch in value.chars() {
        if escaped {
            current.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' if in_quote => {
                current.push(ch);
                escaped = true;
            }
            '"' => {
                in_quote = !in_quote;
                current.push(ch);
            }
            ',' | ' ' | '\t' | '\r' | '\n' if !in_quote => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(ch),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    let mut out: Vec<String> = out
        .into_iter()
        .map(
            |item| match item.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                Some(inner) => inner.to_string(),
                None => item,
            },
        )
        .collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepost_table::TableError;
    use std::sync::Mutex;

    /// A table that records the keys it is asked and answers from a list.
    #[derive(Debug)]
    struct Recorder {
        kind: TableKind,
        entries: Vec<(&'static str, &'static str)>,
        fail: bool,
        asked: Mutex<Vec<String>>,
    }

    impl Table for Recorder {
        fn name(&self) -> &str {
            "test:recorder"
        }
        fn kind(&self) -> TableKind {
            self.kind
        }
        fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(key.to_string());
            }
            if self.fail {
                return Err(TableError::Temporary {
                    table: "test:recorder".into(),
                    why: "down".into(),
                });
            }
            Ok(self
                .entries
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string()))
        }
    }

    fn recorder(kind: TableKind, entries: Vec<(&'static str, &'static str)>) -> Arc<Recorder> {
        Arc::new(Recorder {
            kind,
            entries,
            fail: false,
            asked: Mutex::new(Vec::new()),
        })
    }

    fn local(domain: &str) -> Result<bool, RewriteError> {
        Ok(domain.eq_ignore_ascii_case("spec.test"))
    }

    #[test]
    fn key_order() {
        let cases: &[(&str, &[&str])] = &[
            (
                "User+Ext@Spec.Test",
                &[
                    "user+ext@spec.test",
                    "user@spec.test",
                    "user+ext",
                    "user",
                    "@spec.test",
                ],
            ),
            ("user@far.example", &["user@far.example", "@far.example"]),
            (
                "user+x@far.example",
                &["user+x@far.example", "user@far.example", "@far.example"],
            ),
            ("postmaster", &["postmaster"]),
        ];
        for (addr, want) in cases {
            let table = recorder(TableKind::Exact, vec![]);
            let maps = AddrMaps::new(vec![table.clone()]);
            assert_eq!(maps.find_addr(addr, "+", local).unwrap(), None);
            let asked = table.asked.lock().unwrap().clone();
            assert_eq!(asked, *want, "{addr}");
        }
    }

    #[test]
    fn pattern_tables_see_full_key_only() {
        let table = recorder(TableKind::Pattern, vec![]);
        let maps = AddrMaps::new(vec![table.clone()]);
        assert_eq!(
            maps.find_addr("User+x@spec.test", "+", local).unwrap(),
            None
        );
        assert_eq!(
            *table.asked.lock().unwrap(),
            vec!["User+x@spec.test".to_string()]
        );
    }

    #[test]
    fn matches_and_extensions() {
        let table = recorder(
            TableKind::Exact,
            vec![
                ("user@spec.test", "root"),
                ("bob", "b@x"),
                ("@catch.test", "c@x"),
            ],
        );
        let maps = AddrMaps::new(vec![table]);
        type Want<'a> = Option<(&'a str, Option<&'a str>)>;
        let cases: &[(&str, Want)] = &[
            ("user@spec.test", Some(("root", None))),
            ("user+foo@spec.test", Some(("root", Some("+foo")))),
            ("bob@spec.test", Some(("b@x", None))),
            ("bob+z@spec.test", Some(("b@x", Some("+z")))),
            ("bob@far.example", None),
            ("anyone@catch.test", Some(("c@x", None))),
        ];
        for (addr, want) in cases {
            let got = maps.find_addr(addr, "+", local).unwrap();
            let want = want.map(|(v, e)| Found {
                value: v.to_string(),
                extension: e.map(str::to_string),
            });
            assert_eq!(got, want, "{addr}");
        }
    }

    #[test]
    fn temporary_failure_is_not_not_found() {
        let table = Arc::new(Recorder {
            kind: TableKind::Exact,
            entries: vec![],
            fail: true,
            asked: Mutex::new(Vec::new()),
        });
        let maps = AddrMaps::new(vec![table]);
        let err = maps.find_addr("u@spec.test", "+", local).unwrap_err();
        assert!(matches!(err, RewriteError::Temporary(_)), "{err:?}");
    }

    #[test]
    fn strip_extension_table() {
        type Want<'a> = Option<(&'a str, &'a str)>;
        let cases: &[(&str, &str, Want)] = &[
            ("user+ext@d", "+", Some(("user@d", "+ext"))),
            ("user+a+b@d", "+", Some(("user@d", "+a+b"))),
            ("user-ext@d", "+-", Some(("user@d", "-ext"))),
            ("user@d", "+", None),
            ("user+ext@d", "", None),
            ("+ext@d", "+", None),
            ("postmaster+x@d", "+", Some(("postmaster@d", "+x"))),
            ("MAILER-DAEMON@d", "-", None),
            ("double-bounce@d", "-", None),
            ("owner-list@d", "-", None),
            ("list-request@d", "-", None),
            ("user+ext", "+", Some(("user", "+ext"))),
            ("us+er@do+main", "+", Some(("us@do+main", "+er"))),
        ];
        for (addr, delim, want) in cases {
            let got = strip_extension(addr, delim);
            let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
            assert_eq!(got, want, "{addr:?} {delim:?}");
        }
    }

    #[test]
    fn add_extension_table() {
        assert_eq!(add_extension("root@spec.test", "+x"), "root+x@spec.test");
        assert_eq!(add_extension("root", "+x"), "root+x");
    }

    #[test]
    fn split_result_table() {
        let cases: &[(&str, &[&str])] = &[
            ("root@spec.test", &["root@spec.test"]),
            ("a@x, b@y", &["a@x", "b@y"]),
            ("a@x b@y,,c", &["a@x", "b@y", "c"]),
            ("\"a b\"@x, <c@y>", &["\"a b\"@x", "c@y"]),
            ("\"a,\\\"b\"@x", &["\"a,\\\"b\"@x"]),
            ("", &[""]),
        ];
        for (value, want) in cases {
            assert_eq!(split_result(value), *want, "{value:?}");
        }
    }
}
