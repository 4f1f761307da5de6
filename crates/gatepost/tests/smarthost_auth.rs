//! A smarthost with STARTTLS and AUTH, end to end between two real
//! servers on loopback: the sending gatepost relays through `relayhost =
//! [submit.spec.test]:PORT` (a name the test DNS server resolves to
//! 127.0.0.1) at `smtp_tls_security_level = secure`, trusting the test CA
//! through `smtp_tls_CAfile`, and logs in with `smtp_sasl_password_maps`;
//! the receiving gatepost is a submission server
//! (`smtpd_tls_security_level = encrypt`, AUTH required to relay) that
//! stores the login as the message's `AUTH=` identity and passes it on in
//! `MAIL FROM ... AUTH=` after logging in to its own next hop (a test
//! sink). A wrong password defers with the server's reply in the reason.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use gatepost_testkit::config_dir::edit_main_cf;
use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::pki::TestPki;
use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{gatepost_bin, ConfigDir, TestServer};

const WAIT: Duration = Duration::from_secs(20);

/// A test CA (in `ca.pem`) and a certificate for submit.spec.test.
struct Pki {
    pki: TestPki,
}

impl Pki {
    fn new() -> Pki {
        let pki = TestPki::new();
        pki.issue_into(pki.dir(), &["submit.spec.test"]);
        Pki { pki }
    }

    fn path(&self, name: &str) -> String {
        self.pki.dir().join(name).display().to_string()
    }
}

/// `gatepost saslpasswd add USER` with the password on standard input.
fn add_user(srv: &TestServer, user: &str, password: &str) {
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(["saslpasswd", "add", user])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// The submission server: TLS required, relaying only after AUTH, mail
/// for far.test to `sink`, logging in there too.
fn submission_server(pki: &Pki, sink: &Sink) -> TestServer {
    let config = ConfigDir::new().unwrap();
    // The sending server on 127.0.0.1 must log in to relay.
    edit_main_cf(
        config.path(),
        "mynetworks = 127.0.0.1/32",
        "mynetworks = 127.0.0.9/32",
    );
    let sink_hop = format!("[{}]:{}", sink.addr.ip(), sink.port());
    let lines = format!(
        "gatepost_sasl_passwd_file = {dir}/sasl_passwd\n\
         smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n\
         smtpd_tls_security_level = encrypt\nsmtpd_sasl_auth_enable = yes\n\
         smtpd_relay_restrictions = permit_sasl_authenticated, reject\n\
         transport_maps = inline:{{far.test=smtp:{sink_hop}}}\n\
         smtp_sasl_auth_enable = yes\nsmtp_sasl_security_options = noanonymous\n\
         smtp_sasl_password_maps = inline:{{ {{{sink_hop} = relay:pw}} }}\n",
        dir = config.path().display(),
        cert = pki.path("cert.pem"),
        key = pki.path("key.pem"),
    );
    let srv = config
        .main_cf(&lines)
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    add_user(&srv, "alice@spec.test", "s3cret");
    srv
}

/// The sending server: everything through the smarthost.
fn sending_server(
    pki: &Pki,
    dns: &DnsServer,
    submission: &TestServer,
    password: &str,
) -> TestServer {
    let hop = format!("[submit.spec.test]:{}", submission.addr.port());
    TestServer::start(
        gatepost_bin!(),
        &format!(
            "{dns}relayhost = {hop}\n\
             smtp_tls_security_level = secure\nsmtp_tls_CAfile = {ca}\nsmtp_tls_loglevel = 1\n\
             smtp_sasl_auth_enable = yes\nsmtp_sasl_tls_security_options = noanonymous\n\
             smtp_sasl_password_maps = inline:{{ {{{hop} = alice@spec.test:{password}}} }}\n",
            dns = dns.main_cf(),
            ca = pki.path("ca.pem"),
        ),
    )
    .unwrap()
}

fn dns() -> DnsServer {
    let mut zones = Zones::new();
    zones.a("submit.spec.test", "127.0.0.1");
    DnsServer::start(zones).unwrap()
}

fn submit(srv: &TestServer) -> String {
    gatepost_testkit::submit(
        srv,
        "client.spec.test",
        "alice@spec.test",
        &["bob@far.test"],
        "Subject: via the smarthost\nFrom: alice@spec.test\n\nbody\n",
    )
}

#[test]
fn smarthost_with_starttls_and_auth_passes_the_login_on() {
    let pki = Pki::new();
    let dns = dns();
    let sink = Sink::start("127.0.0.6", SinkMode::AuthTwice).unwrap();
    let submission = submission_server(&pki, &sink);
    let sender = sending_server(&pki, &dns, &submission, "s3cret");
    let id = submit(&sender);
    let msgs = sink.wait_for_messages(1, WAIT);
    assert_eq!(
        msgs.len(),
        1,
        "sender log:\n{}\nsubmission log:\n{}",
        sender.log(),
        submission.log()
    );
    // The submission server stored alice's login and passed it on.
    assert!(
        msgs[0]
            .mail_from
            .starts_with("MAIL FROM:<alice@spec.test> SIZE=")
            && msgs[0].mail_from.ends_with(" AUTH=alice@spec.test"),
        "{}",
        msgs[0].mail_from
    );
    assert_eq!(msgs[0].rcpt_to, ["bob@far.test"]);
    let port = submission.addr.port();
    assert!(
        sender.wait_for_log(&format!("{id}: removed"), WAIT),
        "{}",
        sender.log()
    );
    let log = sender.log();
    assert!(
        log.contains(&format!(
            "Verified TLS connection established to submit.spec.test[127.0.0.1]:{port}: TLSv1.3 with cipher "
        )),
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id}: to=<bob@far.test>")))
        .unwrap_or_else(|| panic!("no delivery line:\n{log}"));
    assert!(
        line.contains(&format!("relay=submit.spec.test[127.0.0.1]:{port}")),
        "{line}"
    );
    assert!(
        line.contains("status=sent (250 2.0.0 Ok: queued as "),
        "{line}"
    );
    let sub_log = submission.log();
    assert!(
        sub_log.contains("sasl_method=PLAIN, sasl_username=alice@spec.test"),
        "{sub_log}"
    );
}

#[test]
fn a_wrong_smarthost_password_defers_with_the_servers_reply() {
    let pki = Pki::new();
    let dns = dns();
    let sink = Sink::start("127.0.0.7", SinkMode::AuthTwice).unwrap();
    let submission = submission_server(&pki, &sink);
    let sender = sending_server(&pki, &dns, &submission, "wrong");
    let id = submit(&sender);
    let want = format!(
        "{id}: to=<bob@far.test>, relay=submit.spec.test[127.0.0.1]:{}",
        submission.addr.port()
    );
    assert!(sender.wait_for_log(&want, WAIT), "{}", sender.log());
    let log = sender.log();
    let line = log.lines().find(|l| l.contains(&want)).unwrap_or_default();
    assert!(
        line.ends_with(
            "dsn=4.7.8, status=deferred (SASL authentication failed; server submit.spec.test[127.0.0.1] said: 535 5.7.8 Error: authentication failed: authentication failure)"
        ),
        "{line}"
    );
    assert!(sink.messages().is_empty());
    assert!(submission
        .log()
        .contains("warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: "));
}
