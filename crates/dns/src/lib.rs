//! The resolver wrapper with Postfix's semantics (docs/dns.md,
//! smtpd(8), smtp(8)): lookups of MX, A, AAAA, PTR and TXT records whose outcomes
//! are [`DnsResult`] (found, NXDOMAIN, no data, nullMX, temporary failure,
//! permanent failure, malformed), Postfix's validation of every name in an
//! answer with its exact warning texts, a TTL cache shared by the whole
//! process, and client-name resolution (PTR + forward confirmation).
//!
//! Name servers come from `/etc/resolv.conf`, or from the gatepost-only
//! parameter `dns_nameservers`; see [`ResolverSettings`]. The wire work is done
//! with `hickory-proto`; `hickory-resolver` reads the system configuration.
//!
//! Modules: `resolver` (the [`Resolver`]), `settings`, `transport` (UDP/TCP
//! to the name servers), `answer` (a reply into an outcome), `outcome`
//! ([`DnsResult`]), `name` (names in replies and their validation), `cache`,
//! `hosts` (`/etc/hosts`), `peer` (client-name resolution). Host name syntax
//! is `gatepost_proto::hostname`.
#![forbid(unsafe_code)]

mod answer;
mod cache;
mod hosts;
mod name;
mod outcome;
mod peer;
mod resolver;
mod settings;
mod transport;
mod wire_reply;

pub use cache::CacheStats;
pub use outcome::{DnsResult, Mx};
pub use peer::{PeerName, PeerStatus};
pub use resolver::{reverse_name, Resolver};
pub use settings::{ResolverSettings, SettingsError};
pub use wire_reply::classify_wire_reply;
