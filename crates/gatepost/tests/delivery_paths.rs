//! End-to-end delivery paths: virtual aliases
//! (recursive, expanded at cleanup with `orig_to=` logged), the
//! `recipient_delimiter`, `alias_maps` in aliases(5) format, the `discard`
//! and `error` transports (a bounce DSN back to a local sender), plus the
//! per-client connection count and rate limits, master.cf maxproc,
//! `header_size_limit` and `smtpd_timeout`.

use std::time::Duration;

use gatepost_testkit::{
    gatepost_bin, open_transaction, queued_id, wait_until, Client, ConfigDir, TestServer,
};

fn send(srv: &TestServer, from: &str, rcpts: &[&str], subject: &str) -> String {
    let mut c = open_transaction(srv, "127.0.0.1", "localhost", from, rcpts);
    let id = queued_id(
        &c.send_message(&format!("Subject: {subject}\n\nbody"))
            .unwrap(),
    );
    c.command("QUIT").unwrap();
    id
}

#[test]
fn virtual_aliases_delimiter_and_aliases_file() {
    let config = ConfigDir::new().unwrap();
    let aliases = config
        .file(
            "aliases",
            "# local aliases\nteam: carol, dave\npostmaster: root\n",
        )
        .unwrap();
    let extra = format!(
        "virtual_alias_maps = inline:{{ info@spec.test=sales@spec.test, sales@spec.test=bob@spec.test }}\n\
         recipient_delimiter = +\n\
         alias_maps = texthash:{}\n",
        aliases.display()
    );
    let srv = config
        .main_cf(&extra)
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let id = send(
        &srv,
        "alice@example.org",
        &["info@spec.test"],
        "via virtual",
    );
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        srv.wait_for_log(
            &format!("{id}: to=<bob@spec.test>, orig_to=<info@spec.test>, relay=local"),
            Duration::from_secs(5)
        ),
        "{}",
        srv.log()
    );

    send(
        &srv,
        "alice@example.org",
        &["bob+lists@spec.test"],
        "with extension",
    );
    assert_eq!(
        srv.wait_for_mail("bob", 2, Duration::from_secs(5)).len(),
        2,
        "{}",
        srv.log()
    );

    send(
        &srv,
        "alice@example.org",
        &["team@spec.test"],
        "to the team",
    );
    assert_eq!(
        srv.wait_for_mail("carol", 1, Duration::from_secs(5)).len(),
        1,
        "{}",
        srv.log()
    );
    assert_eq!(
        srv.wait_for_mail("dave", 1, Duration::from_secs(5)).len(),
        1,
        "{}",
        srv.log()
    );
}

#[test]
fn discard_and_error_transports() {
    let extra = "relay_domains = void.test, bounce.test\n\
                 transport_maps = inline:{ void.test=discard:, { bounce.test = error:5.1.1 mailbox disabled } }\n";
    let srv = TestServer::start(gatepost_bin!(), extra).unwrap();
    let id = send(&srv, "alice@spec.test", &["x@void.test"], "to the void");
    assert!(
        srv.wait_for_log(
            &format!("{id}: to=<x@void.test>, relay=none"),
            Duration::from_secs(5)
        ),
        "{}",
        srv.log()
    );
    assert!(
        srv.log().contains("status=sent (discarded)"),
        "{}",
        srv.log()
    );

    let id = send(&srv, "alice@spec.test", &["y@bounce.test"], "will bounce");
    assert!(srv.wait_for_log(&format!("{id}: to=<y@bounce.test>"), Duration::from_secs(5)));
    assert!(
        srv.log()
            .contains("dsn=5.1.1, status=bounced (mailbox disabled)"),
        "{}",
        srv.log()
    );
    assert!(srv.wait_for_log(
        &format!("{id}: sender non-delivery notification:"),
        Duration::from_secs(5)
    ));
    let dsn = srv.wait_for_mail("alice", 1, Duration::from_secs(5));
    assert_eq!(dsn.len(), 1, "{}", srv.log());
    let text = &dsn[0];
    for needle in [
        "Subject: Undelivered Mail Returned to Sender",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Final-Recipient: rfc822; y@bounce.test",
        "Action: failed",
        "Status: 5.1.1",
        "Subject: will bounce",
    ] {
        assert!(text.contains(needle), "DSN lacks {needle:?}:\n{text}");
    }
    assert!(
        text.contains("Return-Path: <>"),
        "bounce must come from the null sender:\n{text}"
    );
}

#[test]
fn per_client_connection_limit() {
    let srv =
        TestServer::start(gatepost_bin!(), "smtpd_client_connection_count_limit = 2").unwrap();
    let mut a = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    let mut b = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(a.read_reply().unwrap().code, 220);
    assert_eq!(b.read_reply().unwrap().code, 220);
    let mut c = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "421 4.7.0 mx.spec.test Error: too many connections from 127.0.0.2"
    );
    // mynetworks clients are exempt (smtpd_client_event_limit_exceptions).
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut l = Client::connect_from("127.0.0.1", srv.addr).unwrap();
        assert_eq!(l.read_reply().unwrap().code, 220);
        clients.push(l);
    }
}

/// The real binary: master.cf maxproc 1 makes the next client wait, with
/// master(8)'s warning; the connection rate over `anvil_rate_time_unit`
/// ends the third connection with Postfix's 421 and warning.
#[test]
fn process_limit_and_connection_rate_limit() {
    let dir = ConfigDir::new()
        .unwrap()
        .main_cf("smtpd_client_connection_rate_limit = 2")
        .unwrap();
    dir.file("master.cf", "127.0.0.1:0 inet n - n - 1 smtpd\n")
        .unwrap();
    let srv = dir.start(gatepost_bin!()).unwrap();
    let mut a = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(a.read_reply().unwrap().code, 220);
    assert!(
        srv.wait_for_log(
            "warning: service \"127.0.0.1:0\" (127.0.0.1:0) has reached its process limit \"1\": new clients may experience noticeable delays",
            Duration::from_secs(10)
        ),
        "{}",
        srv.log()
    );
    let mut b = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(a.command("QUIT").unwrap().code, 221);
    assert_eq!(
        b.read_reply().unwrap().code,
        220,
        "served once a slot is free"
    );
    assert_eq!(b.command("QUIT").unwrap().code, 221);
    let mut c = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "421 4.7.0 mx.spec.test Error: too many connections from 127.0.0.2"
    );
    assert!(
        srv.wait_for_log(
            "warning: Connection rate limit exceeded: 3 from ",
            Duration::from_secs(10)
        ),
        "{}",
        srv.log()
    );
}

/// cleanup(8): a header longer than `header_size_limit` arrives cut to its
/// first `header_size_limit` bytes; the rest of the message is intact.
#[test]
fn long_header_is_truncated_at_header_size_limit() {
    let srv = TestServer::start(gatepost_bin!(), "header_size_limit = 30").unwrap();
    let mut c = open_transaction(
        &srv,
        "127.0.0.2",
        "client.example",
        "a@example.org",
        &["bob@spec.test"],
    );
    let reply = c
        .send_message("X-Long: 0123456789012345678901234567890123456789\nSubject: kept\n\nbody")
        .unwrap();
    assert!(
        reply.last_line().starts_with("250 2.0.0 Ok: queued as "),
        "{reply:?}"
    );
    c.command("QUIT").unwrap();
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(5));
    let text = &mail[0];
    assert!(
        text.contains("\nX-Long: 0123456789012345678901\nSubject: kept\n"),
        "{text}"
    );
    assert!(text.ends_with("\n\nbody\n"), "{text}");
}

#[test]
fn idle_client_times_out() {
    let srv = TestServer::start(gatepost_bin!(), "smtpd_timeout = 1s").unwrap();
    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO localhost").unwrap();
    let r = c.read_reply().unwrap();
    assert_eq!(
        r.last_line(),
        "421 4.4.2 mx.spec.test Error: timeout exceeded"
    );
    assert!(srv.wait_for_log(
        "timeout after EHLO from unknown[127.0.0.1]",
        Duration::from_secs(2)
    ));
}

#[test]
fn access_table_hold_and_prepend_actions() {
    let extra = "smtpd_recipient_restrictions = check_recipient_access inline:{ { held@spec.test = HOLD quarantine }, { tagged@spec.test = PREPEND X-Tag: checked } }, permit_mynetworks, reject_unauth_destination\n\
                 transport_maps = inline:{ { slow.example = retry:4.4.1 remote server busy } }\n";
    let srv = TestServer::start(gatepost_bin!(), extra).unwrap();
    let held = send(
        &srv,
        "alice@example.org",
        &["held@spec.test"],
        "quarantined",
    );
    assert!(
        srv.path().join("spool/hold").join(&held).exists(),
        "{}",
        srv.log()
    );
    assert!(srv.wait_for_log(
        // As Postfix: logged when the RCPT is checked, before the queue file exists.
        "NOQUEUE: hold: RCPT from unknown[127.0.0.1]: <held@spec.test>: Recipient address quarantine; from=<alice@example.org> to=<held@spec.test> proto=ESMTP helo=<localhost>",
        Duration::from_secs(2)
    ), "{}", srv.log());
    // Proof that the queue manager has scanned the deferred queue since the
    // held message was queued: a message queued after it is retried from
    // there. A held message treated as deferred would have gone with it.
    let probe = send(&srv, "alice@example.org", &["x@slow.example"], "probe");
    wait_until("the probe's retry from the deferred queue", || {
        srv.log()
            .matches(&format!("{probe}: to=<x@slow.example>"))
            .count()
            >= 2
    });
    assert!(
        srv.maildir_messages("held").is_empty(),
        "held mail must not be delivered"
    );
    assert!(srv.path().join("spool/hold").join(&held).exists());
    assert!(
        !srv.log().contains(&format!("{held}: from=<")),
        "the queue manager must not open a held message:\n{}",
        srv.log()
    );

    send(&srv, "alice@example.org", &["tagged@spec.test"], "tagged");
    let mail = srv.wait_for_mail("tagged", 1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    let tag = mail[0].find("X-Tag: checked\n").expect("prepended header");
    let received = mail[0]
        .find("Received: from localhost")
        .expect("Received header");
    assert!(tag < received, "PREPEND goes above Received:\n{}", mail[0]);
}

#[test]
fn unknown_local_user_bounces_as_in_postfix_unless_asked_otherwise() {
    // Postfix's local(8): no passwd entry, no alias -> unknown user, even
    // with local_recipient_maps empty. Only the gatepost-only
    // local_mailbox_for_unknown_users = yes (the embedded defaults and the
    // test base configuration) gives such names a mailbox.
    let srv = TestServer::start(gatepost_bin!(), "local_mailbox_for_unknown_users = no").unwrap();
    let id = send(
        &srv,
        "someone@example.org",
        &["nosuchuser@spec.test"],
        "to nobody",
    );
    assert!(
        srv.wait_for_log(
            &format!("{id}: to=<nosuchuser@spec.test>, relay=local"),
            Duration::from_secs(5)
        ),
        "{}",
        srv.log()
    );
    assert!(
        srv.log()
            .contains("dsn=5.1.1, status=bounced (unknown user: \"nosuchuser\")"),
        "{}",
        srv.log()
    );
    assert!(srv.maildir_messages("nosuchuser").is_empty());
}
