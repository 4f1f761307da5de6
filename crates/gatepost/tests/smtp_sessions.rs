//! Golden SMTP sessions against the real server over loopback sockets:
//! the happy path with delivery to a Maildir, every out-of-sequence
//! command, syntax errors, unknown and non-SMTP commands, limits, bare LF
//! and smuggling handling, pipelining enforcement, and the log lines that
//! go with them. Expected replies are Postfix 3.7's (docs/smtp-session.md).

use std::time::Duration;

use gatepost_testkit::{
    gatepost_bin, open_transaction, queued_id, run_session, steps, Client, TestServer,
};

/// A client from `ip` with a transaction open: greeted, EHLO, MAIL FROM
/// a@example.org, RCPT TO bob@spec.test.
fn transaction(srv: &TestServer, ip: &str) -> Client {
    open_transaction(srv, ip, "c.example", "a@example.org", &["bob@spec.test"])
}

fn server(extra: &str) -> TestServer {
    TestServer::start(gatepost_bin!(), extra).expect("start server")
}

#[test]
fn happy_path_delivers_to_maildir_and_logs_like_postfix() {
    let srv = server("");
    let mut c = Client::connect(srv.addr).unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "220 mx.spec.test ESMTP Postfix"
    );
    let ehlo = c.command("EHLO client.example").unwrap();
    assert_eq!(ehlo.lines[0], "250-mx.spec.test");
    for kw in [
        "PIPELINING",
        "SIZE 10240000",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
    ] {
        assert!(
            ehlo.lines.iter().any(|l| &l[4..] == kw),
            "EHLO lacks {kw}: {:?}",
            ehlo.lines
        );
    }
    assert_eq!(
        c.command("MAIL FROM:<alice@example.org>")
            .unwrap()
            .last_line(),
        "250 2.1.0 Ok"
    );
    assert_eq!(
        c.command("RCPT TO:<bob@spec.test>").unwrap().last_line(),
        "250 2.1.5 Ok"
    );
    let done = c
        .send_message("Subject: hello\n\nfirst line\n.leading dot\nlast line")
        .unwrap();
    let line = done.last_line().to_string();
    assert!(line.starts_with("250 2.0.0 Ok: queued as "), "{line}");
    let id = line.rsplit(' ').next().unwrap().to_string();
    assert_eq!(c.command("QUIT").unwrap().last_line(), "221 2.0.0 Bye");

    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1, "message not delivered within 5s");
    let msg = &mail[0];
    assert!(msg.contains("Return-Path: <alice@example.org>"), "{msg}");
    assert!(msg.contains("Delivered-To: bob@spec.test"), "{msg}");
    assert!(
        msg.contains(&format!(
            "Received: from client.example (unknown [127.0.0.1])\n\tby mx.spec.test (Postfix) with ESMTP id {id}\n\tfor <bob@spec.test>; "
        )),
        "{msg}"
    );
    assert!(
        msg.contains("\n.leading dot\n"),
        "dot-stuffing not undone: {msg}"
    );
    assert!(msg.contains("Subject: hello"));

    assert!(srv.wait_for_log(&format!("{id}: removed"), Duration::from_secs(5)));
    let log = srv.log();
    for needle in [
        "postfix/smtpd[".to_string(),
        "connect from unknown[127.0.0.1]".to_string(),
        format!("{id}: client=unknown[127.0.0.1]"),
        "postfix/cleanup[".to_string(),
        format!("{id}: message-id=<"),
        format!("{id}: from=<alice@example.org>, size="),
        ", nrcpt=1 (queue active)".to_string(),
        format!("{id}: to=<bob@spec.test>, relay=local, delay="),
        "dsn=2.0.0, status=sent (delivered to maildir)".to_string(),
        "disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
            .to_string(),
    ] {
        assert!(log.contains(&needle), "log lacks {needle:?}:\n{log}");
    }
}

#[test]
fn out_of_sequence_and_syntax_errors_get_postfix_replies() {
    let srv = server("");
    let g = ("", "220 mx.spec.test ESMTP");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "rcpt before mail",
            vec![
                g,
                ("EHLO c.example", "250 "),
                (
                    "RCPT TO:<bob@spec.test>",
                    "503 5.5.1 Error: need MAIL command",
                ),
            ],
        ),
        (
            "data before mail",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("DATA", "503 5.5.1 Error: need RCPT command"),
            ],
        ),
        (
            "data before rcpt",
            vec![
                g,
                ("HELO c.example", "250 mx.spec.test"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("DATA", "554 5.5.1 Error: no valid recipients"),
            ],
        ),
        (
            "nested mail",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                (
                    "MAIL FROM:<a@example.org>",
                    "503 5.5.1 Error: nested MAIL command",
                ),
            ],
        ),
        (
            "helo without name",
            vec![
                g,
                ("HELO", "501 Syntax: HELO hostname"),
                ("EHLO", "501 Syntax: EHLO hostname"),
            ],
        ),
        (
            "rset with argument",
            vec![
                g,
                ("RSET x", "501 5.5.4 Syntax: RSET"),
                ("RSET", "250 2.0.0 Ok"),
            ],
        ),
        (
            "data with argument",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("DATA x", "501 5.5.4 Syntax: DATA"),
            ],
        ),
        (
            "unknown command",
            vec![g, ("FOO bar", "500 5.5.2 Error: command not recognized")],
        ),
        (
            "blank line",
            vec![g, ("   ", "500 5.5.2 Error: bad syntax")],
        ),
        (
            "nul ends the command",
            vec![g, ("NO\0OP", "500 5.5.2 Error: command not recognized")],
        ),
        (
            "mail without from:",
            vec![
                g,
                ("EHLO c.example", "250 "),
                (
                    "MAIL <a@example.org>",
                    "501 5.5.4 Syntax: MAIL FROM:<address>",
                ),
            ],
        ),
        (
            "bad sender",
            vec![
                g,
                ("EHLO c.example", "250 "),
                (
                    "MAIL FROM:<a b@example.org>",
                    "501 5.1.7 Bad sender address syntax",
                ),
            ],
        ),
        (
            "empty recipient",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<>", "250 2.1.0 Ok"),
                ("RCPT TO:<>", "501 5.1.3 Bad recipient address syntax"),
            ],
        ),
        (
            "numeric domain",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                (
                    "RCPT TO:<u@1.2.3.4>",
                    "501 5.1.3 Bad recipient address syntax",
                ),
            ],
        ),
        (
            "rcpt without to:",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT <b@spec.test>", "501 5.5.4 Syntax: RCPT TO:<address>"),
            ],
        ),
        (
            "bad size",
            vec![
                g,
                ("EHLO c.example", "250 "),
                (
                    "MAIL FROM:<a@example.org> SIZE=abc",
                    "501 5.5.4 Bad message size syntax",
                ),
            ],
        ),
        (
            "size over limit",
            vec![
                g,
                ("EHLO c.example", "250 "),
                (
                    "MAIL FROM:<a@example.org> SIZE=99999999",
                    "552 5.3.4 Message size exceeds fixed limit",
                ),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
            ],
        ),
        (
            "unknown parameter",
            vec![
                g,
                ("EHLO c.example", "250 "),
                (
                    "MAIL FROM:<a@example.org> FOO=bar",
                    "555 5.5.4 Unsupported option: FOO=bar",
                ),
            ],
        ),
        (
            "bad notify",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                (
                    "RCPT TO:<bob@spec.test> NOTIFY=SOMETIMES",
                    "501 5.5.4 Error: Bad NOTIFY parameter syntax",
                ),
            ],
        ),
        (
            "vrfy without argument",
            vec![g, ("VRFY", "501 5.5.4 Syntax: VRFY address [SMTPUTF8]")],
        ),
        (
            "starttls not enabled",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("STARTTLS", "502 5.5.1 Error: command not implemented"),
            ],
        ),
        (
            "auth not enabled",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("AUTH PLAIN", "503 5.5.1 Error: authentication not enabled"),
            ],
        ),
        (
            "noop and quit",
            vec![
                g,
                ("NOOP", "250 2.0.0 Ok"),
                ("noop with args", "250 2.0.0 Ok"),
                ("QUIT", "221 2.0.0 Bye"),
            ],
        ),
        (
            "etrn",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("ETRN", "500 Syntax: ETRN domain"),
            ],
        ),
        (
            "helo resets the transaction",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("EHLO c.example", "250 "),
                (
                    "RCPT TO:<bob@spec.test>",
                    "503 5.5.1 Error: need MAIL command",
                ),
            ],
        ),
        (
            "rset ends the transaction",
            vec![
                g,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RSET", "250 2.0.0 Ok"),
                (
                    "RCPT TO:<bob@spec.test>",
                    "503 5.5.1 Error: need MAIL command",
                ),
            ],
        ),
        (
            "relay denied outside mynetworks, then no valid recipients",
            vec![
                g,
                ("EHLO client.example", "250 "),
                ("MAIL FROM:<a@ext.example>", "250 2.1.0 Ok"),
                (
                    "RCPT TO:<x@far.example>",
                    "454 4.7.1 <x@far.example>: Relay access denied",
                ),
                ("DATA", "554 5.5.1 Error: no valid recipients"),
            ],
        ),
        (
            "non-SMTP command",
            vec![
                g,
                (
                    "GET / HTTP/1.0",
                    "221 2.7.0 Error: I can break rules, too. Goodbye.",
                ),
            ],
        ),
        (
            "header as command",
            vec![
                g,
                (
                    "Subject: spam",
                    "221 2.7.0 Error: I can break rules, too. Goodbye.",
                ),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, script) in cases {
        let client = if name.contains("outside mynetworks") {
            "127.0.0.2"
        } else {
            "127.0.0.1"
        };
        if let Err(e) = run_session(&srv, client, &steps(&script)) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(srv.wait_for_log(
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 454 4.7.1 <x@far.example>: Relay access denied; from=<a@ext.example> to=<x@far.example> proto=ESMTP helo=<client.example>",
        Duration::from_secs(2)
    ), "{}", srv.log());
    assert!(srv
        .log()
        .contains("warning: non-SMTP command from unknown[127.0.0.1]: GET / HTTP/1.0"));
    let log = srv.log();
    for needle in [
        "warning: Illegal address syntax from unknown[127.0.0.1] in RCPT command: <u@1.2.3.4>",
        "warning: Illegal address syntax from unknown[127.0.0.1] in MAIL command: <a b@example.org>",
        "warning: Illegal address syntax from unknown[127.0.0.1] in RCPT command: <>",
        "warning: unknown DSN NOTIFY command value \"SOMETIMES\" in \"SOMETIMES\"",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
}

#[test]
fn helo_required_blocks_mail() {
    let srv = server("smtpd_helo_required = yes");
    let script = steps(&[
        ("", "220 "),
        (
            "MAIL FROM:<a@example.org>",
            "503 5.5.1 Error: send HELO/EHLO first",
        ),
        ("HELO c.example", "250 mx.spec.test"),
        ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
    ]);
    run_session(&srv, "127.0.0.1", &script).unwrap();
}

#[test]
fn too_many_errors_ends_the_session() {
    let srv = server("");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    for _ in 0..20 {
        assert_eq!(c.command("BOGUS").unwrap().code, 500);
    }
    // The 421 comes unasked, right after the 20th error (checked live
    // against Postfix 3.7).
    let r = c.read_reply().unwrap();
    assert_eq!(
        r.last_line(),
        "421 4.7.0 mx.spec.test Error: too many errors"
    );
    assert!(c.is_closed());
    assert!(
        srv.wait_for_log(
            "too many errors after UNKNOWN from unknown[127.0.0.1]",
            Duration::from_secs(2)
        ),
        "{}",
        srv.log()
    );
    assert!(
        srv.wait_for_log(
            "disconnect from unknown[127.0.0.1] unknown=0/20 commands=0/20",
            Duration::from_secs(2)
        ),
        "{}",
        srv.log()
    );
}

#[test]
fn overlong_command_is_truncated_and_logged() {
    let srv = server("");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    let long = format!("NOOP {}", "x".repeat(3000));
    assert_eq!(c.command(&long).unwrap().last_line(), "250 2.0.0 Ok");
    assert_eq!(c.command("NOOP").unwrap().last_line(), "250 2.0.0 Ok");
    assert!(srv.wait_for_log(
        "warning: unknown[127.0.0.1]: request longer than 2048: NOOP xxxxxxxxxxxxxxxxxxxxxxxxx...",
        Duration::from_secs(2)
    ), "{}", srv.log());
}

#[test]
fn message_over_size_limit_is_refused_after_reading_it() {
    let srv = server("message_size_limit = 2000");
    let mut c = transaction(&srv, "127.0.0.1");
    let body = "x".repeat(100) + "\n";
    let r = c.send_message(&body.repeat(40)).unwrap();
    assert_eq!(r.last_line(), "552 5.3.4 Error: message file too big");
    // The session goes on.
    assert_eq!(c.command("NOOP").unwrap().last_line(), "250 2.0.0 Ok");
    assert!(srv.log().contains("queue file size limit exceeded"));
}

#[test]
fn smuggled_end_of_data_is_not_honoured() {
    // 127.0.0.2 is outside mynetworks, so not in the default
    // smtpd_forbid_bare_newline_exclusions: the `normalize` mode applies.
    let srv = server("");
    let mut c = transaction(&srv, "127.0.0.2");
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send_raw(b"Subject: s\r\n\r\nline1\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@spec.test>\r\n.\r\n")
        .unwrap();
    let r = c.read_reply().unwrap();
    assert!(
        r.last_line().starts_with("250 2.0.0 Ok: queued as"),
        "{r:?}"
    );
    assert_eq!(c.command("QUIT").unwrap().last_line(), "221 2.0.0 Bye");
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].contains("MAIL FROM:<evil@example.org>"),
        "smuggled text must stay content"
    );
}

#[test]
fn bare_lf_reject_mode_refuses_commands() {
    let srv = server("smtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_exclusions =");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.send_raw(b"EHLO c.example\n").unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(
        r.last_line(),
        "550 5.5.2 mx.spec.test Error: bare <LF> received"
    );
    assert!(c.is_closed());
    assert!(
        srv.wait_for_log(
            "reject: CONNECT from unknown[127.0.0.1]: bare <LF> received; proto=SMTP",
            Duration::from_secs(2)
        ),
        "{}",
        srv.log()
    );
}

#[test]
fn unauthorized_pipelining_is_cut_off() {
    let srv = server("");
    // A HELO (not EHLO) client that sends commands ahead.
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("HELO c.example").unwrap();
    c.send_raw(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@spec.test>\r\n")
        .unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(
        r.last_line(),
        "554 5.5.0 Error: SMTP protocol synchronization"
    );
    assert!(srv.wait_for_log(
        "improper command pipelining after MAIL from unknown[127.0.0.1]: RCPT TO:<bob@spec.test>\\r\\n",
        Duration::from_secs(2)
    ), "{}", srv.log());

    // A proper ESMTP pipelining client is not flagged.
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO c.example").unwrap();
    c.send_raw(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@spec.test>\r\nDATA\r\n")
        .unwrap();
    assert_eq!(c.read_reply().unwrap().last_line(), "250 2.1.0 Ok");
    assert_eq!(c.read_reply().unwrap().last_line(), "250 2.1.5 Ok");
    assert_eq!(c.read_reply().unwrap().code, 354);
    c.send_raw(b"Subject: p\r\n\r\nbody\r\n.\r\n").unwrap();
    assert!(c
        .read_reply()
        .unwrap()
        .last_line()
        .starts_with("250 2.0.0 Ok: queued as"));
}

#[test]
fn reply_250_only_once_the_message_is_in_the_queue() {
    // Mail for a remote domain from mynetworks is relayed; outbound SMTP is
    // not available yet, so the message must stay in the queue. Right
    // after the 250 it may be in the write-ahead log alone (its file is
    // written once its delivery defers, docs/durability.md): it is then in
    // `deferred`.
    let srv = server("");
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO c.example").unwrap();
    c.command("MAIL FROM:<a@spec.test>").unwrap();
    assert_eq!(
        c.command("RCPT TO:<x@far.example>").unwrap().last_line(),
        "250 2.1.5 Ok"
    );
    let r = c.send_message("Subject: out\n\nbody").unwrap();
    let id = r.last_line().rsplit(' ').next().unwrap().to_string();
    assert!(srv.wait_for_log(&format!("{id}: to=<x@far.example>"), Duration::from_secs(5)));
    assert!(srv.log().contains("status=deferred"), "{}", srv.log());
    let deferred = srv.path().join("spool/deferred").join(&id);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !deferred.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "queue file {id} not in deferred"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn soft_bounce_turns_every_5xx_into_4xx() {
    let srv = server("soft_bounce = yes\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination");
    let script = steps(&[
        ("", "220 "),
        ("EHLO c.example", "250 "),
        ("BOGUS", "400 4.5.2 Error: command not recognized"),
        ("MAIL FROM:<a@ext.example>", "250 2.1.0 Ok"),
        (
            "RCPT TO:<x@far.example>",
            "454 4.7.1 <x@far.example>: Relay access denied",
        ),
        ("HELO", "401 Syntax: HELO hostname"),
    ]);
    run_session(&srv, "127.0.0.2", &script).unwrap();
}

/// Send raw DATA content (already dot-stuffed, ending in CRLF.CRLF) to bob.
fn send_raw_message(srv: &TestServer, raw: &[u8]) -> String {
    let mut c = transaction(srv, "127.0.0.1");
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send_raw(raw).unwrap();
    queued_id(&c.read_reply().unwrap())
}

#[test]
fn odd_content_is_stored_intact() {
    let srv = server("");
    // Empty message, NUL and 8-bit bytes, a 5000-byte line, an mbox "From "
    // first line, and content starting with a space.
    send_raw_message(&srv, b".\r\n");
    send_raw_message(&srv, b"Subject: nul\r\n\r\nA\0B caf\xc3\xa9\r\n.\r\n");
    let long = "y".repeat(5000);
    send_raw_message(
        &srv,
        format!("Subject: long\r\n\r\n{long}\r\n.\r\n").as_bytes(),
    );
    send_raw_message(
        &srv,
        b"From someone Fri Nov 27 00:00:00 2026\r\nSubject: mbox\r\n\r\nbody\r\n.\r\n",
    );
    send_raw_message(&srv, b" leading space\r\n.\r\n");
    let mail = srv.wait_for_mail("bob", 5, Duration::from_secs(10));
    assert_eq!(mail.len(), 5, "{}", srv.log());
    let files: Vec<Vec<u8>> = std::fs::read_dir(srv.path().join("mail/bob/new"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.windows(9).any(|w| w == b"A\0B caf\xc3\xa9")),
        "NUL and 8-bit kept"
    );
    assert!(
        mail.iter().any(|m| m.contains(&format!("\n{long}\n"))),
        "long line kept whole"
    );
    assert!(mail
        .iter()
        .any(|m| m.contains("X-Mailbox-Line: From someone Fri Nov 27 00:00:00 2026\n")));
    // Content that starts with white space cannot continue our Received:
    // header: an empty line comes first, so it is body.
    assert!(mail
        .iter()
        .any(|m| m.contains(")\n\n leading space\n") || m.contains("\n\n leading space\n")));
}

#[test]
fn local_clients_get_bare_header_addresses_qualified() {
    let srv = server("");
    let raw = b"To: bob\r\nCc: Carol <carol>,\r\n\tdave@x.example\r\nSubject: s\r\n\r\nTo: body stays\r\n.\r\n";
    // 127.0.0.1 is our own address: the local rewrite context.
    send_raw_message(&srv, raw);
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    let m = &mail[0];
    assert!(m.contains("\nTo: bob@mx.spec.test\n"), "{m}");
    // Rewritten headers are unfolded, as Postfix's cleanup writes them.
    assert!(
        m.contains("\nCc: Carol <carol@mx.spec.test>, dave@x.example\n"),
        "{m}"
    );
    assert!(m.contains("\nTo: body stays\n"), "{m}");

    // A remote client's headers are left as they are (no
    // remote_header_rewrite_domain).
    let mut c = transaction(&srv, "127.0.0.2");
    assert_eq!(c.command("DATA").unwrap().code, 354);
    c.send_raw(b"To: bob\r\nBcc: hidden@spec.test,\r\n\tother@spec.test\r\nSubject: remote\r\n\r\nx\r\n.\r\n")
        .unwrap();
    assert!(c.read_reply().unwrap().last_line().starts_with("250 "));
    let mail = srv.wait_for_mail("bob", 2, Duration::from_secs(5));
    // ... but Bcc: is removed from every message, as Postfix's cleanup does.
    assert!(
        mail.iter()
            .any(|m| m.contains("\nTo: bob\nSubject: remote\n")),
        "{mail:?}"
    );
    assert!(
        !mail
            .iter()
            .any(|m| m.contains("hidden@") || m.contains("other@")),
        "{mail:?}"
    );
}
