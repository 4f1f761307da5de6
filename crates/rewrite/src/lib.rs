//! Address rewriting and resolution, Postfix's trivial-rewrite and the
//! cleanup-time rewrites: canonicalising bare local parts
//! (`myorigin`/`append_at_myorigin`), resolving an address to its class
//! (local, virtual alias, virtual mailbox, relay, default) and transport, the
//! ROUTED flag for sender-specified routing (`allow_percent_hack`,
//! `swap_bangpath`, `resolve_dequoted_address`), and recursive
//! `virtual_alias_maps` expansion. RFC 5321/5322 quoting of local parts
//! (internal ↔ external form) lives here too.
//!
//! API CONTRACT (other crates are written against these signatures; extend,
//! do not change).
#![forbid(unsafe_code)]

use gatepost_config::Config;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// A table lookup failed temporarily (→ `451 4.3.0 ... Temporary lookup failure`).
    #[error("temporary lookup failure: {0}")]
    Temporary(String),
    /// Bad address syntax after resolution (e.g. `u@1.2.3.4`, bad literal).
    #[error("bad address syntax: {0}")]
    BadAddress(String),
    /// Configuration problem (bad table spec ...).
    #[error("configuration error: {0}")]
    Config(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass { Local, VirtualAlias, VirtualMailbox, Relay, Default }

/// The result of resolving one address (internal form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub class: AddressClass,
    /// Transport name (`local`, `virtual`, `smtp`, `error`, `discard`, ...).
    pub transport: String,
    /// Next-hop (domain, `[host]:port`, or error text for `error:`).
    pub nexthop: String,
    /// Final recipient address (internal form) after the resolver loop.
    pub recipient: String,
    /// Sender-specified routing remained (`@`, `!`, `%` in the final local part).
    pub routed: bool,
}

/// Built once from the configuration; cheap to share (`Arc`).
#[derive(Debug)]
pub struct Rewriter {}

impl Rewriter {
    pub fn from_config(cfg: &Config) -> Result<Rewriter, RewriteError> { let _ = cfg; todo!() }
    /// Cleanup canonicalisation: bare `user` → `user@$myorigin` (append_at_myorigin).
    pub fn canonicalize(&self, addr: &str) -> String { let _ = addr; todo!() }
    /// trivial-rewrite resolve (postfix-compat §4.1).
    pub fn resolve(&self, addr: &str) -> Result<Resolved, RewriteError> { let _ = addr; todo!() }
    /// Recursive virtual_alias_maps expansion (Postfix cleanup semantics);
    /// an address not in the map expands to itself.
    pub fn expand_virtual_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError> { let _ = addr; todo!() }
    /// Whether the address is known through virtual_alias_maps (or canonical maps).
    pub fn is_virtual_alias(&self, addr: &str) -> Result<bool, RewriteError> { let _ = addr; todo!() }
}

/// Internal form → external (RFC 5321) form: quote the local part when needed.
pub fn quote_address(internal: &str) -> String { let _ = internal; todo!() }
/// External form → internal form: remove quoting of the local part.
pub fn unquote_address(external: &str) -> String { let _ = external; todo!() }
