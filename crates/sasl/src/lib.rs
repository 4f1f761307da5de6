//! SMTP AUTH (RFC 4954) for smtpd: the PLAIN and LOGIN mechanism exchanges
//! as sans-IO state machines, and the two places credentials are checked,
//! as Postfix's `smtpd_sasl_type` names them: `cyrus` is gatepost's own
//! password store (a passwd-style file managed with `gatepost saslpasswd`),
//! `dovecot` asks a Dovecot auth server over `smtpd_sasl_path`.
#![forbid(unsafe_code)]

mod backend;
mod dovecot;
mod mechanism;
mod passwd;

pub use backend::{Backend, Outcome};
pub use mechanism::{decode_response, Credentials, Exchange, Mechanism, Step};
pub use passwd::{hash_password, PasswdError, PasswdFile};
