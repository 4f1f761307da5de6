//! Lookup tables behind one trait (`inline`, `static`, `texthash`, `hash`,
//! `cidr`, `regexp`, `pcre`, `unix:passwd.byname`, `proxy:` prefix) with three
//! outcomes: found, not found, temporary failure; plus Postfix match lists
//! (domain lists such as `mydestination`/`relay_domains`, network lists such as
//! `mynetworks`) and the `postmap` operations.
//!
//! API CONTRACT (other crates are written against these signatures; extend,
//! do not change).
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Lookup could not be answered now (→ 4xx, never a silent pass).
    #[error("{table}: temporary lookup failure: {why}")]
    Temporary { table: String, why: String },
    /// The table spec or its file is wrong (→ 451 4.3.5 Server configuration error).
    #[error("{table}: {why}")]
    Config { table: String, why: String },
}

/// How a table matches keys: `Exact` tables are asked each key of Postfix's
/// lookup sequence; `Pattern` tables (regexp, pcre) and `Cidr` see the full
/// key only, as in Postfix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind { Exact, Pattern, Cidr }

pub trait Table: Send + Sync + std::fmt::Debug {
    /// `type:name` as configured.
    fn name(&self) -> &str;
    fn kind(&self) -> TableKind;
    /// Ok(Some(value)) found, Ok(None) not found, Err temporary/config failure.
    fn lookup(&self, key: &str) -> Result<Option<String>, TableError>;
}

/// Open `type:name` (e.g. `hash:/etc/postfix/access`, `inline:{a=b}`).
pub fn open_table(spec: &str) -> Result<Arc<dyn Table>, TableError> { let _ = spec; todo!() }

/// `postmap TYPE:NAME`: compile the source file into the on-disk form.
pub fn postmap_build(spec: &str) -> Result<(), TableError> { let _ = spec; todo!() }

/// A Postfix match list of domain patterns (`mydestination`, `relay_domains`,
/// `virtual_*_domains`): literals, `.domain`, `!pattern`, `/file`, `type:table`.
#[derive(Debug, Clone)]
pub struct DomainList {}

impl DomainList {
    /// `match_subdomains`: whether `example.com` also matches `sub.example.com`
    /// (the feature is listed in `parent_domain_matches_subdomains`).
    pub fn parse(items: &[String], match_subdomains: bool) -> Result<DomainList, TableError> { let _ = (items, match_subdomains); todo!() }
    pub fn is_empty(&self) -> bool { todo!() }
    pub fn matches(&self, domain: &str) -> Result<bool, TableError> { let _ = domain; todo!() }
}

/// A Postfix match list of clients (`mynetworks`): `net/len`, `[v6]/len`, bare
/// IPs, hostnames / `.domain` (matched against the client name), `!pattern`,
/// `/file`, `type:table`.
#[derive(Debug, Clone)]
pub struct NetworkList {}

impl NetworkList {
    pub fn parse(items: &[String], match_subdomains: bool) -> Result<NetworkList, TableError> { let _ = (items, match_subdomains); todo!() }
    pub fn matches(&self, client_name: &str, addr: IpAddr) -> Result<bool, TableError> { let _ = (client_name, addr); todo!() }
}

/// The default `mynetworks` for a `mynetworks_style` (`host`, `subnet`,
/// `class`) given the machine's interface addresses.
pub fn default_mynetworks(style: &str, interfaces: &[IpAddr]) -> Vec<String> { let _ = (style, interfaces); todo!() }

/// Postfix's access-table lookup sequences (smtpd_check.c).
pub mod keys {
    /// Keys for a hostname/domain: `sub.example.com`, `example.com`, `com`
    /// (or `.example.com`, `.com` without parent matching); none for numeric.
    pub fn domain_keys(name: &str, parent_matches_subdomains: bool) -> Vec<String> { let _ = (name, parent_matches_subdomains); todo!() }
    /// IP keys: `1.2.3.4`, `1.2.3`, `1.2`, `1` (IPv6: truncate at last `:`).
    pub fn ip_keys(addr: std::net::IpAddr) -> Vec<String> { let _ = addr; todo!() }
    /// Keys for an email address: `user+ext@dom`, `user@dom` (delimiter),
    /// domain keys, `user+ext@`, `user@`.
    pub fn address_keys(addr: &str, recipient_delimiter: &str, parent_matches_subdomains: bool) -> Vec<String> { let _ = (addr, recipient_delimiter, parent_matches_subdomains); todo!() }
}
