//! Golden sessions for the restriction engine: the operator's
//! anti-relay block taken verbatim, an internet-facing MX profile with
//! access tables, the classic open-relay test battery, `smtpd_delay_reject`
//! both ways, the null sender and postmaster, and the `NOQUEUE: reject:`
//! log lines. Expectations are Postfix 3.7's (docs/restrictions.md,
//! docs/address-classes.md).
//!
//! The DNS restrictions of the operator's block are answered by a test DNS
//! server on loopback that knows `localhost` (Postfix asks DNS, not
//! /etc/hosts, for reject_unknown_helo_hostname: checked live). Every other
//! name is NXDOMAIN, so no test traffic leaves the loopback network.

use std::time::Duration;

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, run_cases, Case, ConfigDir, TestServer, OPERATOR_BLOCK};

/// A DNS server that knows only `localhost`.
fn localhost_dns() -> DnsServer {
    let mut z = Zones::new();
    z.a("localhost", "127.0.0.1");
    DnsServer::start(z).expect("test DNS server")
}

const DOMAINS: &str = "
relay_domains = relay.test
virtual_alias_domains = valias.test
virtual_alias_maps = inline:{ bob@valias.test=bob@spec.test }
local_recipient_maps = inline:{ bob=1, root=1 }
";

const G: (&str, &str) = ("", "220 mx.spec.test ESMTP");

#[test]
fn operator_block_verbatim() {
    let dns = localhost_dns();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!("{DOMAINS}{OPERATOR_BLOCK}{}", dns.main_cf()),
    )
    .unwrap();
    let cases: Vec<Case> = vec![
        ("stranger is refused at RCPT, not before", "127.0.0.2", vec![
            G,
            ("EHLO localhost", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<x@far.example>", "554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied"),
            ("RCPT TO:<bob@spec.test>", "554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied"),
            ("DATA", "554 5.5.1 Error: no valid recipients"),
        ]),
        ("helo is required", "127.0.0.2", vec![
            G,
            ("MAIL FROM:<a@spec.test>", "503 5.5.1 Error: send HELO/EHLO first"),
        ]),
        ("bare postmaster skips every RCPT restriction", "127.0.0.2", vec![
            G,
            ("HELO localhost", "250 mx.spec.test"),
            ("MAIL FROM:<>", "250 2.1.0 Ok"),
            ("RCPT TO:<postmaster>", "250 2.1.5 Ok"),
        ]),
        ("local host relays", "127.0.0.1", vec![
            G,
            ("EHLO localhost", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<x@far.example>", "250 2.1.5 Ok"),
            ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
            ("RSET", "250 2.0.0 Ok"),
        ]),
        // permit_mynetworks ends only the client list: the HELO and sender
        // checks of the block still apply to the local host (as in Postfix).
        ("local host with an unknown HELO name", "127.0.0.1", vec![
            G,
            ("EHLO nowhere.invalid", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<x@far.example>", "450 4.7.1 <nowhere.invalid>: Helo command rejected: Host not found"),
        ]),
        ("local host with an unknown sender domain", "127.0.0.1", vec![
            G,
            ("EHLO localhost", "250 "),
            ("MAIL FROM:<a@nowhere.invalid>", "250 2.1.0 Ok"),
            ("RCPT TO:<x@far.example>", "450 4.1.8 <a@nowhere.invalid>: Sender address rejected: Domain not found"),
        ]),
        ("local host: unknown local user is still refused", "127.0.0.1", vec![
            G,
            ("EHLO localhost", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<nosuch@spec.test>", "550 5.1.1 <nosuch@spec.test>: Recipient address rejected: User unknown in local recipient table"),
        ]),
    ];
    run_cases(&srv, cases);
    assert!(srv.wait_for_log(
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied; from=<a@spec.test> to=<x@far.example> proto=ESMTP helo=<localhost>",
        Duration::from_secs(2)
    ), "{}", srv.log());
}

#[test]
fn operator_block_catches_pipelining_spamware_at_data() {
    // With Postfix 3.7's smtpd_forbid_unauth_pipelining = no, the data
    // restriction is what stops a client that sends the message before 354.
    let dns = localhost_dns();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{DOMAINS}{OPERATOR_BLOCK}smtpd_forbid_unauth_pipelining = no\n{}",
            dns.main_cf()
        ),
    )
    .unwrap();
    let mut c = gatepost_testkit::Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO localhost").unwrap();
    c.send_raw(b"MAIL FROM:<a@spec.test>\r\nRCPT TO:<bob@spec.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
        .unwrap();
    assert_eq!(c.read_reply().unwrap().last_line(), "250 2.1.0 Ok");
    assert_eq!(c.read_reply().unwrap().last_line(), "250 2.1.5 Ok");
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"
    );
    // The unsent content is then read as commands; a header line ends it.
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "221 2.7.0 Error: I can break rules, too. Goodbye."
    );
    assert!(
        srv.wait_for_log(
            "improper command pipelining after DATA from unknown[127.0.0.1]: Subject: x\\r\\n",
            Duration::from_secs(2)
        ),
        "{}",
        srv.log()
    );
    assert!(srv.log().contains(": reject: DATA from unknown[127.0.0.1]: 503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining; from=<a@spec.test> to=<bob@spec.test> proto=ESMTP helo=<localhost>"), "{}", srv.log());
}

const MX_PROFILE: &str = "
smtpd_client_restrictions = check_client_access inline:{ 127.0.0.3=REJECT }
smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
smtpd_sender_restrictions = reject_non_fqdn_sender, check_sender_access inline:{ badsender.test=REJECT, { spammer@x.test = 550 5.7.1 go away } }
smtpd_recipient_restrictions = reject_non_fqdn_recipient, check_recipient_access inline:{ { tmp@spec.test = 451 4.7.1 try later }, { dir@spec.test = DEFER_IF_REJECT dir text } }, reject_unauth_destination
";

#[test]
fn open_relay_battery_on_an_internet_mx() {
    let srv = TestServer::start(gatepost_bin!(), &format!("{DOMAINS}{MX_PROFILE}")).unwrap();
    let denied = |rcpt: &'static str, reply: &'static str| -> Case {
        (
            "relay attempt",
            "127.0.0.2",
            vec![
                G,
                ("EHLO probe.example", "250 "),
                ("MAIL FROM:<relaytest@probe.example>", "250 2.1.0 Ok"),
                (rcpt, reply),
            ],
        )
    };
    let cases: Vec<Case> = vec![
        // Default smtpd_relay_restrictions: defer_unauth_destination → 454.
        denied("RCPT TO:<x@far.example>", "454 4.7.1 <x@far.example>: Relay access denied"),
        denied("RCPT TO:<x@FAR.EXAMPLE.>", "454 4.7.1 <x@FAR.EXAMPLE.>: Relay access denied"),
        denied("RCPT TO:<u@[10.9.9.9]>", "454 4.7.1 <u@[10.9.9.9]>: Relay access denied"),
        denied("RCPT TO:<u%far.example@spec.test>", "454 4.7.1 <u%far.example@spec.test>: Relay access denied"),
        denied("RCPT TO:<u@far.example@spec.test>", "454 4.7.1 <u@far.example@spec.test>: Relay access denied"),
        // The reply shows the internal form (as Postfix does); the log the quoted one.
        denied("RCPT TO:<\"u@far.example\"@spec.test>", "454 4.7.1 <u@far.example@spec.test>: Relay access denied"),
        denied("RCPT TO:<far.example!u@spec.test>", "454 4.7.1 <far.example!u@spec.test>: Relay access denied"),
        denied("RCPT TO:<@spec.test:u@far.example>", "454 4.7.1 <u@far.example>: Relay access denied"),
        denied("RCPT TO:<u@far.example@relay.test>", "454 4.7.1 <u@far.example@relay.test>: Relay access denied"),
        denied("RCPT TO:<u%far.example@relay.test>", "454 4.7.1 <u%far.example@relay.test>: Relay access denied"),
        denied("RCPT TO:<far.example!u@relay.test>", "454 4.7.1 <far.example!u@relay.test>: Relay access denied"),
        denied("RCPT TO:<postmaster@far.example>", "454 4.7.1 <postmaster@far.example>: Relay access denied"),
        denied("RCPT TO:<u@1.2.3.4>", "501 5.1.3 Bad recipient address syntax"),
        denied("RCPT TO:<u@[127.0.0.1]>", "550 5.1.1 <u@[127.0.0.1]>: Recipient address rejected: User unknown in local recipient table"),
        denied("RCPT TO:<zed@valias.test>", "550 5.1.1 <zed@valias.test>: Recipient address rejected: User unknown in virtual alias table"),
        denied("RCPT TO:<nosuch@spec.test>", "550 5.1.1 <nosuch@spec.test>: Recipient address rejected: User unknown in local recipient table"),
        denied("RCPT TO:<nofqdn>", "504 5.5.2 <nofqdn>: Recipient address rejected: need fully-qualified address"),
        // What an MX must accept.
        denied("RCPT TO:<u@relay.test>", "250 2.1.5 Ok"),
        denied("RCPT TO:<u@sub.relay.test>", "250 2.1.5 Ok"),
        denied("RCPT TO:<bob@valias.test>", "250 2.1.5 Ok"),
        denied("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
        denied("RCPT TO:<Postmaster@spec.test>", "250 2.1.5 Ok"),
        denied("RCPT TO:<postmaster>", "250 2.1.5 Ok"),
        // Access-table results.
        denied("RCPT TO:<tmp@spec.test>", "451 4.7.1 <tmp@spec.test>: Recipient address rejected: try later"),
        ("null sender", "127.0.0.2", vec![
            G,
            ("EHLO probe.example", "250 "),
            ("MAIL FROM:<>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
            ("RCPT TO:<x@far.example>", "454 4.7.1 <x@far.example>: Relay access denied"),
        ]),
        // The relay list permits mynetworks, but a permit ends only its own
        // list: this recipient list has no permit_mynetworks, so its
        // reject_unauth_destination refuses even the local host (docs/address-classes.md#the-relay-decision).
        ("a permit in the relay list does not skip the recipient list", "127.0.0.1", vec![
            G,
            ("EHLO probe.example", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<x@far.example>", "554 5.7.1 <x@far.example>: Relay access denied"),
            ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
        ]),
        ("client access table", "127.0.0.3", vec![
            G,
            ("EHLO probe.example", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "554 5.7.1 <unknown[127.0.0.3]>: Client host rejected: Access denied"),
        ]),
        ("sender access table", "127.0.0.2", vec![
            G,
            ("EHLO probe.example", "250 "),
            ("MAIL FROM:<a@badsender.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "554 5.7.1 <a@badsender.test>: Sender address rejected: Access denied"),
            ("RSET", "250 2.0.0 Ok"),
            ("MAIL FROM:<spammer@x.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "550 5.7.1 <spammer@x.test>: Sender address rejected: go away"),
            ("RSET", "250 2.0.0 Ok"),
            ("MAIL FROM:<nodomain>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "504 5.5.2 <nodomain>: Sender address rejected: need fully-qualified address"),
        ]),
        ("invalid helo", "127.0.0.2", vec![
            G,
            ("HELO bad_name!", "250 mx.spec.test"),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "501 5.5.2 <bad_name!>: Helo command rejected: Invalid name"),
        ]),
        ("non-fqdn helo", "127.0.0.2", vec![
            G,
            ("HELO nodot", "250 mx.spec.test"),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", "504 5.5.2 <nodot>: Helo command rejected: need fully-qualified hostname"),
        ]),
        ("defer_if_reject turns the unlisted 550 into 450", "127.0.0.2", vec![
            G,
            ("EHLO probe.example", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<dir@spec.test>", "450 4.7.1 <dir@spec.test>: Recipient address rejected: dir text"),
        ]),
    ];
    run_cases(&srv, cases);
    let log = srv.log();
    for needle in [
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 454 4.7.1 <x@far.example>: Relay access denied; from=<relaytest@probe.example> to=<x@far.example> proto=ESMTP helo=<probe.example>",
        "to=<\"u@far.example\"@spec.test>",
        "warning: Illegal address syntax from unknown[127.0.0.2] in RCPT command: <u@1.2.3.4>",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
}

#[test]
fn operator_block_with_relay_restrictions_emptied_gives_550() {
    // relay_domains_reject_code = 550 applies to reject_unauth_destination;
    // with smtpd_relay_restrictions emptied, it is the deciding restriction.
    let dns = localhost_dns();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{DOMAINS}{OPERATOR_BLOCK}smtpd_client_restrictions =\nsmtpd_relay_restrictions =\n{}",
            dns.main_cf()
        ),
    )
    .unwrap();
    run_cases(
        &srv,
        vec![(
            "relay refused with 550",
            "127.0.0.2",
            vec![
                G,
                ("EHLO localhost", "250 "),
                ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
                (
                    "RCPT TO:<x@far.example>",
                    "550 5.7.1 <x@far.example>: Relay access denied",
                ),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
            ],
        )],
    );
}

#[test]
fn delay_reject_no_rejects_at_each_stage() {
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!("{DOMAINS}{MX_PROFILE}smtpd_delay_reject = no\n"),
    )
    .unwrap();
    let cases: Vec<Case> = vec![
        (
            "client rejected instead of the greeting",
            "127.0.0.3",
            vec![
                (
                    "",
                    "554 5.7.1 <unknown[127.0.0.3]>: Client host rejected: Access denied",
                ),
                (
                    "EHLO probe.example",
                    "503 5.7.0 Error: access denied for unknown[127.0.0.3]",
                ),
                (
                    "MAIL FROM:<a@spec.test>",
                    "503 5.7.0 Error: access denied for unknown[127.0.0.3]",
                ),
                ("QUIT", "221 2.0.0 Bye"),
            ],
        ),
        (
            "helo rejected at HELO",
            "127.0.0.2",
            vec![
                G,
                (
                    "HELO bad_name!",
                    "501 5.5.2 <bad_name!>: Helo command rejected: Invalid name",
                ),
            ],
        ),
        (
            "sender rejected at MAIL",
            "127.0.0.2",
            vec![
                G,
                ("EHLO probe.example", "250 "),
                (
                    "MAIL FROM:<a@badsender.test>",
                    "554 5.7.1 <a@badsender.test>: Sender address rejected: Access denied",
                ),
                ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ],
        ),
    ];
    run_cases(&srv, cases);
    assert!(srv.log().contains("NOQUEUE: reject: CONNECT from unknown[127.0.0.3]: 554 5.7.1 <unknown[127.0.0.3]>: Client host rejected: Access denied; proto=SMTP"), "{}", srv.log());
    assert!(srv.log().contains("NOQUEUE: reject: HELO from unknown[127.0.0.2]: 501 5.5.2 <bad_name!>: Helo command rejected: Invalid name; proto=SMTP helo=<bad_name!>"), "{}", srv.log());
}

#[test]
fn policy_test_names_the_deciding_restriction_and_its_line() {
    let dns = localhost_dns();
    let dir = ConfigDir::with_main_cf(&format!(
        "myhostname = mx.spec.test\nmydestination = $myhostname, localhost, spec.test\nmynetworks = 127.0.0.1/32\n{OPERATOR_BLOCK}{}",
        dns.main_cf()
    ))
    .unwrap();
    let out = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(dir.path())
        .args([
            "policy-test",
            "--client",
            "192.0.2.9",
            "--helo",
            "localhost",
            "--sender",
            "a@spec.test",
            "--recipient",
            "x@far.example",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Exit status 4: a stage was rejected.
    assert_eq!(
        out.status.code(),
        Some(4),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("RCPT <x@far.example>: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied"),
        "{text}"
    );
    // The line smtpd would log for it.
    assert!(
        text.contains("  log: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied; from=<a@spec.test> to=<x@far.example> proto=ESMTP helo=<localhost>"),
        "{text}"
    );
    // smtpd_client_restrictions is on line 5 of that main.cf (after a blank line).
    let decided: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("<== decision"))
        .collect();
    assert!(
        decided
            .iter()
            .any(|l| l.contains("smtpd_client_restrictions")
                && l.contains("main.cf:5)")
                && l.contains(": reject =>")),
        "{text}"
    );
    assert!(
        text.contains("DATA: 554 5.5.1 Error: no valid recipients"),
        "{text}"
    );

    let out = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(dir.path())
        .args([
            "policy-test",
            "--client",
            "127.0.0.1",
            "--helo",
            "localhost",
            "--sender",
            "a@spec.test",
            "--recipient",
            "x@far.example",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("RCPT <x@far.example>: accept"), "{text}");
    assert!(text.contains("permit_mynetworks"), "{text}");
}

#[test]
fn talking_before_the_greeting_is_improper_pipelining() {
    // The PTR lookup of 127.0.0.2 goes unanswered for a second, so the
    // client's EHLO is certainly waiting when the server checks, just
    // before its greeting (Postfix makes the same check with no delay).
    let mut z = Zones::new();
    z.no_answer("2.0.0.127.in-addr.arpa");
    let dns = DnsServer::start(z).unwrap();
    let extra = format!(
        "{}dns_query_timeout = 1s\ndns_query_attempts = 1\nsmtpd_peername_lookup = yes\n\
         smtpd_forbid_unauth_pipelining = no\n\
         smtpd_recipient_restrictions = reject_unauth_pipelining, permit_mynetworks, reject_unauth_destination\n",
        dns.main_cf()
    );
    let srv = TestServer::start(gatepost_bin!(), &extra).unwrap();
    let mut c = gatepost_testkit::Client::connect_from("127.0.0.2", srv.addr).unwrap();
    c.send_line("EHLO early.example").unwrap();
    assert!(c
        .read_reply()
        .unwrap()
        .last_line()
        .starts_with("220 mx.spec.test"));
    assert_eq!(c.read_reply().unwrap().code, 250);
    assert_eq!(
        c.command("MAIL FROM:<a@spec.test>").unwrap().last_line(),
        "250 2.1.0 Ok"
    );
    assert_eq!(
        c.command("RCPT TO:<bob@spec.test>").unwrap().last_line(),
        "503 5.5.0 <bob@spec.test>: Recipient address rejected: Improper use of SMTP command pipelining"
    );
    assert!(srv.wait_for_log(
        "improper command pipelining after CONNECT from unknown[127.0.0.2]: EHLO early.example\\r\\n",
        Duration::from_secs(2)
    ), "{}", srv.log());

    // With gatepost's default smtpd_forbid_unauth_pipelining = yes the
    // client is cut off at once, as Postfix 3.9 does.
    let srv = TestServer::start(
        gatepost_bin!(),
        &extra.replace("smtpd_forbid_unauth_pipelining = no\n", ""),
    )
    .unwrap();
    let mut c = gatepost_testkit::Client::connect_from("127.0.0.2", srv.addr).unwrap();
    c.send_line("EHLO early.example").unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "554 5.5.0 Error: SMTP protocol synchronization"
    );
    assert!(c.is_closed());
}
