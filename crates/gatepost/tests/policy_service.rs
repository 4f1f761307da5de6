//! `check_policy_service`: a real policy server on a loopback port (the
//! protocol of docs/restrictions.md#policy-delegation, as postgrey or policyd-spf speak it)
//! answers REJECT, DEFER_IF_PERMIT or DUNNO; the request carries Postfix
//! 3.7's attributes in order; an unreachable service gets
//! smtpd_policy_service_default_action.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, run_cases, Case, TestServer};

/// A policy server: answers each request by its recipient and records
/// every request's attribute lines.
fn policy_server() -> (u16, Arc<Mutex<Vec<Vec<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut writer = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                loop {
                    let mut attrs = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end().to_string();
                        if line.is_empty() {
                            break;
                        }
                        attrs.push(line);
                    }
                    let rcpt = attrs
                        .iter()
                        .find_map(|a| a.strip_prefix("recipient="))
                        .unwrap_or("")
                        .to_string();
                    let action = match rcpt.as_str() {
                        "polrej@spec.test" => "REJECT policy says no",
                        "grey@spec.test" => "DEFER_IF_PERMIT Greylisted, try again later",
                        _ => "DUNNO",
                    };
                    log.lock().unwrap().push(attrs);
                    if writer
                        .write_all(format!("action={action}\n\n").as_bytes())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

const G: (&str, &str) = ("", "220 mx.spec.test ESMTP");

#[test]
fn policy_server_decides_after_the_relay_check() {
    let (port, seen) = policy_server();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service inet:127.0.0.1:{port}\n"
        ),
    )
    .unwrap();
    let cases: Vec<Case> = vec![("policy answers", "127.0.0.2", vec![
        G,
        ("EHLO client.example", "250 "),
        ("MAIL FROM:<a@ext.example>", "250 2.1.0 Ok"),
        ("RCPT TO:<polrej@spec.test>", "554 5.7.1 <polrej@spec.test>: Recipient address rejected: policy says no"),
        ("RCPT TO:<grey@spec.test>", "450 4.7.1 <grey@spec.test>: Recipient address rejected: Greylisted, try again later"),
        ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
        // Relaying is refused before the policy server is asked.
        ("RCPT TO:<x@far.example>", "454 4.7.1 <x@far.example>: Relay access denied"),
    ])];
    run_cases(&srv, cases);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let names: Vec<&str> = seen[0]
        .iter()
        .map(|a| a.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "request",
            "protocol_state",
            "protocol_name",
            "client_address",
            "client_name",
            "client_port",
            "reverse_client_name",
            "server_address",
            "server_port",
            "helo_name",
            "sender",
            "recipient",
            "recipient_count",
            "queue_id",
            "instance",
            "size",
            "etrn_domain",
            "stress",
            "sasl_method",
            "sasl_username",
            "sasl_sender",
            "ccert_subject",
            "ccert_issuer",
            "ccert_fingerprint",
            "ccert_pubkey_fingerprint",
            "encryption_protocol",
            "encryption_cipher",
            "encryption_keysize",
            "policy_context",
        ]
    );
    for want in [
        "request=smtpd_access_policy",
        "protocol_state=RCPT",
        "protocol_name=ESMTP",
        "client_address=127.0.0.2",
        "client_name=unknown",
        "helo_name=client.example",
        "sender=a@ext.example",
        "recipient=polrej@spec.test",
        "recipient_count=0",
        "encryption_keysize=0",
    ] {
        assert!(
            seen[0].iter().any(|a| a == want),
            "missing {want}: {:?}",
            seen[0]
        );
    }
    assert!(srv.log().contains(
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 <polrej@spec.test>: Recipient address rejected: policy says no; from=<a@ext.example> to=<polrej@spec.test> proto=ESMTP helo=<client.example>"
    ), "{}", srv.log());
}

#[test]
fn unreachable_policy_server_gets_the_default_action() {
    let srv = TestServer::start(
        gatepost_bin!(),
        "smtpd_recipient_restrictions = check_policy_service { inet:127.0.0.1:1, timeout=2s }, permit_mynetworks, reject_unauth_destination\n\
         smtpd_policy_service_retry_delay = 1s\n",
    )
    .unwrap();
    run_cases(&srv, vec![("service down", "127.0.0.2", vec![
        G,
        ("EHLO client.example", "250 "),
        ("MAIL FROM:<a@ext.example>", "250 2.1.0 Ok"),
        ("RCPT TO:<bob@spec.test>", "451 4.3.5 <bob@spec.test>: Recipient address rejected: Server configuration problem"),
    ])]);
    assert!(
        srv.wait_for_log(
            "warning: problem talking to server 127.0.0.1:1: ",
            Duration::from_secs(2)
        ),
        "{}",
        srv.log()
    );
}
