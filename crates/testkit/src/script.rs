//! Golden session scripts (lines sent, start of the reply expected) run
//! against a test server from a chosen 127.0.0.x source address, and the
//! common "greet, EHLO, MAIL, RCPT, DATA" submission that returns the
//! queue id.

use crate::{Client, SmtpReply, TestServer};

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

/// A client from `ip` with a transaction open: greeted, `EHLO helo`,
/// `MAIL FROM:<from>` and `RCPT TO:<rcpt>` for each recipient, every one
/// of them answered 250 (panics otherwise, with the reply).
pub fn open_transaction(
    srv: &TestServer,
    ip: &str,
    helo: &str,
    from: &str,
    rcpts: &[&str],
) -> Client {
    let mut c = Client::connect_from(ip, srv.addr).expect("connect");
    c.read_reply().expect("greeting");
    c.command(&format!("EHLO {helo}")).expect("EHLO");
    let r = c.command(&format!("MAIL FROM:<{from}>")).expect("MAIL");
    assert_eq!(r.code, 250, "MAIL FROM:<{from}>: {r:?}");
    for rcpt in rcpts {
        let r = c.command(&format!("RCPT TO:<{rcpt}>")).expect("RCPT");
        assert_eq!(r.code, 250, "{rcpt}: {r:?}");
    }
    c
}

/// The queue id of a `250 2.0.0 Ok: queued as ID` reply (panics on any
/// other reply).
pub fn queued_id(reply: &SmtpReply) -> String {
    let line = reply.last_line();
    assert!(line.starts_with("250 2.0.0 Ok: queued as"), "{reply:?}");
    line.rsplit(' ').next().unwrap_or_default().to_string()
}

/// Submit one message from 127.0.0.1 (greeting, EHLO, MAIL, RCPTs, DATA,
/// content); every step must succeed. Returns the queue id.
pub fn submit(srv: &TestServer, helo: &str, from: &str, rcpts: &[&str], content: &str) -> String {
    let mut c = open_transaction(srv, "127.0.0.1", helo, from, rcpts);
    let r = c.send_message(content).expect("DATA");
    queued_id(&r)
}
