//! Outbound SMTP: the real server delivers to test sinks on other
//! loopback addresses (relayhost and transport_maps next hops), defers on
//! 4xx and delivers on retry, bounces on 5xx with a DSN in the local
//! sender's Maildir, logs Postfix's connect failure and AUTH-twice lines.
//! All traffic stays on 127.0.0.0/8.

use std::time::Duration;

use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{gatepost_bin, TestServer};

const WAIT: Duration = Duration::from_secs(15);

/// Submit one message from alice@spec.test (a local user) to `rcpt`;
/// returns the queue id.
fn submit(srv: &TestServer, rcpt: &str, subject: &str) -> String {
    gatepost_testkit::submit(
        srv,
        "client.spec.test",
        "alice@spec.test",
        &[rcpt],
        &format!("Subject: {subject}\nFrom: alice@spec.test\n\n.leading dot\nbody\n"),
    )
}

fn transport_to(sink: &Sink) -> String {
    format!(
        "transport_maps = inline:{{far.test=smtp:[{}]:{}}}\n",
        sink.addr.ip(),
        sink.port()
    )
}

#[test]
fn delivered_through_relayhost() {
    let sink = Sink::start("127.0.0.2", SinkMode::Accept).unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!("relayhost = [127.0.0.2]:{}\n", sink.port()),
    )
    .unwrap();
    let id = submit(&srv, "bob@far.test", "outbound one");
    let msgs = sink.wait_for_messages(1, WAIT);
    assert_eq!(msgs.len(), 1, "log:\n{}", srv.log());
    assert_eq!(msgs[0].rcpt_to, vec!["bob@far.test"]);
    assert!(
        msgs[0]
            .mail_from
            .starts_with("MAIL FROM:<alice@spec.test> SIZE="),
        "{}",
        msgs[0].mail_from
    );
    assert_eq!(msgs[0].helo, "mx.spec.test");
    assert!(msgs[0].data.contains("Subject: outbound one\r\n"));
    assert!(msgs[0].data.contains("\r\n.leading dot\r\n"));
    let relay = format!("relay=127.0.0.2[127.0.0.2]:{}", sink.port());
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), WAIT),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id}: to=<bob@far.test>")))
        .unwrap_or_else(|| panic!("no delivery line:\n{log}"));
    assert!(line.contains("postfix/smtp["), "{line}");
    assert!(line.contains(&relay), "{line}");
    assert!(
        line.ends_with("dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK0001)"),
        "{line}"
    );
}

#[test]
fn deferred_then_delivered_on_retry() {
    let sink = Sink::start("127.0.0.3", SinkMode::TempFailFirst(1)).unwrap();
    let srv = TestServer::start(gatepost_bin!(), &transport_to(&sink)).unwrap();
    let id = submit(&srv, "bob@far.test", "retry me");
    let deferred = "dsn=4.3.0, status=deferred (host 127.0.0.3[127.0.0.3] said: 451 4.3.0 <bob@far.test>: Temporary lookup failure (in reply to RCPT TO command))";
    assert!(srv.wait_for_log(deferred, WAIT), "log:\n{}", srv.log());
    let msgs = sink.wait_for_messages(1, WAIT);
    assert_eq!(msgs.len(), 1, "log:\n{}", srv.log());
    assert!(srv.wait_for_log("status=sent (250 2.0.0 Ok: queued as SINK0001)", WAIT));
    assert!(srv.wait_for_log(&format!("{id}: removed"), WAIT));
}

#[test]
fn rejected_recipient_bounces_to_local_sender() {
    let sink = Sink::start("127.0.0.4", SinkMode::Reject).unwrap();
    let srv = TestServer::start(gatepost_bin!(), &transport_to(&sink)).unwrap();
    let id = submit(&srv, "nobody@far.test", "doomed");
    let text = "host 127.0.0.4[127.0.0.4] said: 550 5.1.1 <nobody@far.test>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)";
    assert!(
        srv.wait_for_log(&format!("dsn=5.1.1, status=bounced ({text})"), WAIT),
        "log:\n{}",
        srv.log()
    );
    let mail = srv.wait_for_mail("alice", 1, WAIT);
    assert_eq!(mail.len(), 1, "log:\n{}", srv.log());
    assert!(
        mail[0].contains("Undelivered Mail Returned to Sender"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("Status: 5.1.1"), "{}", mail[0]);
    assert!(
        mail[0].contains("Remote-MTA: dns; 127.0.0.4")
            || mail[0].contains("Diagnostic-Code: smtp; 550"),
        "{}",
        mail[0]
    );
    assert!(srv.wait_for_log(&format!("{id}: removed"), WAIT));
    assert!(sink.messages().is_empty());
}

#[test]
fn auth_offered_twice_is_logged_and_delivery_proceeds() {
    let sink = Sink::start("127.0.0.5", SinkMode::AuthTwice).unwrap();
    let srv = TestServer::start(gatepost_bin!(), &transport_to(&sink)).unwrap();
    submit(&srv, "bob@far.test", "auth twice");
    assert_eq!(
        sink.wait_for_messages(1, WAIT).len(),
        1,
        "log:\n{}",
        srv.log()
    );
    assert!(srv.wait_for_log("postfix/smtp", WAIT));
    assert!(
        srv.wait_for_log(
            "warning: 127.0.0.5[127.0.0.5] offered AUTH option multiple times",
            WAIT
        ),
        "log:\n{}",
        srv.log()
    );
    assert!(srv.wait_for_log("status=sent (250 2.0.0 Ok: queued as SINK0001)", WAIT));
}

#[test]
fn connection_refused_is_deferred_with_postfix_text() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.6:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!("transport_maps = inline:{{far.test=smtp:[127.0.0.6]:{port}}}\n"),
    )
    .unwrap();
    let id = submit(&srv, "bob@far.test", "nobody home");
    let text = format!("connect to 127.0.0.6[127.0.0.6]:{port}: Connection refused");
    assert!(
        srv.wait_for_log("relay=none, ", WAIT)
            && srv.wait_for_log(&format!("dsn=4.4.1, status=deferred ({text})"), WAIT),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    assert!(
        log.lines()
            .any(|l| l.contains("postfix/smtp[") && l.ends_with(&format!("]: {text}"))),
        "{log}"
    );
    assert!(
        log.contains(&format!("{id}: to=<bob@far.test>, relay=none")),
        "{log}"
    );
}

#[test]
fn a_dead_destination_is_not_tried_again_until_its_backoff() {
    let port = std::net::TcpListener::bind("127.0.0.6:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "transport_maps = inline:{{far.test=smtp:[127.0.0.6]:{port}}}\nminimal_backoff_time = 60s\nmaximal_backoff_time = 60s\n"
        ),
    )
    .unwrap();
    let first = submit(&srv, "bob@far.test", "first");
    let text = format!("connect to 127.0.0.6[127.0.0.6]:{port}: Connection refused");
    assert!(srv.wait_for_log(&format!("{first}: to=<bob@far.test>, relay=none"), WAIT));
    // The next message for that destination is deferred by the queue
    // manager without a connection attempt, as Postfix's throttled queue.
    let second = submit(&srv, "carol@far.test", "second");
    let suspended = format!("status=deferred (delivery temporarily suspended: {text})");
    assert!(
        srv.wait_for_log(&format!("{second}: to=<carol@far.test>, relay=none"), WAIT),
        "{}",
        srv.log()
    );
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{second}: to=<carol@far.test>")))
        .unwrap();
    assert!(line.contains("postfix/error["), "{line}");
    assert!(line.ends_with(&format!("dsn=4.4.1, {suspended}")), "{line}");
    let attempts = log
        .lines()
        .filter(|l| l.ends_with(&format!("]: {text}")))
        .count();
    assert_eq!(attempts, 1, "one connection attempt only:\n{log}");
}
