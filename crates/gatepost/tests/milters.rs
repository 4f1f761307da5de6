//! `smtpd_milters` against a milter application written in the test
//! (`milter_support`, speaking the Sendmail 8 protocol itself): every
//! stage with Postfix's macros, every end-of-message modification, the
//! per-stage decisions with Postfix's reply texts and log lines
//! (`milter-reject`, `milter-hold`, `milter-discard`), the default action
//! when the filter is down or silent, `inet:` and `unix:` sockets, and
//! `receive_override_options = no_milters`.

mod milter_support;

use std::sync::Arc;
use std::time::Duration;

use gatepost_testkit::{
    gatepost_bin, open_transaction, queued_id, submit, wait_until, Client, ConfigDir, TestServer,
};
use milter_support::*;

const T: Duration = Duration::from_secs(10);

fn server_with(milter: &str, extra: &str) -> TestServer {
    ConfigDir::new()
        .unwrap()
        .main_cf(&format!("smtpd_milters = {milter}\n{extra}"))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap()
}

fn continue_all() -> Arc<Rule> {
    Arc::new(|_, _| Vec::new())
}

#[test]
fn every_stage_reaches_the_milter_with_postfix_macros() {
    let milter = TestMilter::start(Negotiation::default(), continue_all());
    let srv = server_with(&milter.endpoint(), "");
    let id = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: stages\nX-Tag: one\n\nline one\nline two",
    );
    let mail = srv.wait_for_mail("bob", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    wait_until("milter quit", || milter.commands().ends_with('Q'));
    let packets = milter.packets();
    let offered = milter.offered.lock().unwrap().expect("negotiated");
    assert_eq!(
        offered,
        (6, 0x1ff, 0x1f_f7ff),
        "version 6, every action, every step but RCPT_REJ"
    );
    // The events in order (macros, abort and quit left out).
    let events: String = packets
        .iter()
        .map(|p| p.cmd as char)
        .filter(|c| !matches!(c, 'O' | 'D' | 'A'))
        .collect();
    // Five headers (cleanup added Message-Id, Date, From), the body, the
    // end of message.
    assert_eq!(events, "CHMRTLLLLLNBEQ", "{packets:?}");
    let connect = packets.iter().find(|p| p.cmd == b'C').unwrap();
    let mut want = b"unknown\0".to_vec();
    want.push(b'4');
    assert_eq!(&connect.data[..want.len()], &want[..]);
    assert!(connect.data.ends_with(b"127.0.0.1\0"), "{connect:?}");
    let macros = |event: u8| -> std::collections::BTreeMap<String, String> {
        packets
            .iter()
            .filter(|p| p.cmd == b'D')
            .map(Packet::macros)
            .filter(|(e, _)| *e == event)
            .map(|(_, m)| m)
            .next_back()
            .unwrap_or_default()
    };
    let c = macros(b'C');
    assert_eq!(
        c.get("j").map(String::as_str),
        Some("mx.spec.test"),
        "{c:?}"
    );
    assert_eq!(
        c.get("{daemon_name}").map(String::as_str),
        Some("mx.spec.test")
    );
    assert_eq!(
        c.get("{daemon_addr}").map(String::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(c.get("_").map(String::as_str), Some("unknown [127.0.0.1]"));
    assert!(
        c.get("v").is_some_and(|v| v.starts_with("Postfix")),
        "{c:?}"
    );
    let m = macros(b'M');
    assert_eq!(
        m.get("{mail_addr}").map(String::as_str),
        Some("alice@example.org"),
        "{m:?}"
    );
    assert_eq!(m.get("{mail_mailer}").map(String::as_str), Some("smtp"));
    let r = macros(b'R');
    assert_eq!(
        r.get("{rcpt_addr}").map(String::as_str),
        Some("bob@spec.test"),
        "{r:?}"
    );
    assert_eq!(r.get("{rcpt_mailer}").map(String::as_str), Some("local"));
    let e = macros(b'E');
    assert_eq!(e.get("i").map(String::as_str), Some(id.as_str()), "{e:?}");
    let mail_args = packets.iter().find(|p| p.cmd == b'M').unwrap().strings();
    assert_eq!(mail_args, vec!["<alice@example.org>"]);
    assert_eq!(
        packets.iter().find(|p| p.cmd == b'H').unwrap().strings(),
        vec!["client.example"]
    );
    // Our own Received: header is not shown; the others are, one space
    // after the colon eaten.
    let headers: Vec<Vec<String>> = packets
        .iter()
        .filter(|p| p.cmd == b'L')
        .map(Packet::strings)
        .collect();
    assert_eq!(
        headers[..2],
        [
            vec!["Subject".to_string(), "stages".into()],
            vec!["X-Tag".into(), "one".into()]
        ]
    );
    assert_eq!(
        headers[4],
        vec!["From".to_string(), "alice@example.org".into()]
    );
    let body = packets.iter().find(|p| p.cmd == b'B').unwrap();
    assert_eq!(body.data, b"line one\r\nline two\r\n");
    assert!(packets
        .iter()
        .find(|p| p.cmd == b'E')
        .unwrap()
        .data
        .is_empty());
    assert!(
        srv.wait_for_log(&format!("{id}: to=<bob@spec.test>, relay=local"), T),
        "{}",
        srv.log()
    );
}

#[test]
fn end_of_message_modifications_are_carried_out() {
    let rule: Arc<Rule> = Arc::new(|event, _conn: &Conn| {
        if event != b'E' {
            return Vec::new();
        }
        vec![
            (PROGRESS, Vec::new()),
            (ADDHEADER, header("X-Added", "by milter")),
            (INSHEADER, indexed_header(0, "X-Top", "first")),
            (CHGHEADER, indexed_header(1, "Subject", "changed")),
            (CHGHEADER, indexed_header(1, "X-Drop", "")),
            (CHGHEADER, indexed_header(2, "X-Multi", "second changed")),
            (CHGFROM, string("<new-sender@spec.test>")),
            (ADDRCPT, string("<carol@spec.test>")),
            (DELRCPT, string("<bob@spec.test>")),
            (REPLBODY, b"replaced\r\n".to_vec()),
            (REPLBODY, b"body\r\n".to_vec()),
            (CONTINUE, Vec::new()),
        ]
    });
    let milter = TestMilter::start(Negotiation::default(), rule);
    let srv = server_with(&milter.endpoint(), "");
    let id = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test", "dave@spec.test"],
        "Subject: original\nX-Drop: gone\nX-Multi: 1\nX-Multi: 2\n\nold body",
    );
    let carol = srv.wait_for_mail("carol", 1, T);
    assert_eq!(carol.len(), 1, "{}", srv.log());
    let dave = srv.wait_for_mail("dave", 1, T);
    assert_eq!(dave.len(), 1, "{}", srv.log());
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), T),
        "{}",
        srv.log()
    );
    assert!(srv.maildir_messages("bob").is_empty(), "bob was deleted");
    let msg = &carol[0];
    let top = msg.find("X-Top: first").expect("inserted header");
    let received = msg
        .find("Received: from client.example")
        .expect("our Received");
    assert!(top < received, "index 0 is above our Received:\n{msg}");
    assert!(msg.contains("Subject: changed\n"), "{msg}");
    assert!(
        !msg.contains("original") && !msg.contains("X-Drop"),
        "{msg}"
    );
    assert!(
        msg.contains("X-Multi: 1\nX-Multi: second changed\n"),
        "{msg}"
    );
    assert!(msg.contains("X-Added: by milter\n"), "{msg}");
    assert!(msg.ends_with("\n\nreplaced\nbody\n"), "{msg}");
    assert!(msg.contains("Return-Path: <new-sender@spec.test>"), "{msg}");
    let log = srv.log();
    assert!(
        log.contains(&format!("{id}: from=<new-sender@spec.test>")),
        "{log}"
    );
}

/// One milter whose decisions follow the sender (and client, HELO).
fn deciding_milter() -> TestMilter {
    let rule: Arc<Rule> = Arc::new(|event, conn: &Conn| {
        let who = conn.sender.trim_matches(|c| c == '<' || c == '>');
        match (event, who.split('@').next().unwrap_or("")) {
            (b'C', _) if conn.client_addr == "127.0.0.2" => simple(REJECT),
            (b'C', _) if conn.client_addr == "127.0.0.3" => simple(ACCEPT),
            (b'H', _) if conn.helo == "bye.example" => {
                vec![(REPLYCODE, string("421 4.7.0 Go away"))]
            }
            (b'M', "tempfail-mail") => simple(TEMPFAIL),
            (b'R', "reject-rcpt") => vec![(REPLYCODE, string("550 5.7.1 No 100%% thanks"))],
            (b'T', "reject-data") => simple(REJECT),
            (b'E', "discard") => simple(DISCARD),
            (b'E', "hold") => vec![(QUARANTINE, string("suspicious")), (CONTINUE, Vec::new())],
            (b'E', "reject-eom") => vec![(REPLYCODE, string("550 5.7.1 Spam message rejected"))],
            (b'E', "tempfail-eom") => simple(TEMPFAIL),
            (b'L', "accept-msg") => simple(ACCEPT),
            _ => Vec::new(),
        }
    });
    TestMilter::start(Negotiation::default(), rule)
}

fn transaction(srv: &TestServer, ip: &str, sender: &str) -> Client {
    let mut c = Client::connect_from(ip, srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let r = c.command(&format!("MAIL FROM:<{sender}>")).unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    c
}

#[test]
fn per_stage_decisions_and_their_log_lines() {
    let milter = deciding_milter();
    let srv = server_with(&milter.endpoint(), "");

    // MAIL: tempfail.
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let r = c.command("MAIL FROM:<tempfail-mail@example.org>").unwrap();
    assert_eq!(r.full(), "451 4.7.1 Service unavailable - try again later");
    assert!(srv.wait_for_log(
        "NOQUEUE: milter-reject: MAIL from unknown[127.0.0.1]: 451 4.7.1 Service unavailable - try again later; from=<tempfail-mail@example.org> proto=ESMTP helo=<client.example>",
        T
    ), "{}", srv.log());

    // RCPT: a custom reply (SMFIR_REPLYCODE, %% unescaped).
    let mut c = transaction(&srv, "127.0.0.1", "reject-rcpt@example.org");
    let r = c.command("RCPT TO:<bob@spec.test>").unwrap();
    assert_eq!(r.full(), "550 5.7.1 No 100% thanks");
    assert!(srv.wait_for_log(
        "NOQUEUE: milter-reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 No 100% thanks; from=<reject-rcpt@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>",
        T
    ), "{}", srv.log());

    // DATA: reject.
    let mut c = transaction(&srv, "127.0.0.1", "reject-data@example.org");
    assert_eq!(c.command("RCPT TO:<bob@spec.test>").unwrap().code, 250);
    let r = c.command("DATA").unwrap();
    assert_eq!(r.full(), "550 5.7.1 Command rejected");
    assert!(srv.wait_for_log("milter-reject: DATA from unknown[127.0.0.1]: 550 5.7.1 Command rejected; from=<reject-data@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>", T), "{}", srv.log());

    // END-OF-MESSAGE: reject, logged by cleanup without the code.
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "reject-eom@example.org",
        &["bob@spec.test"],
    );
    let r = c.send_message("Subject: spam\n\nbuy").unwrap();
    assert_eq!(r.full(), "550 5.7.1 Spam message rejected");
    assert!(srv.wait_for_log(
        ": milter-reject: END-OF-MESSAGE from unknown[127.0.0.1]: 5.7.1 Spam message rejected; from=<reject-eom@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>",
        T
    ), "{}", srv.log());
    assert!(srv.log().contains("postfix/cleanup["), "{}", srv.log());

    // END-OF-MESSAGE: tempfail.
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "tempfail-eom@example.org",
        &["bob@spec.test"],
    );
    let r = c.send_message("Subject: later\n\nx").unwrap();
    assert_eq!(r.full(), "451 4.7.1 Service unavailable - try again later");

    // END-OF-MESSAGE: discard (250, nothing delivered).
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "discard@example.org",
        &["carol@spec.test"],
    );
    let id = queued_id(&c.send_message("Subject: drop\n\nx").unwrap());
    assert!(srv.wait_for_log(&format!(
        "{id}: milter-discard: END-OF-MESSAGE from unknown[127.0.0.1]: milter triggers DISCARD action; from=<discard@example.org> to=<carol@spec.test> proto=ESMTP helo=<client.example>"
    ), T), "{}", srv.log());

    // END-OF-MESSAGE: quarantine → the hold queue.
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "hold@example.org",
        &["carol@spec.test"],
    );
    let id = queued_id(&c.send_message("Subject: held\n\nx").unwrap());
    assert!(srv.wait_for_log(&format!(
        "{id}: milter-hold: END-OF-MESSAGE from unknown[127.0.0.1]: milter triggers HOLD action; from=<hold@example.org> to=<carol@spec.test> proto=ESMTP helo=<client.example>"
    ), T), "{}", srv.log());
    let held = srv.path().join("spool/hold").join(&id);
    wait_until("message in hold", || held.exists());

    // A message the filter accepted after its first header is delivered.
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "accept-msg@example.org",
        &["dave@spec.test"],
    );
    queued_id(&c.send_message("Subject: fine\n\nx").unwrap());
    assert_eq!(srv.wait_for_mail("dave", 1, T).len(), 1, "{}", srv.log());

    // CONNECT: reject, answered at MAIL FROM; the greeting is normal.
    let mut c = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.command("EHLO client.example").unwrap().code, 250);
    let r = c.command("MAIL FROM:<alice@example.org>").unwrap();
    assert_eq!(r.full(), "550 5.7.1 Command rejected");
    assert!(
        srv.wait_for_log(
            "NOQUEUE: milter-reject: CONNECT from unknown[127.0.0.2]: 550 5.7.1 Command rejected;",
            T
        ),
        "{}",
        srv.log()
    );

    // CONNECT: accept, no more events; mail goes through.
    let mut c = open_transaction(
        &srv,
        "127.0.0.3",
        "client.example",
        "reject-eom@example.org",
        &["erin@spec.test"],
    );
    queued_id(&c.send_message("Subject: trusted\n\nx").unwrap());
    assert_eq!(srv.wait_for_mail("erin", 1, T).len(), 1, "{}", srv.log());

    // HELO: 421 ends the session at once.
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    let r = c.command("EHLO bye.example").unwrap();
    assert_eq!(r.full(), "421 4.7.0 Go away");
    assert!(c.is_closed());
    assert_eq!(
        srv.maildir_messages("carol").len(),
        0,
        "discarded and held mail is not delivered"
    );
}

#[test]
fn unavailable_milter_gets_the_default_action() {
    // Nothing listens on this port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("inet:{}", dead.local_addr().unwrap());
    drop(dead);
    let srv = server_with(&endpoint, "");
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let r = c.command("MAIL FROM:<alice@example.org>").unwrap();
    assert_eq!(r.full(), "451 4.7.1 Service unavailable - try again later");
    assert!(
        srv.wait_for_log(
            &format!("warning: connect to Milter service {endpoint}: Connection refused"),
            T
        ),
        "{}",
        srv.log()
    );
    // As Postfix 3.7 logs it (observed): at CONNECT, at EHLO (the old
    // protocol name, the new HELO name) and at MAIL.
    let log = srv.log();
    for line in [
        "NOQUEUE: milter-reject: CONNECT from unknown[127.0.0.1]: 451 4.7.1 Service unavailable - try again later; proto=SMTP\n",
        "NOQUEUE: milter-reject: EHLO from unknown[127.0.0.1]: 451 4.7.1 Service unavailable - try again later; proto=SMTP helo=<client.example>\n",
        "NOQUEUE: milter-reject: MAIL from unknown[127.0.0.1]: 451 4.7.1 Service unavailable - try again later; from=<alice@example.org> proto=ESMTP helo=<client.example>\n",
    ] {
        assert!(log.contains(line), "{line}{log}");
    }

    for (action, want) in [
        ("reject", Some("550 5.5.0 Service unavailable")),
        ("accept", None),
    ] {
        let srv = server_with(&endpoint, &format!("milter_default_action = {action}\n"));
        let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
        c.read_reply().unwrap();
        c.command("EHLO client.example").unwrap();
        let r = c.command("MAIL FROM:<alice@example.org>").unwrap();
        match want {
            Some(text) => assert_eq!(r.full(), text, "{action}"),
            None => assert_eq!(r.code, 250, "{action}: {r:?}"),
        }
    }

    let srv = server_with(&endpoint, "milter_default_action = quarantine\n");
    let id = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: q\n\nx",
    );
    assert!(
        srv.wait_for_log(&format!("{id}: milter-hold: END-OF-MESSAGE"), T),
        "{}",
        srv.log()
    );
    wait_until("held", || srv.path().join("spool/hold").join(&id).exists());
}

#[test]
fn silent_milter_times_out_at_end_of_message() {
    let rule: Arc<Rule> = Arc::new(|event, _: &Conn| {
        if event == b'E' {
            // Never answer: hold the connection until gatepost gives up.
            std::thread::sleep(Duration::from_secs(30));
        }
        Vec::new()
    });
    let milter = TestMilter::start(Negotiation::default(), rule);
    let srv = server_with(&milter.endpoint(), "milter_content_timeout = 1s\n");
    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
    );
    let r = c.send_message("Subject: slow\n\nx").unwrap();
    assert_eq!(r.full(), "451 4.7.1 Service unavailable - try again later");
    assert!(
        srv.wait_for_log(
            &format!(
        "warning: milter {}: can't read SMFIC_BODYEOB reply packet header: Connection timed out",
        milter.endpoint()
    ),
            T
        ),
        "{}",
        srv.log()
    );
}

#[test]
fn unix_socket_no_reply_steps_symbol_lists_and_no_milters() {
    let dir = gatepost_testkit::shared_tempdir().unwrap();
    // No header replies, no body, no EOH; the end-of-data macros it wants.
    let neg = Negotiation {
        version: 6,
        actions: 0x1ff,
        steps: (1 << 7) | (1 << 4) | (1 << 6),
        eom_macros: Some("j {client_addr}"),
    };
    let rule: Arc<Rule> = Arc::new(|event, conn: &Conn| {
        if event == b'E' {
            let subject = conn
                .headers
                .iter()
                .find(|(n, _)| n == "Subject")
                .map(|(_, v)| v.clone());
            return vec![
                (
                    ADDHEADER,
                    header("X-Seen-Subject", &subject.unwrap_or_default()),
                ),
                (CONTINUE, Vec::new()),
            ];
        }
        Vec::new()
    });
    let milter = TestMilter::start_unix(dir.path().join("milter.sock"), neg, rule);
    let srv = server_with(&milter.endpoint(), "milter_protocol = 6\n");
    submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: quiet\n\nno body sent",
    );
    let mail = srv.wait_for_mail("bob", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(mail[0].contains("X-Seen-Subject: quiet\n"), "{}", mail[0]);
    let cmds = milter.commands();
    assert!(!cmds.contains('B') && !cmds.contains('N'), "{cmds}");
    let eom: Vec<_> = milter
        .packets()
        .iter()
        .filter(|p| p.cmd == b'D')
        .map(Packet::macros)
        .filter(|(e, _)| *e == b'E')
        .map(|(_, m)| m.into_iter().collect::<Vec<_>>())
        .collect();
    assert_eq!(
        eom,
        vec![vec![
            ("j".to_string(), "mx.spec.test".to_string()),
            ("{client_addr}".into(), "127.0.0.1".into())
        ]],
        "the filter's own end-of-message macro list"
    );

    // no_milters in receive_override_options: the filter is not asked.
    let milter2 = TestMilter::start(Negotiation::default(), continue_all());
    let srv = server_with(
        &milter2.endpoint(),
        "receive_override_options = no_milters\n",
    );
    submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: unfiltered\n\nx",
    );
    assert_eq!(srv.wait_for_mail("bob", 1, T).len(), 1);
    assert!(milter2.packets().is_empty());
}

#[test]
fn large_body_goes_in_chunks() {
    let milter = TestMilter::start(Negotiation::default(), continue_all());
    let srv = server_with(&milter.endpoint(), "");
    let line = "x".repeat(99);
    let body: String = (0..1000).map(|_| format!("{line}\n")).collect();
    submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        &format!("Subject: big\n\n{body}"),
    );
    assert_eq!(srv.wait_for_mail("bob", 1, T).len(), 1, "{}", srv.log());
    let packets = milter.packets();
    let chunks: Vec<&Packet> = packets.iter().filter(|p| p.cmd == b'B').collect();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].data.len(), 65535);
    let mut sent = chunks[0].data.clone();
    sent.extend_from_slice(&chunks[1].data);
    assert_eq!(sent, body.replace('\n', "\r\n").into_bytes());
}

fn sendmail(srv: &TestServer, args: &[&str], input: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .arg("sendmail")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn non_smtpd_milters_filter_local_submissions() {
    // Adds a header; rejects mail from "spam@": it bounces to the sender.
    let rule: Arc<Rule> = Arc::new(|event, conn: &Conn| match event {
        b'E' if conn.sender.starts_with("<spam@") => {
            vec![(REPLYCODE, string("550 5.7.1 Local spam refused"))]
        }
        b'E' => vec![
            (ADDHEADER, header("X-Local-Milter", "seen")),
            (CONTINUE, Vec::new()),
        ],
        _ => Vec::new(),
    });
    let milter = TestMilter::start(Negotiation::default(), rule);
    let srv = ConfigDir::new()
        .unwrap()
        .main_cf(&format!("non_smtpd_milters = {}\n", milter.endpoint()))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    sendmail(
        &srv,
        &["-f", "alice@spec.test", "bob@spec.test"],
        "Subject: local\n\nhi\n",
    );
    let mail = srv.wait_for_mail("bob", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(mail[0].contains("X-Local-Milter: seen\n"), "{}", mail[0]);
    let connect = milter
        .packets()
        .into_iter()
        .find(|p| p.cmd == b'C')
        .unwrap();
    assert!(connect.data.starts_with(b"localhost\0") && connect.data.ends_with(b"127.0.0.1\0"));

    sendmail(
        &srv,
        &["-f", "spam@spec.test", "carol@spec.test"],
        "Subject: junk\n\nbuy\n",
    );
    assert!(srv.wait_for_log(": milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Local spam refused; from=<spam@spec.test> to=<carol@spec.test>", T), "{}", srv.log());
    let notice = srv.wait_for_mail("spam", 1, T);
    assert_eq!(notice.len(), 1, "{}", srv.log());
    assert!(notice[0].contains("Local spam refused"), "{}", notice[0]);
    assert!(srv.maildir_messages("carol").is_empty());
}

/// The macros one stage got (the last `D` packet for it).
fn stage_macros(milter: &TestMilter, event: u8) -> std::collections::BTreeMap<String, String> {
    milter
        .packets()
        .iter()
        .filter(|p| p.cmd == b'D')
        .map(Packet::macros)
        .filter(|(e, _)| *e == event)
        .map(|(_, m)| m)
        .next_back()
        .unwrap_or_default()
}

#[test]
fn unknown_commands_are_shown_to_filters_that_ask() {
    let rule: Arc<Rule> = Arc::new(|event, _conn: &Conn| match event {
        b'U' => vec![(REPLYCODE, string("550 5.7.1 No such verb here"))],
        _ => Vec::new(),
    });
    let milter = TestMilter::start(Negotiation::default(), rule);
    // A filter that asked not to see unknown commands (SMFIP_NOUNKNOWN).
    let quiet = TestMilter::start(
        Negotiation {
            steps: 1 << 8,
            ..Negotiation::default()
        },
        continue_all(),
    );
    let srv = server_with(
        &format!("{}, {}", quiet.endpoint(), milter.endpoint()),
        "milter_unknown_command_macros = j {client_addr}\n",
    );
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let r = c.command("XYZZY plugh").unwrap();
    assert_eq!(r.full(), "550 5.7.1 No such verb here");
    let log = srv.log();
    assert!(
        log.contains("NOQUEUE: milter-reject: UNKNOWN from unknown[127.0.0.1]: 550 5.7.1 No such verb here; proto=ESMTP helo=<client.example>\n"),
        "{log}"
    );
    c.command("QUIT").unwrap();
    wait_until("milter quit", || milter.commands().ends_with('Q'));
    // The command word only, as Postfix sends it.
    let unknown: Vec<Vec<String>> = milter
        .packets()
        .iter()
        .filter(|p| p.cmd == b'U')
        .map(Packet::strings)
        .collect();
    assert_eq!(unknown, vec![vec!["XYZZY".to_string()]]);
    let u = stage_macros(&milter, b'U');
    assert_eq!(
        u.get("{client_addr}").map(String::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(u.get("j").map(String::as_str), Some("mx.spec.test"));
    wait_until("quiet milter quit", || quiet.commands().ends_with('Q'));
    assert!(!quiet.commands().contains('U'), "{}", quiet.commands());

    // A filter that lets it pass: Postfix's own reply.
    let srv = server_with(&quiet.endpoint(), "");
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    let r = c.command("XYZZY").unwrap();
    assert_eq!(r.full(), "500 5.5.2 Error: command not recognized");
}

#[test]
fn per_filter_settings_in_braces() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_endpoint = format!("inet:{}", dead.local_addr().unwrap());
    drop(dead);
    let live = TestMilter::start(
        Negotiation {
            version: 2,
            actions: 0x3f,
            ..Negotiation::default()
        },
        continue_all(),
    );
    // The dead filter is skipped by its own default action; the live one
    // speaks protocol 2 as its entry says; main.cf says tempfail.
    let list = format!(
        "{{ {dead_endpoint}, default_action=accept, connect_timeout=5s }}, \
         {{ {}, {{ protocol = 2 }}, command_timeout=20s, content_timeout=1m }}",
        live.endpoint()
    );
    let srv = server_with(&list, "milter_default_action = tempfail\n");
    submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: braces\n\nx",
    );
    assert_eq!(srv.wait_for_mail("bob", 1, T).len(), 1, "{}", srv.log());
    assert!(
        srv.log().contains(&format!(
            "warning: connect to Milter service {dead_endpoint}: Connection refused"
        )),
        "{}",
        srv.log()
    );
    let offered = live.offered.lock().unwrap().expect("negotiated");
    assert_eq!(offered.0, 2, "{offered:?}");

    // An entry Postfix cannot read: the filter answers as a configuration
    // problem, whatever its default action.
    let srv = server_with(
        &format!(
            "{{ {}, colour=blue, default_action=accept }}",
            live.endpoint()
        ),
        "",
    );
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let r = c.command("MAIL FROM:<alice@example.org>").unwrap();
    assert_eq!(
        r.full(),
        "451 4.3.5 Server configuration problem - try again later"
    );
    assert!(
        srv.log()
            .contains("warning: unknown option: \"colour = blue\""),
        "{}",
        srv.log()
    );
}

#[test]
fn macro_defaults_and_session_macros() {
    let milter = TestMilter::start(Negotiation::default(), continue_all());
    let srv = server_with(
        &milter.endpoint(),
        "smtpd_client_event_limit_exceptions =\n\
         milter_connect_macros = j {client_connections} {my_site} _\n\
         milter_macro_defaults = auth_type=none, { my_site = site one }, {auth_authen}=nobody\n",
    );
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let r = c
        .command("MAIL FROM:<alice@example.org> AUTH=alice+2Bx@example.org")
        .unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    let r = c.command("RCPT TO:<bob@spec.test>").unwrap();
    assert_eq!(r.code, 250, "{r:?}");
    c.command("QUIT").unwrap();
    wait_until("milter quit", || milter.commands().ends_with('Q'));
    let connect = stage_macros(&milter, b'C');
    assert_eq!(
        connect.get("{client_connections}").map(String::as_str),
        Some("1"),
        "{connect:?}"
    );
    assert_eq!(
        connect.get("{my_site}").map(String::as_str),
        Some("site one")
    );
    assert_eq!(
        connect.get("_").map(String::as_str),
        Some("unknown [127.0.0.1]")
    );
    let mail = stage_macros(&milter, b'M');
    // Defaults fill what has no value (no AUTH login here); the AUTH=
    // value as the client gave it.
    assert_eq!(mail.get("{auth_type}").map(String::as_str), Some("none"));
    assert_eq!(
        mail.get("{auth_authen}").map(String::as_str),
        Some("nobody")
    );
    assert_eq!(
        mail.get("{auth_author}").map(String::as_str),
        Some("alice+2Bx@example.org"),
        "{mail:?}"
    );
    // Macros are sent before each event even when none has a value (HELO
    // here: no TLS), as Postfix 3.7 does.
    assert!(
        milter
            .packets()
            .iter()
            .any(|p| p.cmd == b'D' && p.data == b"H"),
        "{:?}",
        milter.packets()
    );
    // `i` is not known at MAIL nor at the first RCPT: the queue file is
    // opened once a recipient is accepted, as in Postfix.
    assert!(!mail.contains_key("i"), "{mail:?}");
    assert!(!stage_macros(&milter, b'R').contains_key("i"));
}

#[test]
fn milter_header_checks_apply_to_headers_filters_add() {
    let rule: Arc<Rule> = Arc::new(|event, conn: &Conn| {
        if event != b'E' {
            return Vec::new();
        }
        if conn.sender.contains("hold") {
            return vec![
                (ADDHEADER, header("X-Drop", "strip me")),
                (ADDHEADER, header("X-Empty", "hold me")),
                (CONTINUE, Vec::new()),
            ];
        }
        if conn.sender.contains("spam") {
            return vec![
                (ADDHEADER, header("X-Spam-Flag", "YES")),
                (ADDHEADER, header("X-After", "not added")),
                (CONTINUE, Vec::new()),
            ];
        }
        vec![
            (ADDHEADER, header("X-Tag", "strip me")),
            (INSHEADER, indexed_header(0, "X-Tag", "swap me")),
            (CHGHEADER, indexed_header(1, "Subject", "copy please")),
            (CONTINUE, Vec::new()),
        ]
    });
    let milter = TestMilter::start(Negotiation::default(), rule);
    let dir = ConfigDir::new().unwrap();
    let table = dir
        .file(
            "milter_header_checks",
            "/^X-Spam-Flag: YES/ REJECT spam by filter\n\
             /^X-Tag: strip/ IGNORE\n\
             /^X-Drop: strip/ STRIP\n\
             /^X-Empty: hold/ HOLD\n\
             /^X-Tag: swap/ REPLACE X-Tag: swapped\n\
             /^Subject: copy/ BCC carol@spec.test\n\
             /^Subject: (copy)/ WARN seen $1\n",
        )
        .unwrap();
    let srv = dir
        .main_cf(&format!(
            "smtpd_milters = {}\nmilter_header_checks = regexp:{}\n",
            milter.endpoint(),
            table.display()
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();

    let id = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: original\n\nbody",
    );
    let bob = srv.wait_for_mail("bob", 1, T);
    assert_eq!(bob.len(), 1, "{}", srv.log());
    assert_eq!(srv.wait_for_mail("carol", 1, T).len(), 1, "{}", srv.log());
    let msg = &bob[0];
    assert!(msg.contains("X-Tag: swapped\n"), "{msg}");
    assert!(
        !msg.contains("strip me") && !msg.contains("swap me"),
        "{msg}"
    );
    assert!(msg.contains("Subject: copy please\n"), "{msg}");
    let log = srv.log();
    for line in [
        format!("{id}: milter-header-replace: header X-Tag: swap me from unknown[127.0.0.1]; from=<alice@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>: X-Tag: swapped\n"),
        format!("{id}: milter-header-bcc: header Subject: copy please from unknown[127.0.0.1]; from=<alice@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>: carol@spec.test\n"),
    ] {
        assert!(log.contains(&line), "{line}{log}");
    }

    let mut c = open_transaction(
        &srv,
        "127.0.0.1",
        "client.example",
        "spam@example.org",
        &["bob@spec.test"],
    );
    c.command("DATA").unwrap();
    let r = c.command("Subject: buy\r\n\r\nnow\r\n.").unwrap();
    assert_eq!(r.full(), "550 5.7.1 spam by filter");
    let log = srv.log();
    assert!(
        log.contains(": milter-header-reject: header X-Spam-Flag: YES from unknown[127.0.0.1]; from=<spam@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>: 5.7.1 spam by filter\n"),
        "{log}"
    );
    assert!(!log.contains("milter-reject: END-OF-MESSAGE"), "{log}");

    // As Postfix 3.7 logs them: `: ` ends the line of an action without
    // text; the message goes to the hold queue without the stripped header.
    let id = submit(
        &srv,
        "client.example",
        "hold@example.org",
        &["bob@spec.test"],
        "Subject: hold\n\nx",
    );
    let tail = "from unknown[127.0.0.1]; from=<hold@example.org> to=<bob@spec.test> proto=ESMTP helo=<client.example>: \n";
    for line in [
        format!("{id}: milter-header-strip: header X-Drop: strip me {tail}"),
        format!("{id}: milter-header-hold: header X-Empty: hold me {tail}"),
    ] {
        assert!(srv.wait_for_log(&line, T), "{line}{}", srv.log());
    }
    wait_until("held", || srv.path().join("spool/hold").join(&id).exists());
    let held = std::fs::read_to_string(srv.path().join("spool/hold").join(&id)).unwrap_or_default();
    assert!(
        !held.contains("strip me") && held.contains("hold me"),
        "{held}"
    );
    assert!(!srv.log().contains("milter-hold: END-OF-MESSAGE"));
}

/// `smtpd_delay_open_until_valid_rcpt = no`: the queue file is opened at
/// MAIL FROM once the filters saw it (Postfix logs `ID: client=` then), so
/// `i` reaches them from the first RCPT on; a transaction that ends
/// without a message leaves no queue file behind.
#[test]
fn queue_id_from_the_first_recipient_when_the_open_is_not_delayed() {
    let rule: Arc<Rule> = Arc::new(|event, conn: &Conn| match event {
        b'R' if conn.recipients.last().is_some_and(|r| r.contains("nobody")) => simple(REJECT),
        _ => Vec::new(),
    });
    let milter = TestMilter::start(Negotiation::default(), rule);
    let srv = server_with(
        &milter.endpoint(),
        "smtpd_delay_open_until_valid_rcpt = no\n",
    );
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    assert_eq!(
        c.command("MAIL FROM:<alice@example.org>").unwrap().code,
        250
    );
    let log = srv.log();
    let id = log
        .lines()
        .find_map(|l| {
            l.split(": client=unknown[127.0.0.1]")
                .next()
                .filter(|_| l.contains(": client="))
        })
        .and_then(|head| head.rsplit(' ').next())
        .expect("client= logged at MAIL")
        .to_string();
    let r = c.command("RCPT TO:<nobody@spec.test>").unwrap();
    assert_eq!(r.full(), "550 5.7.1 Command rejected");
    assert!(
        srv.log().contains(&format!(
            "{id}: milter-reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 Command rejected; from=<alice@example.org> to=<nobody@spec.test>"
        )),
        "{}",
        srv.log()
    );
    c.command("RSET").unwrap();
    c.command("QUIT").unwrap();
    wait_until("milter quit", || milter.commands().ends_with('Q'));
    let r = stage_macros(&milter, b'R');
    assert_eq!(r.get("i"), Some(&id), "{r:?}");
    assert!(!stage_macros(&milter, b'M').contains_key("i"));
    for dir in ["spool/tmp", "spool/incoming"] {
        let left: Vec<_> = std::fs::read_dir(srv.path().join(dir))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            !left.iter().any(|n| n.to_string_lossy().contains(&id)),
            "{dir}: {left:?}"
        );
    }

    // Accepted mail goes through as usual.
    let queued = submit(
        &srv,
        "client.example",
        "alice@example.org",
        &["bob@spec.test"],
        "Subject: early\n\nx",
    );
    assert_eq!(srv.wait_for_mail("bob", 1, T).len(), 1, "{}", srv.log());
    assert!(srv
        .log()
        .contains(&format!("{queued}: client=unknown[127.0.0.1]")));
}
