//! Lookup tables behind one trait (`inline`, `static`, `texthash`, `hash`
//! and its aliases, `cidr`, `regexp`, `pcre`, `unix:passwd.byname`, the
//! `proxy:` prefix) with three outcomes: found, not found, failure
//! (temporary or configuration); Postfix match lists (domain lists such as
//! `mydestination`/`relay_domains`, network lists such as `mynetworks`); the
//! `postmap`/`postalias` operations; Postfix's access-table key
//! sequences ([`keys`]); and a parameter's list of tables searched in order
//! (`map_list`, Postfix `maps_find()`).
//!
//! Modules: `open` (`open_table()`), `spec`, `error`; table types `inline`,
//! `static_table`, `texthash`, `hash` and `db` (compiled files), `cidr` and
//! `cidr_match`, `regexp` and `replacement`, `unix`, `memory` (in-memory
//! storage); `alias` and `postmap` (building and querying), `source` and
//! `readlline` (file formats); `map_list`, `match_items`, `domain_list`,
//! `network_list` (match lists), `keys` (public: access-table key sequences).
#![forbid(unsafe_code)]

use std::sync::Arc;

mod alias;
mod cidr;
mod cidr_match;
mod db;
mod domain_list;
mod error;
mod hash;
mod inline;
pub mod keys;
mod map_list;
mod match_items;
mod memory;
mod network_list;
mod open;
mod postmap;
mod readlline;
mod regexp;
mod replacement;
mod source;
mod spec;
mod static_table;
mod texthash;
mod unix;

pub use alias::{open_alias_table, postalias_build, postalias_build_report};
pub use domain_list::DomainList;
pub use error::TableError;
pub use map_list::{split_address, split_extension, LookupFailure, MapList};
pub use network_list::NetworkList;
pub use postmap::{db_is_stale, postmap_build_report, postmap_query};

/// How a table matches keys: `Exact` tables are asked each key of Postfix's
/// lookup sequence; `Pattern` tables (regexp, pcre) and `Cidr` see the full
/// key only, as in Postfix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Exact,
    Pattern,
    Cidr,
}

pub trait Table: Send + Sync + std::fmt::Debug {
    /// `type:name` as configured.
    fn name(&self) -> &str;
    fn kind(&self) -> TableKind;
    /// Ok(Some(value)) found, Ok(None) not found, Err temporary/config failure.
    fn lookup(&self, key: &str) -> Result<Option<String>, TableError>;
    /// Problems found when the table was opened (skipped lines and rules),
    /// in Postfix's wording, for the caller to log as warnings.
    fn warnings(&self) -> &[String] {
        &[]
    }
}

/// Open `type:name` (e.g. `hash:/etc/postfix/access`, `inline:{a=b}`).
pub fn open_table(spec: &str) -> Result<Arc<dyn Table>, TableError> {
    open::open(spec)
}

/// `postmap TYPE:NAME`: compile the source file into the on-disk form
/// (`NAME.db`). Use [`postmap_build_report`] to get the warnings too.
pub fn postmap_build(spec: &str) -> Result<(), TableError> {
    postmap_build_report(spec).map(|_| ())
}

#[cfg(test)]
mod tests;
