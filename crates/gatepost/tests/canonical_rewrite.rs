//! canonical(5) maps and masquerading applied by cleanup to the envelope
//! and (in the local header rewrite context) to the headers of SMTP and
//! `sendmail` submissions; the same settings and message as were run
//! through Postfix 3.7, whose queue file held the same sender, recipient
//! and headers.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, submit, ConfigDir, TestServer, EVENT_TIMEOUT};

const SETTINGS: &str = "\
sender_canonical_maps = inline:{ {sender@client.test=rewritten.sender@client.test} }
recipient_canonical_maps = inline:{ {user@mx.spec.test=canon.user@mx.spec.test} }
canonical_maps = inline:{ {a@client.test=common.a@client.test}, {bob@host.example.com=bob2@host.example.com} }
masquerade_domains = !keep.example.com, example.com
masquerade_exceptions = root
";

const MESSAGE: &str = "From: a@client.test\nTo: user@mx.spec.test, carol\nCc: x@host.example.com, root@host.example.com, y@host.keep.example.com\nReply-To: Z <z@deep.host.example.com>\nSubject: t-canon\n\nhi\n";

fn check_headers(m: &str) {
    for want in [
        "\nFrom: common.a@client.test\n",
        "\nTo: canon.user@mx.spec.test, carol@mx.spec.test\n",
        "\nCc: x@example.com, root@host.example.com, y@host.keep.example.com\n",
        "\nReply-To: Z <z@example.com>\n",
    ] {
        assert!(m.contains(want), "{want:?} missing in\n{m}");
    }
}

#[test]
fn smtp_envelope_and_headers_are_rewritten() {
    let dir = ConfigDir::new().expect("config dir");
    let hc = dir
        .file("header_checks", "/^Subject: t-canon/ WARN seen\n")
        .expect("header_checks");
    let srv = dir
        .main_cf(&format!(
            "{SETTINGS}header_checks = regexp:{}",
            hc.display()
        ))
        .expect("main.cf")
        .start(gatepost_bin!())
        .expect("start");
    // 127.0.0.1 is one of our addresses: the local header rewrite context.
    submit(
        &srv,
        "client.test",
        "sender@client.test",
        &["user@mx.spec.test"],
        &MESSAGE.replace('\n', "\r\n"),
    );
    let mail = srv.wait_for_mail("canon.user", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].starts_with("Return-Path: <rewritten.sender@client.test>\n"),
        "{}",
        mail[0]
    );
    check_headers(&mail[0]);
    assert!(
        srv.wait_for_log(
            "to=<canon.user@mx.spec.test>, orig_to=<user@mx.spec.test>",
            EVENT_TIMEOUT
        ),
        "{}",
        srv.log()
    );
    // cleanup's log lines show the envelope as rewritten, as Postfix's.
    assert!(
        srv.wait_for_log(
            ": warning: header Subject: t-canon from unknown[127.0.0.1]; from=<rewritten.sender@client.test> to=<canon.user@mx.spec.test> proto=ESMTP",
            EVENT_TIMEOUT
        ),
        "{}",
        srv.log()
    );
    // The envelope sender is masqueraded after canonical_maps; envelope
    // recipients are not masqueraded by default.
    submit(
        &srv,
        "client.test",
        "bob@host.example.com",
        &["w@mx.spec.test"],
        "Subject: s\r\n\r\nhi\r\n",
    );
    let mail = srv.wait_for_mail("w", 1, Duration::from_secs(10));
    assert!(
        mail[0].starts_with("Return-Path: <bob2@example.com>\n"),
        "{}",
        mail[0]
    );
}

#[test]
fn sendmail_envelope_and_headers_are_rewritten() {
    let srv = TestServer::start(gatepost_bin!(), SETTINGS).expect("start");
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(["sendmail", "-f", "sender@client.test", "user@mx.spec.test"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sendmail");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(MESSAGE.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let mail = srv.wait_for_mail("canon.user", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].starts_with("Return-Path: <rewritten.sender@client.test>\n"),
        "{}",
        mail[0]
    );
    check_headers(&mail[0]);
}
