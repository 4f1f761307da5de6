//! DNS checks: whole SMTP sessions against the real server, with
//! a real DNS server on a loopback port serving test zones (testkit
//! `dns_server`). Every server here sets `dns_nameservers` to that server,
//! so no query leaves 127.0.0.1. Expectations are Postfix 3.7's
//! (docs/dns.md, docs/restrictions.md): reply codes and texts, the
//! `NOQUEUE: reject:` log lines, `connect from name[addr]`, and the
//! operator's DNS warning lines word for word.

use std::time::Duration;

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, run_cases, run_session, steps, ConfigDir, TestServer};

/// The test zones.
fn zones() -> Zones {
    let mut z = Zones::new();
    z.a("a-only.dns.test", "127.0.0.10")
        .mx("mx-only.dns.test", 10, "mail.a-only.dns.test")
        .a("both.dns.test", "127.0.0.11")
        .mx("both.dns.test", 10, "both.dns.test")
        .servfail("servfail.dns.test")
        .no_answer("timeout.dns.test")
        .mx("numeric-mx.dns.test", 10, "192.0.2.1")
        .mx("malformed-mx.dns.test", 10, "-bad.dns.test")
        .mx("malformed-mx.dns.test", 20, "1.2.3")
        .mx("null-mx.dns.test", 0, ".")
        .cname("cname-root.dns.test", ".")
        // Client names: 127.0.0.2 confirmed, .3 forged, .4 PTR to the
        // root, .5 no PTR, .6 PTR lookup fails.
        .ptr("127.0.0.2", "client.dns.test")
        .a("client.dns.test", "127.0.0.2")
        .ptr("127.0.0.3", "forged.dns.test")
        .a("forged.dns.test", "127.0.0.99")
        .ptr("127.0.0.4", ".")
        .servfail("6.0.0.127.in-addr.arpa")
        // DNS block and allow lists.
        .a("2.0.0.127.bl.test", "127.0.0.2")
        .txt("2.0.0.127.bl.test", "listed by bl.test")
        .a("3.0.0.127.bl.test", "127.0.0.3")
        .servfail("6.0.0.127.bl.test")
        .a("2.0.0.127.wl.test", "127.0.0.2")
        .a("spam.dns.test", "127.0.0.12")
        .a("spam.dns.test.rhs.test", "127.0.0.2")
        .txt("spam.dns.test.rhs.test", "spam domain")
        .a("client.dns.test.rhs.test", "127.0.0.2");
    z
}

struct Setup {
    dns: DnsServer,
    srv: TestServer,
}

fn start(extra: &str) -> Setup {
    start_in(ConfigDir::new().unwrap(), extra)
}

/// [`start`] on a prepared configuration directory (with table files).
fn start_in(config: ConfigDir, extra: &str) -> Setup {
    let dns = DnsServer::start(zones()).unwrap();
    let cf = format!(
        "{}dns_query_timeout = 1s\ndns_query_attempts = 1\n{extra}",
        dns.main_cf()
    );
    let srv = config.main_cf(&cf).unwrap().start(gatepost_bin!()).unwrap();
    Setup { dns, srv }
}

fn assert_log(srv: &TestServer, needles: &[&str]) {
    for n in needles {
        assert!(
            srv.wait_for_log(n, Duration::from_secs(3)),
            "missing log line {n:?}\n--- log ---\n{}",
            srv.log()
        );
    }
}

const G: (&str, &str) = ("", "220 mx.spec.test ESMTP");

#[test]
fn reject_unknown_helo_hostname() {
    let s = start(
        "smtpd_helo_restrictions = reject_unknown_helo_hostname\nunknown_hostname_reject_code = 550\n",
    );
    let helo = |h: &'static str, want: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            G,
            (h, "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", want),
        ]
    };
    run_cases(&s.srv, vec![
        ("A only", "127.0.0.1", helo("EHLO a-only.dns.test", "250 2.1.5 Ok")),
        ("MX only", "127.0.0.1", helo("EHLO mx-only.dns.test", "250 2.1.5 Ok")),
        ("A and MX", "127.0.0.1", helo("HELO both.dns.test", "250 2.1.5 Ok")),
        ("nullMX counts as existing", "127.0.0.1", helo("EHLO null-mx.dns.test", "250 2.1.5 Ok")),
        ("literal is only checked for syntax", "127.0.0.1", helo("EHLO [127.0.0.1]", "250 2.1.5 Ok")),
        ("NXDOMAIN", "127.0.0.1", helo("EHLO nx.dns.test",
            "550 5.7.1 <nx.dns.test>: Helo command rejected: Host not found")),
        ("SERVFAIL is temporary", "127.0.0.1", helo("EHLO servfail.dns.test",
            "450 4.7.1 <servfail.dns.test>: Helo command rejected: Host not found")),
        ("timeout is temporary", "127.0.0.1", helo("EHLO timeout.dns.test",
            "450 4.7.1 <timeout.dns.test>: Helo command rejected: Host not found")),
        ("malformed MX", "127.0.0.1", helo("EHLO malformed-mx.dns.test",
            "550 5.7.1 <malformed-mx.dns.test>: Helo command rejected: Malformed DNS server reply")),
    ]);
    assert_log(&s.srv, &[
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 <nx.dns.test>: Helo command rejected: Host not found; from=<a@spec.test> to=<bob@spec.test> proto=ESMTP helo=<nx.dns.test>",
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 <timeout.dns.test>: Helo command rejected: Host not found; from=<a@spec.test> to=<bob@spec.test> proto=ESMTP helo=<timeout.dns.test>",
    ]);
}

#[test]
fn unknown_helo_hostname_tempfail_action() {
    // Immediate HELO checks show where the tempfail action takes effect.
    let s = start(
        "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_unknown_helo_hostname\nunknown_hostname_reject_code = 550\nunknown_helo_hostname_tempfail_action = defer\n",
    );
    run_cases(
        &s.srv,
        vec![
            (
                "defer rejects at HELO",
                "127.0.0.1",
                vec![
                    G,
                    (
                        "HELO servfail.dns.test",
                        "450 4.7.1 <servfail.dns.test>: Helo command rejected: Host not found",
                    ),
                ],
            ),
            (
                "permanent failure rejects at HELO",
                "127.0.0.1",
                vec![
                    G,
                    (
                        "HELO nx.dns.test",
                        "550 5.7.1 <nx.dns.test>: Helo command rejected: Host not found",
                    ),
                ],
            ),
        ],
    );
    let d =
        start("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_unknown_helo_hostname\n");
    run_cases(
        &d.srv,
        vec![
            (
                "defer_if_permit waits for a permit",
                "127.0.0.1",
                vec![
                    G,
                    ("HELO servfail.dns.test", "250 mx.spec.test"),
                    ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
                    (
                        "RCPT TO:<bob@spec.test>",
                        "450 4.7.1 <servfail.dns.test>: Helo command rejected: Host not found",
                    ),
                ],
            ),
            (
                "default unknown_hostname_reject_code is 450",
                "127.0.0.1",
                vec![
                    G,
                    (
                        "HELO nx.dns.test",
                        "450 4.7.1 <nx.dns.test>: Helo command rejected: Host not found",
                    ),
                ],
            ),
        ],
    );
}

#[test]
fn reject_unknown_sender_and_recipient_domain() {
    let s = start(
        "smtpd_sender_restrictions = reject_unknown_sender_domain\n\
         smtpd_recipient_restrictions = reject_unknown_recipient_domain, permit_mynetworks, reject_unauth_destination\n\
         unknown_address_reject_code = 550\n",
    );
    let mail = |from: &'static str, want: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            G,
            ("EHLO client.example", "250 "),
            (from, "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", want),
        ]
    };
    let rcpt = |to: &'static str, want: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            G,
            ("EHLO client.example", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            (to, want),
        ]
    };
    run_cases(&s.srv, vec![
        ("sender A only", "127.0.0.1", mail("MAIL FROM:<a@a-only.dns.test>", "250 2.1.5 Ok")),
        ("sender MX only", "127.0.0.1", mail("MAIL FROM:<a@mx-only.dns.test>", "250 2.1.5 Ok")),
        ("sender numeric MX passes", "127.0.0.1", mail("MAIL FROM:<a@numeric-mx.dns.test>", "250 2.1.5 Ok")),
        ("null sender is skipped", "127.0.0.1", mail("MAIL FROM:<>", "250 2.1.5 Ok")),
        ("sender NXDOMAIN", "127.0.0.1", mail("MAIL FROM:<a@nx.dns.test>",
            "550 5.1.8 <a@nx.dns.test>: Sender address rejected: Domain not found")),
        ("sender SERVFAIL", "127.0.0.1", mail("MAIL FROM:<a@servfail.dns.test>",
            "450 4.1.8 <a@servfail.dns.test>: Sender address rejected: Domain not found")),
        ("sender timeout", "127.0.0.1", mail("MAIL FROM:<a@timeout.dns.test>",
            "450 4.1.8 <a@timeout.dns.test>: Sender address rejected: Domain not found")),
        ("sender nullMX", "127.0.0.1", mail("MAIL FROM:<a@null-mx.dns.test>",
            "550 5.7.27 <a@null-mx.dns.test>: Sender address rejected: Domain null-mx.dns.test does not accept mail (nullMX)")),
        ("sender malformed MX", "127.0.0.1", mail("MAIL FROM:<a@malformed-mx.dns.test>",
            "550 5.1.8 <a@malformed-mx.dns.test>: Sender address rejected: Malformed DNS server reply")),
        ("sender CNAME to the root", "127.0.0.1", mail("MAIL FROM:<a@cname-root.dns.test>",
            "550 5.1.8 <a@cname-root.dns.test>: Sender address rejected: Malformed DNS server reply")),
        ("recipient A only", "127.0.0.1", rcpt("RCPT TO:<x@a-only.dns.test>", "250 2.1.5 Ok")),
        ("recipient NXDOMAIN", "127.0.0.1", rcpt("RCPT TO:<x@nx.dns.test>",
            "550 5.1.2 <x@nx.dns.test>: Recipient address rejected: Domain not found")),
        ("recipient SERVFAIL", "127.0.0.1", rcpt("RCPT TO:<x@servfail.dns.test>",
            "450 4.1.2 <x@servfail.dns.test>: Recipient address rejected: Domain not found")),
        ("recipient nullMX", "127.0.0.1", rcpt("RCPT TO:<x@null-mx.dns.test>",
            "556 5.1.10 <x@null-mx.dns.test>: Recipient address rejected: Domain null-mx.dns.test does not accept mail (nullMX)")),
        ("recipient malformed MX", "127.0.0.1", rcpt("RCPT TO:<x@malformed-mx.dns.test>",
            "550 5.1.2 <x@malformed-mx.dns.test>: Recipient address rejected: Malformed DNS server reply")),
    ]);
    assert_log(&s.srv, &[
        // The operator's three lines, word for word, logged by smtpd.
        "postfix/smtpd[",
        "]: warning: numeric domain name in resource data of MX record for numeric-mx.dns.test: 192.0.2.1",
        "]: warning: valid_hostname: misplaced hyphen: -bad.dns.test",
        "]: warning: malformed domain name in resource data of MX record for malformed-mx.dns.test: -bad.dns.test",
        "]: warning: valid_hostname: numeric hostname: 1.2.3",
        "]: warning: malformed domain name in resource data of MX record for malformed-mx.dns.test: 1.2.3",
        "]: warning: valid_hostname: empty hostname",
        "]: warning: malformed domain name in resource data of CNAME record for cname-root.dns.test: \n",
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.8 <a@nx.dns.test>: Sender address rejected: Domain not found; from=<a@nx.dns.test> to=<bob@spec.test> proto=ESMTP helo=<client.example>",
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 556 5.1.10 <x@null-mx.dns.test>: Recipient address rejected: Domain null-mx.dns.test does not accept mail (nullMX); from=<a@spec.test> to=<x@null-mx.dns.test> proto=ESMTP helo=<client.example>",
    ]);
    let log = s.srv.log();
    for line in log
        .lines()
        .filter(|l| l.contains("warning: numeric domain name"))
    {
        assert!(line.contains(" postfix/smtpd["), "{line}");
    }
    // A burst for the same domain costs one query per record type.
    let before = s.dns.queries();
    for _ in 0..5 {
        run_session(
            &s.srv,
            "127.0.0.1",
            &steps(&mail("MAIL FROM:<a@both.dns.test>", "250 2.1.5 Ok")),
        )
        .unwrap();
    }
    assert_eq!(
        s.dns.queries() - before,
        1,
        "MX of both.dns.test asked once"
    );
}

#[test]
fn unknown_address_tempfail_action_and_default_code() {
    let s = start(
        "smtpd_delay_reject = no\nsmtpd_sender_restrictions = reject_unknown_sender_domain\nunknown_address_tempfail_action = defer\n",
    );
    run_cases(&s.srv, vec![
        ("defer rejects at MAIL", "127.0.0.1", vec![G, ("EHLO client.example", "250 "),
            ("MAIL FROM:<a@servfail.dns.test>", "450 4.1.8 <a@servfail.dns.test>: Sender address rejected: Domain not found")]),
        ("default unknown_address_reject_code is 450", "127.0.0.1", vec![G, ("EHLO client.example", "250 "),
            ("MAIL FROM:<a@nx.dns.test>", "450 4.1.8 <a@nx.dns.test>: Sender address rejected: Domain not found")]),
    ]);
    assert_log(&s.srv, &[
        "NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 450 4.1.8 <a@servfail.dns.test>: Sender address rejected: Domain not found; from=<a@servfail.dns.test> proto=ESMTP helo=<client.example>",
    ]);
}

#[test]
fn client_hostname_lookup_and_restrictions() {
    let s = start(
        "smtpd_peername_lookup = yes\nsmtpd_client_restrictions = reject_unknown_client_hostname\nunknown_client_reject_code = 550\n",
    );
    let session = |want: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            G,
            ("EHLO client.example", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", want),
        ]
    };
    run_cases(
        &s.srv,
        vec![
            ("PTR and A match", "127.0.0.2", session("250 2.1.5 Ok")),
            (
                "forged",
                "127.0.0.3",
                session("550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]"),
            ),
            (
                "PTR to the root",
                "127.0.0.4",
                session("550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.4]"),
            ),
            (
                "no PTR",
                "127.0.0.5",
                session("550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.5]"),
            ),
            (
                "PTR lookup fails temporarily: always 450, whatever the code",
                "127.0.0.6",
                session("450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.6]"),
            ),
        ],
    );
    assert_log(&s.srv, &[
        "connect from client.dns.test[127.0.0.2]",
        "connect from unknown[127.0.0.3]",
        "warning: hostname forged.dns.test does not resolve to address 127.0.0.3",
        // As Postfix (checked live): getnameinfo() gives the root as ".".
        "warning: valid_hostname: misplaced delimiter: .",
        "connect from unknown[127.0.0.5]",
        "NOQUEUE: reject: RCPT from unknown[127.0.0.3]: 550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]; from=<a@spec.test> to=<bob@spec.test> proto=ESMTP helo=<client.example>",
    ]);

    let r = start(
        "smtpd_peername_lookup = yes\nsmtpd_client_restrictions = reject_unknown_reverse_client_hostname\n",
    );
    run_cases(&r.srv, vec![
        ("forged name still has a reverse name", "127.0.0.3", session("250 2.1.5 Ok")),
        ("no PTR: default unknown_client_reject_code 450", "127.0.0.5",
            session("450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.5]")),
        ("PTR lookup fails temporarily", "127.0.0.6",
            session("450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.6]")),
    ]);
}

#[test]
fn dns_block_and_allow_lists() {
    let s = start(
        "smtpd_peername_lookup = yes\n\
         smtpd_client_restrictions = reject_rbl_client bl.test=127.0.0.2\n\
         smtpd_sender_restrictions = reject_rhsbl_sender rhs.test\n\
         smtpd_helo_restrictions = reject_rhsbl_helo rhs.test\n\
         smtpd_recipient_restrictions = reject_rhsbl_recipient rhs.test, permit_mynetworks, reject_unauth_destination\n\
         mynetworks = 127.0.0.0/8\n",
    );
    let session = |helo: &'static str,
                   from: &'static str,
                   to: &'static str,
                   want: &'static str|
     -> Vec<(&'static str, &'static str)> {
        vec![G, (helo, "250 "), (from, "250 2.1.0 Ok"), (to, want)]
    };
    run_cases(&s.srv, vec![
        ("listed client", "127.0.0.2", session("EHLO client.example", "MAIL FROM:<a@spec.test>", "RCPT TO:<bob@spec.test>",
            "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; listed by bl.test")),
        ("answer filtered out by =127.0.0.2", "127.0.0.3", session("EHLO client.example", "MAIL FROM:<a@spec.test>", "RCPT TO:<bob@spec.test>", "250 2.1.5 Ok")),
        ("list SERVFAIL: not listed", "127.0.0.6", session("EHLO client.example", "MAIL FROM:<a@spec.test>", "RCPT TO:<bob@spec.test>", "250 2.1.5 Ok")),
        ("rhsbl sender", "127.0.0.5", session("EHLO client.example", "MAIL FROM:<a@spam.dns.test>", "RCPT TO:<bob@spec.test>",
            "554 5.7.1 Service unavailable; Sender address [a@spam.dns.test] blocked using rhs.test; spam domain")),
        ("rhsbl helo", "127.0.0.5", session("EHLO spam.dns.test", "MAIL FROM:<a@spec.test>", "RCPT TO:<bob@spec.test>",
            "554 5.7.1 Service unavailable; Helo command [spam.dns.test] blocked using rhs.test; spam domain")),
        ("rhsbl recipient", "127.0.0.5", session("EHLO client.example", "MAIL FROM:<a@spec.test>", "RCPT TO:<x@spam.dns.test>",
            "554 5.7.1 Service unavailable; Recipient address [x@spam.dns.test] blocked using rhs.test; spam domain")),
    ]);
    assert_log(&s.srv, &[
        "NOQUEUE: reject: RCPT from client.dns.test[127.0.0.2]: 554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; listed by bl.test; from=<a@spec.test> to=<bob@spec.test> proto=ESMTP helo=<client.example>",
        "warning: 6.0.0.127.bl.test: RBL lookup error: Host or domain name not found. Name service error for name=6.0.0.127.bl.test type=A: Host not found, try again",
    ]);
}

#[test]
fn rbl_codes_reply_maps_rhsbl_client_and_dnswl() {
    let config = ConfigDir::new().unwrap();
    let maps = config
        .file(
            "rbl_reply",
            "bl.test $rbl_code 5.7.9 Go away: $rbl_what is on $rbl_domain ($rbl_reason)\n",
        )
        .unwrap();
    let s = start_in(config, &format!(
        "smtpd_peername_lookup = yes\n\
         maps_rbl_reject_code = 550\n\
         rbl_reply_maps = texthash:{}\n\
         smtpd_client_restrictions = permit_dnswl_client wl.test, reject_rhsbl_client rhs.test, reject_rbl_client bl.test\n",
        maps.display()
    ));
    let session = |want: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            G,
            ("EHLO client.example", "250 "),
            ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", want),
        ]
    };
    run_cases(
        &s.srv,
        vec![
            (
                "allow list wins over the block lists",
                "127.0.0.2",
                session("250 2.1.5 Ok"),
            ),
            (
                "rbl_reply_maps template and maps_rbl_reject_code",
                "127.0.0.3",
                session("550 5.7.9 Go away: 127.0.0.3 is on bl.test ()"),
            ),
        ],
    );
    let d = start(
        "smtpd_peername_lookup = yes\nsmtpd_client_restrictions = reject_rhsbl_client rhs.test\n",
    );
    run_cases(&d.srv, vec![
        ("rhsbl client name", "127.0.0.2",
            session("554 5.7.1 Service unavailable; Client host [client.dns.test] blocked using rhs.test")),
        ("unknown client name is skipped", "127.0.0.5", session("250 2.1.5 Ok")),
    ]);
}
