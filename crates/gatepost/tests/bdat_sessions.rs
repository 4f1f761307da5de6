//! BDAT (RFC 3030 CHUNKING) sessions against the real server: every misuse
//! and its reply, chunk content that must not end anything, the size limit
//! across chunks, bare LF inside chunks, and the data and end-of-data
//! restrictions at their moments. The expected replies are the ones
//! Postfix 3.7.11 gave to the same sessions (docs/smtp-session.md#bdat).
//!
//! A step's line is sent with CRLF, so `"BDAT 7\r\nhello"` sends the chunk
//! `hello\r\n` (7 bytes) right after the command.

use std::time::Duration;

use gatepost_testkit::{gatepost_bin, run_cases, Client, TestServer};

const G: (&str, &str) = ("", "220 mx.spec.test ESMTP Postfix");

fn server(extra: &str) -> TestServer {
    TestServer::start(gatepost_bin!(), extra).expect("start server")
}

#[test]
fn bdat_misuse_gets_postfix_replies() {
    let srv = server("smtpd_forbid_unauth_pipelining = no\n");
    let e = ("EHLO c.example", "250 CHUNKING");
    let m = ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok");
    let r = ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok");
    run_cases(
        &srv,
        vec![
            (
                "BDAT without MAIL",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    ("BDAT 5\r\nhel", "503 5.5.1 Error: need RCPT command"),
                    (
                        "BDAT 5 LAST\r\nhel",
                        "551 5.0.0 Discarded 5 bytes after earlier error",
                    ),
                    m,
                ],
            ),
            (
                "BDAT without RCPT, then RCPT",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    m,
                    ("BDAT 5\r\nhel", "554 5.5.1 Error: no valid recipients"),
                    (
                        "RCPT TO:<bob@spec.test>",
                        "503 5.5.1 Error: RCPT after BDAT",
                    ),
                    (
                        "BDAT 5 LAST\r\nhel",
                        "551 5.0.0 Discarded 5 bytes after earlier error",
                    ),
                    ("RSET", "250 2.0.0 Ok"),
                    m,
                ],
            ),
            (
                "BDAT after a rejected RCPT",
                "127.0.0.2",
                vec![
                    G,
                    e,
                    m,
                    (
                        "RCPT TO:<x@far.example>",
                        "454 4.7.1 <x@far.example>: Relay access denied",
                    ),
                    ("BDAT 5 LAST\r\nhel", "554 5.5.1 Error: no valid recipients"),
                    m,
                ],
            ),
            (
                "BDAT without a size",
                "127.0.0.1",
                vec![G, e, ("BDAT", "521 5.5.4 Syntax: BDAT count [LAST]")],
            ),
            (
                "BDAT with a bad size",
                "127.0.0.1",
                vec![G, e, ("BDAT x", "521 5.5.4 Syntax: BDAT count [LAST]")],
            ),
            (
                "BDAT with a negative size",
                "127.0.0.1",
                vec![G, e, ("BDAT -5", "521 5.5.4 Syntax: BDAT count [LAST]")],
            ),
            (
                "BDAT with an unknown keyword",
                "127.0.0.1",
                vec![G, e, ("BDAT 5 FOO", "521 5.5.4 Syntax: BDAT count [LAST]")],
            ),
            (
                "BDAT with one word too many",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    ("BDAT 5 LAST extra", "521 5.5.4 Syntax: BDAT count [LAST]"),
                ],
            ),
            (
                "DATA, MAIL, RCPT and ETRN while BDAT is in progress",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    m,
                    r,
                    ("BDAT 7\r\nhello", "250 2.0.0 Ok: 7 bytes"),
                    ("DATA", "503 5.5.1 Error: DATA after BDAT"),
                    (
                        "MAIL FROM:<a@example.org>",
                        "503 5.5.1 Error: nested MAIL command",
                    ),
                    (
                        "RCPT TO:<bob@spec.test>",
                        "503 5.5.1 Error: RCPT after BDAT",
                    ),
                    (
                        "ETRN relay.example",
                        "503 Error: MAIL transaction in progress",
                    ),
                    ("NOOP", "250 2.0.0 Ok"),
                    ("BDAT 0 LAST", "250 2.0.0 Ok: 7 bytes queued as "),
                    ("DATA", "503 5.5.1 Error: need RCPT command"),
                ],
            ),
            (
                "BDAT 0 LAST alone, and an empty chunk",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    m,
                    r,
                    ("BDAT 0", "551 5.7.1 Null BDAT request"),
                    (
                        "BDAT 3\r\nx",
                        "551 5.0.0 Discarded 3 bytes after earlier error",
                    ),
                    (
                        "BDAT 0 LAST",
                        "551 5.0.0 Discarded 0 bytes after earlier error",
                    ),
                    m,
                    r,
                    ("BDAT 0 LAST", "250 2.0.0 Ok: 0 bytes queued as "),
                ],
            ),
            (
                "RSET and HELO end a message in progress",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    m,
                    r,
                    ("BDAT 7\r\nhello", "250 2.0.0 Ok: 7 bytes"),
                    ("RSET", "250 2.0.0 Ok"),
                    ("BDAT 7 LAST\r\nhello", "503 5.5.1 Error: need RCPT command"),
                    m,
                    r,
                    ("BDAT 7\r\nhello", "250 2.0.0 Ok: 7 bytes"),
                    ("HELO c.example", "250 mx.spec.test"),
                    ("DATA", "503 5.5.1 Error: need RCPT command"),
                ],
            ),
            (
                "BDAT after HELO",
                "127.0.0.1",
                vec![
                    G,
                    ("HELO c.example", "250 mx.spec.test"),
                    m,
                    r,
                    ("BDAT 7 LAST\r\nhello", "250 2.0.0 Ok: 7 bytes queued as "),
                ],
            ),
        ],
    );
    assert!(srv.wait_for_log(
        "warning: NOQUEUE: malformed BDAT command syntax from unknown[127.0.0.1]: BDAT 5 FOO",
        Duration::from_secs(5)
    ));
    let log = srv.log();
    assert!(
        log.contains(": null BDAT request from unknown[127.0.0.1]"),
        "{log}"
    );
    assert!(
        log.contains("improper command pipelining after BDAT from unknown[127.0.0.1]: hello\\r\\n"),
        "{log}"
    );
}

/// With `smtpd_forbid_unauth_pipelining = yes` (gatepost's default), BDAT
/// content that arrives with the command of a HELO (not EHLO) client is
/// improper pipelining, as in Postfix.
#[test]
fn bdat_after_helo_is_pipelining_when_forbidden() {
    let srv = server("");
    run_cases(
        &srv,
        vec![(
            "HELO then BDAT with its content",
            "127.0.0.1",
            vec![
                G,
                ("HELO c.example", "250 mx.spec.test"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                (
                    "BDAT 7 LAST\r\nhello",
                    "554 5.5.0 Error: SMTP protocol synchronization",
                ),
            ],
        )],
    );
    assert!(srv.wait_for_log(
        "disconnect from unknown[127.0.0.1] helo=1 mail=1 rcpt=1 bdat=0/1 commands=3/4",
        Duration::from_secs(5)
    ));
}

/// Chunks sent all at once after EHLO, a `.` line that ends nothing, a last
/// line without CRLF (counted + 2, as Postfix), and the content delivered.
#[test]
fn pipelined_chunks_keep_dot_lines_and_deliver() {
    let srv = server("");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    assert_eq!(
        c.command("EHLO c.example").unwrap().last_line(),
        "250 CHUNKING"
    );
    let first = "Subject: chunks\r\n\r\nhi\r\n";
    let second = ".\r\n..x\r\nbody\r\n";
    c.send_raw(
        format!(
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@spec.test>\r\n\
             BDAT {}\r\n{first}BDAT {}\r\n{second}BDAT 6 LAST\r\n.\r\nend",
            first.len(),
            second.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let replies: Vec<String> = (0..5)
        .map(|_| c.read_reply().unwrap().last_line().to_string())
        .collect();
    assert_eq!(
        replies[..4],
        [
            "250 2.1.0 Ok",
            "250 2.1.5 Ok",
            "250 2.0.0 Ok: 23 bytes",
            "250 2.0.0 Ok: 14 bytes"
        ]
    );
    // "end" has no CRLF: counted + 2, as Postfix counts it.
    assert!(
        replies[4].starts_with("250 2.0.0 Ok: 45 bytes queued as "),
        "{replies:?}"
    );
    assert_eq!(c.command("QUIT").unwrap().last_line(), "221 2.0.0 Bye");
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(mail[0].contains("Subject: chunks\n"), "{}", mail[0]);
    assert!(
        mail[0].ends_with("\nhi\n.\n..x\nbody\n.\nend\n"),
        "{:?}",
        mail[0]
    );
    assert!(srv.wait_for_log(
        "disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 bdat=3 quit=1 commands=7",
        Duration::from_secs(5)
    ));
}

#[test]
fn size_limit_and_bare_lf_inside_chunks() {
    let srv = server(
        "message_size_limit = 200\nsmtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_exclusions =\n",
    );
    // Golden steps are 'static.
    let x98: &'static str = format!("BDAT 100\r\n{}", "x".repeat(98)).leak();
    let y99: &'static str = format!("BDAT 101\r\n{}", "y".repeat(99)).leak();
    let x197: &'static str = format!("BDAT 199 LAST\r\n{}", "x".repeat(197)).leak();
    let e = ("EHLO c.example", "250 CHUNKING");
    let m = ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok");
    let r = ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok");
    run_cases(
        &srv,
        vec![
            (
                "a message over message_size_limit across chunks",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    m,
                    r,
                    (x98, "250 2.0.0 Ok: 100 bytes"),
                    (y99, "552 5.3.4 Chunk exceeds message size limit"),
                    (
                        "BDAT 3\r\nx",
                        "551 5.0.0 Discarded 3 bytes after earlier error",
                    ),
                    (
                        "BDAT 0 LAST",
                        "551 5.0.0 Discarded 0 bytes after earlier error",
                    ),
                    m,
                    r,
                    (x197, "250 2.0.0 Ok: 199 bytes queued as "),
                ],
            ),
            (
                "a bare LF in a chunk and in a last chunk",
                "127.0.0.1",
                vec![
                    G,
                    e,
                    m,
                    r,
                    (
                        "BDAT 12\r\nbare\nlf\r\nx",
                        "550 5.5.2 mx.spec.test Error: bare <LF> received",
                    ),
                    (
                        "BDAT 3\r\ny",
                        "551 5.0.0 Discarded 3 bytes after earlier error",
                    ),
                    (
                        "BDAT 0 LAST",
                        "551 5.0.0 Discarded 0 bytes after earlier error",
                    ),
                    m,
                    r,
                    (
                        "BDAT 12 LAST\r\nbare\nlf\r\nx",
                        "550 5.5.2 mx.spec.test Error: bare <LF> received",
                    ),
                    m,
                ],
            ),
        ],
    );
    // A last line without CRLF counts + 2, over the limit.
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO c.example").unwrap();
    c.command("MAIL FROM:<a@example.org>").unwrap();
    c.command("RCPT TO:<bob@spec.test>").unwrap();
    c.send_raw(format!("BDAT 199 LAST\r\n{}", "x".repeat(199)).as_bytes())
        .unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "552 5.3.4 Error: message file too big"
    );
    let log = srv.log();
    for line in [
        "BDAT request from unknown[127.0.0.1] exceeds message size limit",
        ": reject: BDAT content from unknown[127.0.0.1]: bare <LF> received; from=<a@example.org> to=<bob@spec.test> proto=ESMTP helo=<c.example>",
        ": reject: END-OF-MESSAGE from unknown[127.0.0.1]: bare <LF> received; from=<a@example.org> to=<bob@spec.test> proto=ESMTP helo=<c.example>",
    ] {
        assert!(log.contains(line), "log lacks {line:?}\n{log}");
    }
    assert!(srv.wait_for_log(": queue file size limit exceeded", Duration::from_secs(5)));
}

#[test]
fn discarded_chunking_keyword_hangs_up() {
    let srv = server("smtpd_discard_ehlo_keywords = chunking\n");
    run_cases(
        &srv,
        vec![(
            "CHUNKING discarded",
            "127.0.0.1",
            vec![
                G,
                ("EHLO c.example", "250 SMTPUTF8"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                (
                    "BDAT 7\r\nhello",
                    "521 5.5.1 Error: command not implemented",
                ),
            ],
        )],
    );
    assert!(srv.wait_for_log("discarding EHLO keywords: CHUNKING", Duration::from_secs(5)));
}

#[test]
fn data_restrictions_at_the_first_chunk() {
    let srv = server("smtpd_data_restrictions = reject\n");
    run_cases(
        &srv,
        vec![(
            "smtpd_data_restrictions reject the first BDAT",
            "127.0.0.1",
            vec![
                G,
                ("EHLO c.example", "250 CHUNKING"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                (
                    "BDAT 7\r\nhello",
                    "554 5.7.1 <DATA>: Data command rejected: Access denied",
                ),
                (
                    "BDAT 5\r\nabc",
                    "551 5.0.0 Discarded 5 bytes after earlier error",
                ),
                (
                    "BDAT 5 LAST\r\nabc",
                    "551 5.0.0 Discarded 5 bytes after earlier error",
                ),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
            ],
        )],
    );
    assert!(srv.wait_for_log(
        ": reject: BDAT from unknown[127.0.0.1]: 554 5.7.1 <DATA>: Data command rejected: Access denied; from=<a@example.org> to=<bob@spec.test> proto=ESMTP helo=<c.example>",
        Duration::from_secs(5)
    ));
}

/// The end-of-data restrictions run at `BDAT ... LAST`. The transaction
/// then ends, as in later Postfix (3.7 keeps it: `503 nested MAIL`).
#[test]
fn end_of_data_restrictions_at_the_last_chunk() {
    let srv = server("smtpd_end_of_data_restrictions = reject\n");
    run_cases(
        &srv,
        vec![(
            "smtpd_end_of_data_restrictions reject BDAT LAST",
            "127.0.0.1",
            vec![
                G,
                ("EHLO c.example", "250 CHUNKING"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("BDAT 7\r\nhello", "250 2.0.0 Ok: 7 bytes"),
                ("BDAT 5\r\nabc", "250 2.0.0 Ok: 5 bytes"),
                (
                    "BDAT 5 LAST\r\nabc",
                    "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied",
                ),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
            ],
        )],
    );
    assert!(srv.wait_for_log(
        ": reject: END-OF-MESSAGE from unknown[127.0.0.1]: 554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied; from=<a@example.org> to=<bob@spec.test> proto=ESMTP helo=<c.example>",
        Duration::from_secs(5)
    ));
}

#[test]
fn lost_connection_inside_a_chunk_is_logged_with_its_bytes() {
    let srv = server("");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO c.example").unwrap();
    c.command("MAIL FROM:<a@example.org>").unwrap();
    c.command("RCPT TO:<bob@spec.test>").unwrap();
    c.send_raw(b"BDAT 100\r\nhello\r\n").unwrap();
    drop(c);
    assert!(
        srv.wait_for_log(
            "lost connection after BDAT (7 bytes) from unknown[127.0.0.1]",
            Duration::from_secs(10)
        ),
        "{}",
        srv.log()
    );
}

/// A client that stops after a chunk: `421` and, as Postfix 3.7 counts it,
/// the content so far plus the length of that 421 reply in the log line.
#[test]
fn timeout_after_a_chunk() {
    let srv = server("smtpd_timeout = 1s\n");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO c.example").unwrap();
    c.command("MAIL FROM:<a@example.org>").unwrap();
    c.command("RCPT TO:<bob@spec.test>").unwrap();
    let r = c.command("BDAT 7\r\nhello").unwrap();
    assert_eq!(r.last_line(), "250 2.0.0 Ok: 7 bytes");
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "421 4.4.2 mx.spec.test Error: timeout exceeded"
    );
    assert!(
        srv.wait_for_log(
            "timeout after BDAT (53 bytes) from unknown[127.0.0.1]",
            Duration::from_secs(5)
        ),
        "{}",
        srv.log()
    );
}
