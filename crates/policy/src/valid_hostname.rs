//! Postfix's `valid_hostname()` / `valid_hostaddr()` family
//! (docs/dns.md#host-name-validation). Owned by the DNS crate, which checks
//! every name in an answer with them; re-exported here for the restriction engine.

pub use gatepost_dns::valid_hostname::*;
