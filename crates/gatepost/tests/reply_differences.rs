//! Replies where gatepost used to differ from Postfix 3.7, each checked
//! against Postfix 3.7.11 on the same session: the state after a client
//! reject at CONNECT (`smtpd_delay_reject = no`) with its error count and
//! the 421 moment, non-SMTP commands in that state, HELO names with a
//! trailing dot under `reject_unknown_helo_hostname`, a route-only sender
//! `<@domain>`, unknown `BODY=` values, and `smtpd_reject_footer`.

use std::time::Duration;

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, run_cases, TestServer};

#[test]
fn rejected_client_state_error_count_and_421() {
    let srv = TestServer::start(
        gatepost_bin!(),
        "smtpd_delay_reject = no\n\
         smtpd_client_restrictions = reject\n\
         smtpd_noop_commands = ZAP\n\
         smtpd_hard_error_limit = 4\n",
    )
    .expect("start server");
    let g = (
        "",
        "554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied",
    );
    let denied = "503 5.7.0 Error: access denied for unknown[127.0.0.1]";
    run_cases(
        &srv,
        vec![
            (
                "the refusal counts as the first error",
                "127.0.0.1",
                vec![
                    g,
                    ("EHLO c.example", denied),
                    ("NOOP", denied),
                    ("ZAP", "250 2.0.0 Ok"),
                    ("   ", "500 5.5.2 Error: bad syntax"),
                    ("", "421 4.7.0 mx.spec.test Error: too many errors"),
                ],
            ),
            (
                "a non-SMTP command still ends the session",
                "127.0.0.1",
                vec![
                    g,
                    (
                        "GET / HTTP/1.0",
                        "221 2.7.0 Error: I can break rules, too. Goodbye.",
                    ),
                ],
            ),
            (
                "a header-like command too",
                "127.0.0.1",
                vec![
                    g,
                    (
                        "Subject: hi",
                        "221 2.7.0 Error: I can break rules, too. Goodbye.",
                    ),
                ],
            ),
            (
                "unknown commands count",
                "127.0.0.1",
                vec![
                    g,
                    ("EHLO c.example", denied),
                    ("FOO", denied),
                    ("BAR", denied),
                    ("", "421 4.7.0 mx.spec.test Error: too many errors"),
                ],
            ),
        ],
    );
    for line in [
        "too many errors after CONNECT from unknown[127.0.0.1]",
        "disconnect from unknown[127.0.0.1] ehlo=0/1 noop=0/1 commands=0/2",
        "warning: non-SMTP command from unknown[127.0.0.1]: GET / HTTP/1.0",
        "too many errors after UNKNOWN from unknown[127.0.0.1]",
        "disconnect from unknown[127.0.0.1] ehlo=0/1 unknown=0/2 commands=0/3",
    ] {
        assert!(
            srv.wait_for_log(line, Duration::from_secs(5)),
            "log lacks {line:?}\n{}",
            srv.log()
        );
    }
}

#[test]
fn helo_trailing_dot_route_only_sender_body_and_footer() {
    let mut zones = Zones::new();
    zones.a("mx.spec.test", "127.0.0.1");
    let dns = DnsServer::start(zones).unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{}dns_query_timeout = 1s\ndns_query_attempts = 1\n\
             smtpd_helo_restrictions = reject_unknown_helo_hostname\n\
             smtpd_reject_footer = For help see $server_name\\n$client_address ${{sender}} $helo_name\n",
            dns.main_cf()
        ),
    )
    .expect("start server");
    let g = ("", "220 mx.spec.test ESMTP Postfix");
    run_cases(
        &srv,
        vec![
            (
                "a HELO name with a trailing dot is looked up without it",
                "127.0.0.1",
                vec![
                    g,
                    ("HELO mx.spec.test.", "250 mx.spec.test"),
                    ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                    ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ],
            ),
            (
                "an unknown HELO name with a trailing dot, and the footer",
                "127.0.0.1",
                vec![
                    g,
                    ("HELO nonexistent.invalid.", "250 mx.spec.test"),
                    ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                    (
                        "RCPT TO:<x@spec.test>",
                        "450 4.7.1 127.0.0.1 a@example.org nonexistent.invalid.",
                    ),
                    (
                        "MAIL FROM:<a@example.org> FOO=bar",
                        "503 5.5.1 127.0.0.1 a@example.org nonexistent.invalid.",
                    ),
                ],
            ),
            (
                "route-only senders and BODY values",
                "127.0.0.1",
                vec![
                    g,
                    ("EHLO mx.spec.test", "250 CHUNKING"),
                    ("MAIL FROM:<@spec.test>", "250 2.1.0 Ok"),
                    ("RSET", "250 2.0.0 Ok"),
                    ("MAIL FROM:<@a.example,@b.example:>", "250 2.1.0 Ok"),
                    ("RSET", "250 2.0.0 Ok"),
                    ("MAIL FROM:<@>", "501 5.1.7 127.0.0.1  mx.spec.test"),
                    (
                        "MAIL FROM:<a@example.org> BODY=BINARYMIME",
                        "555 5.5.4 127.0.0.1  mx.spec.test",
                    ),
                    (
                        "MAIL FROM:<a@example.org> BODY",
                        "555 5.5.4 127.0.0.1  mx.spec.test",
                    ),
                    ("MAIL FROM:<a@example.org> BODY=8bitmime", "250 2.1.0 Ok"),
                ],
            ),
        ],
    );
    // The whole footer, line by line.
    let mut c = gatepost_testkit::Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO mx.spec.test").unwrap();
    let r = c.command("MAIL FROM:<a@example.org> BODY=foo").unwrap();
    assert_eq!(
        r.lines,
        [
            "555-5.5.4 Unsupported option: BODY=foo",
            "555-5.5.4 For help see mx.spec.test",
            "555 5.5.4 127.0.0.1  mx.spec.test"
        ]
    );
    let log = srv.log();
    assert!(
        log.contains("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 <nonexistent.invalid.>: Helo command rejected: Host not found; from=<a@example.org> to=<x@spec.test> proto=SMTP helo=<nonexistent.invalid.>"),
        "{log}"
    );
    assert!(
        log.contains(
            "warning: Illegal address syntax from unknown[127.0.0.1] in MAIL command: <@>"
        ),
        "{log}"
    );
}

/// `mail_name` where Postfix's smtpd uses it: the default `smtpd_banner`
/// and the `Received:` header, for DATA and BDAT alike.
#[test]
fn mail_name_in_banner_and_received_header() {
    let srv = TestServer::start(gatepost_bin!(), "mail_name = Gatepost\n").expect("start server");
    gatepost_testkit::submit(
        &srv,
        "c.example",
        "a@example.org",
        &["bob@spec.test"],
        "Subject: one\n\nhi",
    );
    let mut c = gatepost_testkit::Client::connect(srv.addr).unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "220 mx.spec.test ESMTP Gatepost"
    );
    c.command("EHLO c.example").unwrap();
    c.command("MAIL FROM:<a@example.org>").unwrap();
    c.command("RCPT TO:<bob@spec.test>").unwrap();
    let r = c.command("BDAT 16 LAST\r\nSubject: two\r\n").unwrap();
    assert!(
        r.last_line()
            .starts_with("250 2.0.0 Ok: 16 bytes queued as "),
        "{r:?}"
    );
    let mail = srv.wait_for_mail("bob", 2, Duration::from_secs(10));
    assert_eq!(mail.len(), 2, "{}", srv.log());
    for m in mail {
        assert!(
            m.contains("\n\tby mx.spec.test (Gatepost) with ESMTP id "),
            "{m}"
        );
    }
}

/// HELO after EHLO keeps the session ESMTP (Postfix never downgrades it),
/// so BDAT content sent with its command is no improper pipelining; a
/// DATA cut short counts as a failed command in the `disconnect` line.
#[test]
fn helo_after_ehlo_stays_esmtp_and_cut_data_is_counted() {
    let srv = TestServer::start(gatepost_bin!(), "").expect("start server");
    run_cases(
        &srv,
        vec![(
            "EHLO, HELO, then BDAT with its content",
            "127.0.0.1",
            vec![
                ("", "220 mx.spec.test ESMTP Postfix"),
                ("EHLO c.example", "250 CHUNKING"),
                ("HELO c.example", "250 mx.spec.test"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("BDAT 7 LAST\r\nhello", "250 2.0.0 Ok: 7 bytes queued as "),
            ],
        )],
    );
    let mut c = gatepost_testkit::open_transaction(
        &srv,
        "127.0.0.2",
        "c.example",
        "a@example.org",
        &["bob@spec.test"],
    );
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send_raw(b"Subject: cut\r\n").unwrap();
    drop(c);
    for line in [
        "disconnect from unknown[127.0.0.1] helo=1 ehlo=1 mail=1 rcpt=1 bdat=1 commands=5",
        "lost connection after DATA (14 bytes) from unknown[127.0.0.2]",
        "disconnect from unknown[127.0.0.2] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4",
    ] {
        assert!(
            srv.wait_for_log(line, Duration::from_secs(5)),
            "log lacks {line:?}\n{}",
            srv.log()
        );
    }
    assert!(
        !srv.log().contains("improper command pipelining"),
        "{}",
        srv.log()
    );
}

/// `smtpd_reject_footer_maps`: the footer is looked up with the complete
/// reply (`554 5.7.1 <a@b>: Recipient address rejected: Access denied`);
/// without a match `smtpd_reject_footer` applies. Each reply is the one
/// Postfix 3.7.11 gave with the same tables (its `$$name` in a regexp
/// result is the footer's `$name`).
#[test]
fn reject_footer_maps_by_reply_text() {
    let tables = tempfile::tempdir().unwrap();
    let footers = tables.path().join("footer_maps");
    std::fs::write(
        &footers,
        "/^503 5\\.5\\.1 Error: need MAIL/ need mail from $$client_address at $${server_name}\n\
         /^554 5\\.7\\.1 <blocked@/ blocked footer\\nsecond line\n\
         /^450 / \\c glued\n\
         /^4/ four footer\n",
    )
    .unwrap();
    let access = tables.path().join("rcpt_access");
    std::fs::write(
        &access,
        "/^blocked@/ REJECT\n\
         /^soft@/ DEFER_IF_PERMIT soft\n\
         /^glue@/ 450 4.7.1 glue me\n\
         /^fourxx@/ 451 4.7.2 four me\n\
         /^nofoot@/ 550 5.1.1 nofoot here\n",
    )
    .unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "smtpd_reject_footer_maps = regexp:{}\n\
             smtpd_reject_footer = default footer $client_address\n\
             smtpd_recipient_restrictions = check_recipient_access regexp:{}\n",
            footers.display(),
            access.display()
        ),
    )
    .expect("start server");
    let cases: &[(&str, &str)] = &[
        ("EHLO client.test", "250 CHUNKING"),
        (
            "RCPT TO:<x@spec.test>",
            "503-5.5.1 Error: need MAIL command\n503 5.5.1 need mail from 127.0.0.1 at mx.spec.test",
        ),
        ("MAIL FROM:<s@client.test>", "250 2.1.0 Ok"),
        (
            "RCPT TO:<blocked@spec.test>",
            "554-5.7.1 <blocked@spec.test>: Recipient address rejected: Access denied\n\
             554-5.7.1 blocked footer\n554 5.7.1 second line",
        ),
        (
            "RCPT TO:<glue@spec.test>",
            "450 4.7.1 <glue@spec.test>: Recipient address rejected: glue me glued",
        ),
        (
            "RCPT TO:<fourxx@spec.test>",
            "451-4.7.2 <fourxx@spec.test>: Recipient address rejected: four me\n451 4.7.2 four footer",
        ),
        (
            "RCPT TO:<nofoot@spec.test>",
            "550-5.1.1 <nofoot@spec.test>: Recipient address rejected: nofoot here\n\
             550 5.1.1 default footer 127.0.0.1",
        ),
        (
            "RCPT TO:<soft@spec.test>",
            "450 4.7.1 <soft@spec.test>: Recipient address rejected: soft glued",
        ),
    ];
    let mut c = gatepost_testkit::Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    for (send, want) in cases {
        let reply = c.command(send).unwrap();
        let got = if reply.code == 250 {
            reply.last_line().to_string()
        } else {
            reply.full()
        };
        assert_eq!(&got, want, "{send}");
    }
}
