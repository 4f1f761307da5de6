//! check_*_{mx,ns,a}_access against a real DNS server on loopback: the MX
//! hosts, name servers or host of a domain, by name (with parent domains)
//! and by address, as Postfix's check_server_access; OK results refused.

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, run_cases, Case, TestServer};

fn zones() -> Zones {
    let mut z = Zones::new();
    z.mx("spam.test", 10, "mx.bogon.test")
        .a("mx.bogon.test", "192.0.2.1")
        .mx("ok.test", 10, "mx.ok.test")
        .a("mx.ok.test", "127.0.0.9")
        .a("nomx.test", "192.0.2.7")
        .ns("ns.test", "ns1.bad.test")
        .a("sub.ns.test", "127.0.0.9")
        .a("helo.ok.test", "127.0.0.9");
    z
}

const G: (&str, &str) = ("", "220 mx.spec.test ESMTP");

#[test]
fn mx_ns_and_a_access() {
    let dns = DnsServer::start(zones()).unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{}dns_query_timeout = 1s\n\
             smtpd_helo_restrictions = check_helo_a_access inline:{{ 127.0.0.9=OK }}\n\
             smtpd_sender_restrictions = check_sender_mx_access inline:{{ {{ 192.0.2 = REJECT bogus MX }} }}, \
             check_sender_ns_access inline:{{ {{ bad.test = REJECT bad name server }} }}\n",
            dns.main_cf()
        ),
    )
    .unwrap();
    let mail = |from: &'static str, want: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            G,
            ("EHLO client.example", "250 "),
            (from, "250 2.1.0 Ok"),
            ("RCPT TO:<bob@spec.test>", want),
        ]
    };
    let cases: Vec<Case> = vec![
        (
            "MX address listed",
            "127.0.0.2",
            mail(
                "MAIL FROM:<a@spam.test>",
                "554 5.7.1 <a@spam.test>: Sender address rejected: bogus MX",
            ),
        ),
        (
            "MX not listed",
            "127.0.0.2",
            mail("MAIL FROM:<a@ok.test>", "250 2.1.5 Ok"),
        ),
        (
            "no MX: the domain is its own MX host",
            "127.0.0.2",
            mail(
                "MAIL FROM:<a@nomx.test>",
                "554 5.7.1 <a@nomx.test>: Sender address rejected: bogus MX",
            ),
        ),
        (
            "NS found in the parent domain, matched by name",
            "127.0.0.2",
            mail(
                "MAIL FROM:<a@sub.ns.test>",
                "554 5.7.1 <a@sub.ns.test>: Sender address rejected: bad name server",
            ),
        ),
        (
            "address literal as its own MX",
            "127.0.0.2",
            mail(
                "MAIL FROM:<a@[192.0.2.44]>",
                "554 5.7.1 <a@[192.0.2.44]>: Sender address rejected: bogus MX",
            ),
        ),
        (
            "OK is refused for security reasons",
            "127.0.0.2",
            vec![
                G,
                ("EHLO helo.ok.test", "250 "),
                ("MAIL FROM:<a@ok.test>", "250 2.1.0 Ok"),
                (
                    "RCPT TO:<bob@spec.test>",
                    "451 4.3.5 Server configuration error",
                ),
            ],
        ),
    ];
    run_cases(&srv, cases);
    let log = srv.log();
    for needle in [
        "warning: restriction check_helo_a_access returns OK for helo.ok.test",
        "warning: this is not allowed for security reasons",
        "warning: use DUNNO instead of OK if you want to make an exception",
        // No NS records up to the top: Postfix names the whole address.
        "warning: Unable to look up NS host for a@ok.test: Host not found",
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 <a@spam.test>: Sender address rejected: bogus MX; from=<a@spam.test> to=<bob@spec.test> proto=ESMTP helo=<client.example>",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
}
