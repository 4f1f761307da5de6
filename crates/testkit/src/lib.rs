//! Test support shared by the integration tests: start the real `gatepost`
//! binary with a configuration in a temporary directory, talk SMTP to it
//! over real loopback sockets from chosen 127.0.0.x source addresses, run
//! golden session scripts (lines sent, replies expected), read its
//! Postfix-format log, and kill/restart it.
//!
//! Nothing here mocks our own protocols: every test speaks to the server
//! the way a remote client would.

#![forbid(unsafe_code)]

pub mod client;
pub mod dns_server;
pub mod server;
pub mod sink;

pub use client::{Client, SmtpReply};
pub use server::TestServer;

/// One step of a golden session: what the client sends, and the start of
/// the reply it must get (e.g. `"250 2.1.5"`, `"554 5.7.1 <x@far.example>: Relay access denied"`).
/// `send` may be empty to only read a reply (the greeting).
#[derive(Debug, Clone)]
pub struct Step {
    pub send: String,
    pub expect: String,
}

/// Build a step list from `(send, expect)` pairs.
pub fn steps(pairs: &[(&str, &str)]) -> Vec<Step> {
    pairs
        .iter()
        .map(|(s, e)| Step {
            send: s.to_string(),
            expect: e.to_string(),
        })
        .collect()
}

/// Run a golden session from `client_ip`; returns a description of the
/// first mismatch, if any. The greeting is checked against the first step
/// when its `send` is empty.
pub fn run_session(server: &TestServer, client_ip: &str, script: &[Step]) -> Result<(), String> {
    let mut client =
        Client::connect_from(client_ip, server.addr).map_err(|e| format!("connect: {e}"))?;
    for (i, step) in script.iter().enumerate() {
        let reply = if step.send.is_empty() {
            client.read_reply()
        } else {
            client.command(&step.send)
        }
        .map_err(|e| format!("step {i} ({:?}): {e}", step.send))?;
        let got = reply.last_line();
        if !got.starts_with(&step.expect) {
            return Err(format!(
                "step {i}: sent {:?}: expected reply starting {:?}, got {:?}",
                step.send,
                step.expect,
                reply.full()
            ));
        }
    }
    Ok(())
}

/// A named golden session: (name, client address, steps as (send, expect)).
pub type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// Run every case against `srv`; panic listing all failures and the log.
pub fn run_cases(srv: &TestServer, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for (name, client, script) in cases {
        if let Err(e) = run_session(srv, client, &steps(&script)) {
            failures.push(format!("{name} (from {client}): {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n--- log ---\n{}",
        failures.join("\n"),
        srv.log()
    );
}

/// The operator's anti-relay block, verbatim, as tests append it to main.cf.
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
