//! What the engine asks of the rest of the system besides DNS: address
//! resolution (trivial-rewrite(8), docs/address-classes.md), `mynetworks` and
//! `relay_domains` matching, and lookups in lists of tables
//! (`local_recipient_maps`, `smtpd_sender_login_maps`, ...) and in one
//! access table along Postfix's key sequences (docs/restrictions.md#access-table-results).
//!
//! Lookups keep Postfix's three outcomes: found, not found, failure; a
//! failure is never a silent pass.

use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::Arc;

use gatepost_rewrite::{Resolved, RewriteError, Rewriter};
use gatepost_table::{DomainList, NetworkList, Table, TableError, TableKind};

use crate::restriction::TableRef;

/// Address resolution and client/domain list matching.
pub(crate) trait Env: Send + Sync + Debug {
    fn resolve(&self, addr: &str) -> Result<Resolved, RewriteError>;
    /// Known through canonical or virtual alias maps.
    fn is_virtual_alias(&self, addr: &str) -> Result<bool, RewriteError>;
    fn mynetworks(&self, name: &str, addr: IpAddr) -> Result<bool, TableError>;
    fn relay_domains(&self, domain: &str) -> Result<bool, TableError>;
}

/// The production environment: the shared rewriter plus the two lists.
#[derive(Debug)]
pub(crate) struct ConfigEnv {
    pub rewriter: Arc<Rewriter>,
    pub mynetworks: Result<NetworkList, TableError>,
    pub relay_domains: Result<DomainList, TableError>,
}

fn list_error(e: &TableError) -> TableError {
    match e {
        TableError::Temporary { table, why } => TableError::Temporary {
            table: table.clone(),
            why: why.clone(),
        },
        TableError::Config { table, why } => TableError::Config {
            table: table.clone(),
            why: why.clone(),
        },
    }
}

impl Env for ConfigEnv {
    fn resolve(&self, addr: &str) -> Result<Resolved, RewriteError> {
        self.rewriter.resolve(addr)
    }
    fn is_virtual_alias(&self, addr: &str) -> Result<bool, RewriteError> {
        self.rewriter.is_virtual_alias(addr)
    }
    fn mynetworks(&self, name: &str, addr: IpAddr) -> Result<bool, TableError> {
        match &self.mynetworks {
            Ok(l) => l.matches(name, addr),
            Err(e) => Err(list_error(e)),
        }
    }
    fn relay_domains(&self, domain: &str) -> Result<bool, TableError> {
        match &self.relay_domains {
            Ok(l) => l.matches(domain),
            Err(e) => Err(list_error(e)),
        }
    }
}

/// Fold a key the way Postfix's `DICT_FLAG_FOLD_FIX` does: fixed-string
/// tables see lower case, pattern tables see the key as is.
fn fold(table: &dyn Table, key: &str) -> String {
    match table.kind() {
        TableKind::Pattern => key.to_string(),
        TableKind::Exact | TableKind::Cidr => key.to_lowercase(),
    }
}

/// Look up a key sequence in one table: the first key is asked of every
/// table kind, the partial keys only of `Exact` tables (Postfix's
/// `DICT_FLAG_FIXED` rule). Returns the value found.
pub(crate) fn lookup_keys(
    table: &dyn Table,
    keys: &[String],
) -> Result<Option<String>, TableError> {
    for (i, key) in keys.iter().enumerate() {
        if i > 0 && table.kind() != TableKind::Exact {
            break;
        }
        if let Some(v) = table.lookup(&fold(table, key))? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Postfix `mail_addr_find()` keys (default strategy): `user+ext@domain`,
/// `user@domain`, then for a local domain `user+ext`, `user`, then `@domain`.
pub(crate) fn mail_addr_keys(addr: &str, delimiter: &str, is_local: bool) -> Vec<String> {
    let mut keys = Vec::new();
    let (local, domain) = match addr.rfind('@') {
        Some(i) => (&addr[..i], Some(&addr[i + 1..])),
        None => (addr, None),
    };
    let bare_local = strip_extension(local, delimiter);
    let mut push = |k: String| {
        if !keys.contains(&k) {
            keys.push(k);
        }
    };
    match domain {
        Some(d) => {
            push(format!("{local}@{d}"));
            if let Some(b) = bare_local {
                push(format!("{b}@{d}"));
            }
            if is_local {
                push(local.to_string());
                if let Some(b) = bare_local {
                    push(b.to_string());
                }
            }
            push(format!("@{d}"));
        }
        None => {
            push(local.to_string());
            if let Some(b) = bare_local {
                push(b.to_string());
            }
        }
    }
    keys
}

/// The local part without its `recipient_delimiter` extension, when it has one.
pub(crate) fn strip_extension<'a>(local: &'a str, delimiter: &str) -> Option<&'a str> {
    if delimiter.is_empty() {
        return None;
    }
    let pos = local.find(|c: char| delimiter.contains(c))?;
    if pos == 0 {
        return None;
    }
    Some(&local[..pos])
}

/// A list of tables named by one parameter (`local_recipient_maps`, ...).
#[derive(Debug, Clone, Default)]
pub(crate) struct Maps {
    pub param: String,
    pub tables: Vec<TableRef>,
}

impl Maps {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// First table (in order) that has any of `keys`.
    pub fn find(&self, keys: &[String]) -> Result<Option<String>, TableError> {
        for t in &self.tables {
            match &t.table {
                Ok(table) => {
                    if let Some(v) = lookup_keys(table.as_ref(), keys)? {
                        return Ok(Some(v));
                    }
                }
                Err(why) => {
                    return Err(TableError::Config {
                        table: t.spec.clone(),
                        why: why.clone(),
                    })
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A small in-memory exact table for tests.
    #[derive(Debug)]
    pub(crate) struct MemTable {
        pub name: String,
        pub kind: TableKind,
        pub entries: HashMap<String, String>,
        pub fail: Option<TableError>,
    }

    impl MemTable {
        pub(crate) fn new(name: &str, entries: &[(&str, &str)]) -> MemTable {
            MemTable {
                name: name.to_string(),
                kind: TableKind::Exact,
                entries: entries
                    .iter()
                    .map(|(k, v)| (k.to_lowercase(), v.to_string()))
                    .collect(),
                fail: None,
            }
        }
    }

    impl Table for MemTable {
        fn name(&self) -> &str {
            &self.name
        }
        fn kind(&self) -> TableKind {
            self.kind
        }
        fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
            if let Some(TableError::Temporary { table, why }) = &self.fail {
                return Err(TableError::Temporary {
                    table: table.clone(),
                    why: why.clone(),
                });
            }
            if let Some(TableError::Config { table, why }) = &self.fail {
                return Err(TableError::Config {
                    table: table.clone(),
                    why: why.clone(),
                });
            }
            Ok(self.entries.get(key).cloned())
        }
    }

    #[test]
    fn key_sequences() {
        assert_eq!(
            mail_addr_keys("u+ext@spec.test", "+", true),
            vec!["u+ext@spec.test", "u@spec.test", "u+ext", "u", "@spec.test"]
        );
        assert_eq!(
            mail_addr_keys("u@relay.test", "", false),
            vec!["u@relay.test", "@relay.test"]
        );
        assert_eq!(strip_extension("+x", "+"), None);
    }

    #[test]
    fn partial_keys_only_for_exact_tables() {
        let mut t = MemTable::new("mem:x", &[("example.com", "REJECT")]);
        let keys = vec!["sub.example.com".to_string(), "example.com".to_string()];
        assert_eq!(lookup_keys(&t, &keys).unwrap().as_deref(), Some("REJECT"));
        t.kind = TableKind::Pattern;
        assert_eq!(lookup_keys(&t, &keys).unwrap(), None);
        let upper = vec!["EXAMPLE.COM".to_string()];
        t.kind = TableKind::Exact;
        assert_eq!(lookup_keys(&t, &upper).unwrap().as_deref(), Some("REJECT"));
    }
}
