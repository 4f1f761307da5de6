//! Built-in mail authentication (docs/mail-auth.md) on top of `mail-auth`:
//! SPF (RFC 7208) for smtpd's `reject_spf_*` restrictions, DKIM
//! verification, ARC validation and DMARC evaluation (RFC 6376, RFC 8617,
//! RFC 7489) with the `Authentication-Results:` header (RFC 8601), DKIM
//! signing and ARC sealing with the operator's keys, and `gatepost dkim
//! keygen`.
//!
//! Every DNS question goes through gatepost's resolver and its cache
//! (`gatepost_dns::Resolver`); see `bridge`.
//!
//! Modules: `bridge` (mail-auth's record caches filled from gatepost's
//! resolver), `spf`, `inbound` (DKIM, ARC, DMARC, the header),
//! `dmarc_policy` (`pct=`, `np=`), `signing` (`gatepost_dkim_signing_keys`),
//! `arc` (the seal), `keygen`, `pem`.
#![forbid(unsafe_code)]

mod arc;
mod bridge;
mod dmarc_policy;
mod inbound;
mod keygen;
mod pem;
mod signing;
mod spf;

pub use arc::ArcSealing;
pub use inbound::{verify_inbound, DmarcAction, InboundResult};
pub use keygen::{keygen, KeyAlgorithm, KeygenError, KeygenOutput};
pub use signing::{SigningError, SigningKeys};
pub use spf::{check_spf, SpfCheck, SpfVerdict};
