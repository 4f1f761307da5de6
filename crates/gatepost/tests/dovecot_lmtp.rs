//! LMTP delivery into a real Dovecot (Debian's dovecot-lmtpd), started
//! here as an ordinary process with its own configuration: a virtual
//! mailbox domain whose `virtual_transport` is
//! `lmtp:unix:private/dovecot-lmtp` (relative to the queue directory, as in
//! Postfix); one recipient lands in a Maildir, the other is refused by
//! Dovecot at RCPT and bounces on its own; a master.cf service of another
//! name (`dovecot-lmtp unix - - n - - lmtp`) is the same client. Skipped, saying so, when
//! Dovecot or its LMTP server is not installed.

use gatepost_testkit::{gatepost_bin, Client, TestServer, EVENT_TIMEOUT};

mod dovecot_support;
use dovecot_support::{dovecot_lmtp, start_dovecot_for_server, the_stored_message};

#[test]
fn lmtp_into_a_real_dovecot_maildir() {
    let Some(dovecot) = dovecot_lmtp() else {
        eprintln!("dovecot-lmtpd is not installed: skipping the Dovecot LMTP test");
        return;
    };
    let srv = TestServer::start(
        gatepost_bin!(),
        "virtual_mailbox_domains = mail.example\n\
         virtual_mailbox_maps = inline:{bob@mail.example=bob, nobody@mail.example=nobody}\n\
         virtual_transport = lmtp:unix:private/dovecot-lmtp\n",
    )
    .unwrap();
    let (dovecot_dir, _dovecot) =
        start_dovecot_for_server(dovecot, srv.dir.path(), &["bob@mail.example"]);

    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.spec.test").unwrap();
    assert_eq!(c.command("MAIL FROM:<alice@spec.test>").unwrap().code, 250);
    for rcpt in ["bob@mail.example", "nobody@mail.example"] {
        let r = c.command(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert_eq!(r.code, 250, "{r:?}");
    }
    let r = c
        .send_message("Subject: through lmtp\nFrom: alice@spec.test\n\nhello dovecot\n")
        .unwrap();
    let id = r.last_line().rsplit(' ').next().unwrap().to_string();
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), EVENT_TIMEOUT),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    let line = |rcpt: &str| {
        log.lines()
            .find(|l| l.contains(&format!("{id}: to=<{rcpt}>")))
            .unwrap_or_else(|| panic!("no delivery line for {rcpt}:\n{log}"))
            .to_string()
    };
    let bob = line("bob@mail.example");
    assert!(bob.contains("postfix/lmtp["), "{bob}");
    assert!(
        bob.contains("relay=mx.spec.test[private/dovecot-lmtp], "),
        "{bob}"
    );
    assert!(
        bob.contains("dsn=2.0.0, status=sent (250 2.0.0 <bob@mail.example> "),
        "{bob}"
    );
    assert!(bob.ends_with(" Saved)"), "{bob}");
    let nobody = line("nobody@mail.example");
    assert!(
        nobody.contains(
            "dsn=5.1.1, status=bounced (host mx.spec.test[private/dovecot-lmtp] said: 550 5.1.1 \
             <nobody@mail.example> User doesn't exist: nobody@mail.example (in reply to RCPT TO command))"
        ),
        "{nobody}"
    );
    let text = the_stored_message(dovecot_dir.path(), "bob");
    assert!(text.contains("Subject: through lmtp"), "{text}");
    assert!(text.contains("hello dovecot"), "{text}");
}

#[test]
fn lmtp_through_a_custom_named_master_cf_service() {
    let Some(dovecot) = dovecot_lmtp() else {
        eprintln!("dovecot-lmtpd is not installed: skipping the Dovecot LMTP test");
        return;
    };
    let config = gatepost_testkit::ConfigDir::new()
        .unwrap()
        .main_cf(
            "virtual_mailbox_domains = mail.example\n\
             virtual_mailbox_maps = inline:{bob@mail.example=bob}\n\
             virtual_transport = dovecot-lmtp:unix:private/dovecot-lmtp\n",
        )
        .unwrap();
    let master = std::fs::read_to_string(config.path().join("master.cf")).unwrap();
    config
        .file(
            "master.cf",
            &format!("{master}dovecot-lmtp unix - - n - - lmtp\n"),
        )
        .unwrap();
    let srv = config.start(gatepost_bin!()).unwrap();
    let (_dovecot_dir, _dovecot) =
        start_dovecot_for_server(dovecot, srv.dir.path(), &["bob@mail.example"]);
    let id = gatepost_testkit::submit(
        &srv,
        "client.spec.test",
        "alice@spec.test",
        &["bob@mail.example"],
        "Subject: custom service\n\nhello\n",
    );
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), EVENT_TIMEOUT),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id}: to=<bob@mail.example>")))
        .unwrap_or_else(|| panic!("no delivery line:\n{log}"));
    assert!(line.contains("postfix/lmtp["), "{line}");
    assert!(
        line.contains("relay=mx.spec.test[private/dovecot-lmtp], "),
        "{line}"
    );
    assert!(
        line.contains("status=sent (250 2.0.0 <bob@mail.example> "),
        "{line}"
    );
    assert!(!log.contains("is not implemented by gatepost"), "{log}");
}
