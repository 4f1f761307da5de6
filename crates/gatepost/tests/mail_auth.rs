//! Built-in mail authentication (docs/mail-auth.md) through the real
//! server, with the testkit's DNS server serving the SPF, DKIM and DMARC
//! records: the `reject_spf_*` restrictions with their replies and log
//! lines, `Authentication-Results:` on received mail, DMARC reject and
//! quarantine (`gatepost_dmarc_enforce`), and DKIM signing of mail from
//! `$mynetworks` with a key from `gatepost dkim keygen`, verified again
//! by mail-auth through gatepost's resolver.

use std::io::Write;
use std::time::Duration;

use gatepost_testkit::client::Client;
use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, run_cases, ConfigDir, TestServer};

mod receiver_support;
use receiver_support::{verify_as_receiver, Receiver};

/// A server elsewhere receiving what this one signed.
const REMOTE: Receiver = Receiver {
    client: "192.0.2.1",
    helo: "mx.spec.test",
    sender: "alice@signed.test",
    myhostname: "mx.remote.test",
};

fn zones() -> Zones {
    let mut z = Zones::new();
    z.txt("pass.test", "v=spf1 ip4:127.0.0.2 -all")
        .txt("fail.test", "v=spf1 -all")
        .txt("soft.test", "v=spf1 ~all")
        .a("none.test", "127.0.0.20")
        .servfail("temp.test")
        .txt("perm.test", "v=spf1 include:missing.test -all")
        .txt("forged.test", "v=spf1 -all")
        .txt("_dmarc.forged.test", "v=DMARC1; p=reject")
        .txt("held.test", "v=spf1 -all")
        .txt("_dmarc.held.test", "v=DMARC1; p=quarantine");
    z
}

fn start(zones: Zones, config: ConfigDir, extra: &str) -> (DnsServer, TestServer) {
    let dns = DnsServer::start(zones).unwrap();
    let cf = format!(
        "{}dns_query_timeout = 1s\ndns_query_attempts = 1\n{extra}",
        dns.main_cf()
    );
    let srv = config.main_cf(&cf).unwrap().start(gatepost_bin!()).unwrap();
    (dns, srv)
}

fn assert_log(srv: &TestServer, needles: &[&str]) {
    for n in needles {
        assert!(
            srv.wait_for_log(n, Duration::from_secs(5)),
            "missing log line {n:?}\n--- log ---\n{}",
            srv.log()
        );
    }
}

fn rcpt_from(sender: &'static str, want: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("", "220 "),
        ("EHLO client.test", "250 "),
        (sender, "250 2.1.0 Ok"),
        ("RCPT TO:<bob@spec.test>", want),
    ]
}

#[test]
fn spf_restrictions() {
    let (_dns, srv) = start(
        zones(),
        ConfigDir::new().unwrap(),
        "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, \
         reject_spf_fail, defer_spf_temperror, reject_spf_permerror\n",
    );
    run_cases(&srv, vec![
        ("pass", "127.0.0.2", rcpt_from("MAIL FROM:<a@pass.test>", "250 2.1.5 Ok")),
        ("fail", "127.0.0.2", rcpt_from("MAIL FROM:<a@fail.test>",
            "550 5.7.23 <a@fail.test>: Sender address rejected: SPF fail: 127.0.0.2 is not allowed to send mail for fail.test")),
        ("softfail is left to later restrictions", "127.0.0.2",
            rcpt_from("MAIL FROM:<a@soft.test>", "250 2.1.5 Ok")),
        ("none", "127.0.0.2", rcpt_from("MAIL FROM:<a@none.test>", "250 2.1.5 Ok")),
        ("temperror", "127.0.0.2", rcpt_from("MAIL FROM:<a@temp.test>",
            "451 4.7.24 <a@temp.test>: Sender address rejected: SPF temporary error for temp.test")),
        ("permerror", "127.0.0.2", rcpt_from("MAIL FROM:<a@perm.test>",
            "550 5.7.24 <a@perm.test>: Sender address rejected: SPF permanent error in the policy of perm.test")),
        ("mynetworks is not checked", "127.0.0.1",
            rcpt_from("MAIL FROM:<a@fail.test>", "250 2.1.5 Ok")),
    ]);
    assert_log(&srv, &[
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 550 5.7.23 <a@fail.test>: Sender address rejected: SPF fail: 127.0.0.2 is not allowed to send mail for fail.test; from=<a@fail.test> to=<bob@spec.test> proto=ESMTP helo=<client.test>",
        "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 451 4.7.24 <a@temp.test>: Sender address rejected: SPF temporary error for temp.test; from=<a@temp.test> to=<bob@spec.test> proto=ESMTP helo=<client.test>",
    ]);
}

#[test]
fn softfail_in_sender_restrictions() {
    let (_dns, srv) = start(
        zones(),
        ConfigDir::new().unwrap(),
        "smtpd_sender_restrictions = reject_spf_fail, reject_spf_softfail\n",
    );
    run_cases(&srv, vec![
        ("softfail", "127.0.0.2", rcpt_from("MAIL FROM:<a@soft.test>",
            "550 5.7.23 <a@soft.test>: Sender address rejected: SPF softfail: 127.0.0.2 is not allowed to send mail for soft.test")),
        ("pass", "127.0.0.2", rcpt_from("MAIL FROM:<a@pass.test>", "250 2.1.5 Ok")),
    ]);
}

/// Send one message from `client`; the reply to the final dot.
fn send(srv: &TestServer, client: &str, sender: &str, message: &str) -> String {
    let mut c = Client::connect_from(client, srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.test").unwrap();
    assert!(c.command(&format!("MAIL FROM:<{sender}>")).unwrap().code == 250);
    assert!(c.command("RCPT TO:<bob@spec.test>").unwrap().code == 250);
    c.send_message(message).unwrap().last_line().to_string()
}

fn message(from: &str) -> String {
    format!(
        "From: {from}\nTo: bob@spec.test\nSubject: test\nDate: Wed, 02 Dec 2026 02:00:00 +0000\nMessage-ID: <{from}.1>\n\nHello\n"
    )
}

#[test]
fn authentication_results_and_dmarc_reject() {
    let (_dns, srv) = start(
        zones(),
        ConfigDir::new().unwrap(),
        "gatepost_mail_auth_verify = yes\ngatepost_dmarc_enforce = yes\n",
    );
    let reply = send(&srv, "127.0.0.2", "a@pass.test", &message("a@pass.test"));
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].contains("\nAuthentication-Results: mx.spec.test;\n\tspf=pass"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("smtp.mailfrom=a@pass.test"), "{}", mail[0]);
    assert!(
        mail[0].contains(
            ";\n\tdmarc=none header.from=pass.test policy.dmarc=none\nReceived: from client.test"
        ),
        "{}",
        mail[0]
    );

    let reply = send(
        &srv,
        "127.0.0.2",
        "ceo@forged.test",
        &message("ceo@forged.test"),
    );
    assert_eq!(
        reply,
        "550 5.7.1 Email rejected per DMARC policy for forged.test"
    );
    assert_log(&srv, &[
        ": reject: END-OF-MESSAGE from unknown[127.0.0.2]: 550 5.7.1 Email rejected per DMARC policy for forged.test; from=<ceo@forged.test> to=<bob@spec.test> proto=ESMTP helo=<client.test>",
    ]);
}

#[test]
fn dmarc_quarantine_holds() {
    let (_dns, srv) = start(
        zones(),
        ConfigDir::new().unwrap(),
        "gatepost_mail_auth_verify = yes\ngatepost_dmarc_enforce = quarantine\n",
    );
    // p=reject is held too when the operator chose quarantine.
    for from in ["ceo@held.test", "ceo@forged.test"] {
        let reply = send(&srv, "127.0.0.2", from, &message(from));
        assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    }
    assert_log(&srv, &[
        ": hold: END-OF-MESSAGE from unknown[127.0.0.2]: DMARC policy quarantine for held.test; from=<ceo@held.test> to=<bob@spec.test> proto=ESMTP helo=<client.test>",
        ": hold: END-OF-MESSAGE from unknown[127.0.0.2]: DMARC policy quarantine for forged.test;",
    ]);
    let held = std::fs::read_dir(srv.path().join("spool/hold")).map_or(0, |d| d.count());
    assert_eq!(held, 2, "{}", srv.log());
}

#[test]
fn dkim_signing_with_a_generated_key() {
    let config = ConfigDir::new().unwrap();
    let keys = config.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let run = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(config.path())
        .args(["dkim", "keygen", "signed.test", "sel1", "--directory"])
        .arg(&keys)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        out.contains("sel1._domainkey.signed.test. IN TXT ( \"v=DKIM1; k=rsa; p="),
        "{out}"
    );
    let key_file = keys.join("sel1.signed.test.key");
    assert!(key_file.is_file(), "{out}");
    // The record as keygen printed it, strings joined.
    let record: String = out
        .lines()
        .find(|l| l.contains(" IN TXT "))
        .unwrap()
        .split('"')
        .skip(1)
        .step_by(2)
        .collect();
    let mut z = zones();
    z.txt("sel1._domainkey.signed.test", &record)
        .txt("_dmarc.signed.test", "v=DMARC1; p=reject")
        .txt("signed.test", "v=spf1 -all");
    config
        .file(
            "dkim_keys",
            &format!("signed.test sel1:{}\n", key_file.display()),
        )
        .unwrap();
    let table = config.path().join("dkim_keys");
    let (dns, srv) = start(
        z,
        config,
        &format!(
            "gatepost_dkim_signing_keys = texthash:{}\n",
            table.display()
        ),
    );
    let reply = send(
        &srv,
        "127.0.0.1",
        "alice@signed.test",
        &message("alice@signed.test"),
    );
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].contains("\nDKIM-Signature: v=1; a=rsa-sha256; s=sel1; d=signed.test;"),
        "{}",
        mail[0]
    );

    let result = verify_as_receiver(&dns, &REMOTE, &mail[0]);
    assert_eq!(
        (result.dkim, result.dmarc),
        ("pass", "pass"),
        "{}",
        result.header
    );

    // A local submission (sendmail, pickup) is signed as well.
    let mut child = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(["sendmail", "-t", "-i"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message("alice@signed.test").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mail = srv.wait_for_mail("bob", 2, Duration::from_secs(10));
    assert_eq!(mail.len(), 2, "{}", srv.log());
    let local = mail.iter().find(|m| m.contains("from userid")).unwrap();
    assert!(
        local.contains("\nDKIM-Signature: v=1; a=rsa-sha256; s=sel1; d=signed.test;"),
        "{local}"
    );
    let result = verify_as_receiver(&dns, &REMOTE, local);
    assert_eq!(
        (result.dkim, result.dmarc),
        ("pass", "pass"),
        "{}",
        result.header
    );
}

/// Verify `mail` as a receiving server would: SPF fails (`-all`), DKIM
/// passes, so DMARC passes.
#[test]
fn policy_test_answers_spf_from_a_fact() {
    let config = ConfigDir::new()
        .unwrap()
        .main_cf(
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, reject_spf_fail\n",
        )
        .unwrap();
    let run = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(config.path())
        .args([
            "policy-test",
            "--no-dns",
            "--fact",
            "spf:fail.test=fail",
            "--client",
            "192.0.2.7",
            "--helo",
            "client.test",
            "--sender",
            "a@fail.test",
            "--recipient",
            "bob@spec.test",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(4), "{out}");
    assert!(
        out.contains("dns: SPF for fail.test from 192.0.2.7 => fail (--fact)"),
        "{out}"
    );
    assert!(
        out.contains("result: 550 5.7.23 <a@fail.test>: Sender address rejected: SPF fail: 192.0.2.7 is not allowed to send mail for fail.test"),
        "{out}"
    );
}
