//! Address rewriting and resolution, Postfix's trivial-rewrite and the
//! cleanup-time rewrites: canonicalising bare local parts
//! (`myorigin`/`append_at_myorigin`), resolving an address to its class
//! (local, virtual alias, virtual mailbox, relay, default) and transport, the
//! ROUTED flag for sender-specified routing (`allow_percent_hack`,
//! `swap_bangpath`, `resolve_dequoted_address`), and recursive
//! `virtual_alias_maps` expansion, and the `transport_maps` override of the
//! queue manager's resolve. RFC 5321/5322 quoting of local parts
//! (internal ↔ external form) lives here too.
//!
//! Modules: `rewriter` (the [`Rewriter`] and its settings), `canon`
//! (canonicalisation), `canonical_maps` (canonical(5) maps and
//! masquerading, [`AddressRole`]), `addr_find` (address-keyed lookups), `virtual_alias`,
//! `resolve` and `resolve_loop` (trivial-rewrite's resolve), `local`
//! (`resolve_local`), `interfaces` (own addresses), `transport` (class
//! transports), `transport_maps`, `header_addresses`, `quote`, `error`.
#![forbid(unsafe_code)]

mod addr_find;
mod canon;
mod canonical_maps;
mod error;
mod header_addresses;
mod interfaces;
mod local;
mod quote;
mod resolve;
mod resolve_loop;
mod rewriter;
mod transport;
mod transport_maps;
mod virtual_alias;

pub use canonical_maps::AddressRole;
pub use error::RewriteError;
pub use header_addresses::{
    address_list, address_list_items, is_address_header, is_sender_header, rewrite_header, ListItem,
};
pub use interfaces::OwnAddresses;
pub use quote::{quote_address, unquote_address};
pub use resolve::{AddressClass, Resolved};
pub use rewriter::Rewriter;
