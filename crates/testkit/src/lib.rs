//! Test support shared by the integration tests: start the real `gatepost`
//! binary with a configuration in a temporary directory, talk SMTP to it
//! over real loopback sockets from chosen 127.0.0.x source addresses, run
//! golden session scripts (lines sent, replies expected), read its
//! Postfix-format log, wait for events, and kill/restart it.
//!
//! Nothing here mocks our own protocols: every test speaks to the server
//! the way a remote client would.
//!
//! Modules (public, imported by tests): `server` (the real binary),
//! `config_dir`, `client`, `script` (golden sessions), `sink` (test SMTP
//! servers for the client), `dns_server`, `log_capture`, `wait`, `pki` (a
//! test CA and server certificates made with rcgen).

#![forbid(unsafe_code)]

pub mod client;
pub mod config_dir;
pub mod dns_server;
pub mod log_capture;
pub mod metrics;
pub mod pki;
pub mod script;
pub mod server;
pub mod sink;
pub mod wait;

pub use client::{Client, SmtpReply};
pub use config_dir::ConfigDir;
pub use script::{open_transaction, queued_id, run_cases, run_session, steps, submit, Case, Step};
pub use server::TestServer;
pub use wait::{wait_until, wait_until_async, EVENT_TIMEOUT};

/// The path of the `gatepost` binary under test. A macro because only the
/// integration tests of the `gatepost` package know it
/// (`CARGO_BIN_EXE_gatepost`, expanded in the calling test).
#[macro_export]
macro_rules! gatepost_bin {
    () => {
        ::std::path::Path::new(env!("CARGO_BIN_EXE_gatepost"))
    };
}

/// The operator's anti-relay block, verbatim, as operators append it to
/// main.cf (and as the tests do).
pub const OPERATOR_BLOCK: &str = "
smtpd_client_restrictions = permit_mynetworks, reject
smtpd_helo_restrictions = reject_unknown_helo_hostname
smtpd_sender_restrictions = reject_unknown_sender_domain
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_data_restrictions = reject_unauth_pipelining
relay_domains_reject_code = 550
smtpd_helo_required = yes
allow_untrusted_routing = no
";

/// A temporary directory others may enter (mode 0755): a server started
/// as root gives up root for `mail_owner`, which must still reach its
/// queue, log and configuration in there.
pub fn shared_tempdir() -> anyhow::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}
