//! Outbound SMTP with MX lookups against the test DNS server:
//! delivery to the best MX host (a sink on 127.0.0.x; the `domain:port`
//! next hop does the MX lookup and uses that port), a null MX bounced at
//! once with 5.1.0, and an MX pointing back at ourselves.

use std::time::Duration;

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{gatepost_bin, TestServer};

const WAIT: Duration = Duration::from_secs(15);

fn submit(srv: &TestServer, rcpt: &str) -> String {
    gatepost_testkit::submit(
        srv,
        "client.spec.test",
        "alice@spec.test",
        &[rcpt],
        "Subject: mx test\n\nbody\n",
    )
}

#[test]
fn delivered_to_best_mx() {
    // The backup listens on the same port number on another address, so
    // either would work: only the preference decides.
    let (best, backup) = Sink::start_pair("127.0.0.7", "127.0.0.8", SinkMode::Accept).unwrap();
    let port = best.port();
    let mut zones = Zones::new();
    zones
        .mx("far.test", 20, "backup.far.test")
        .mx("far.test", 10, "mx.far.test")
        .a("mx.far.test", "127.0.0.7")
        .a("backup.far.test", "127.0.0.8");
    let dns = DnsServer::start(zones).unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "{}transport_maps = inline:{{far.test=smtp:far.test:{port}}}\n",
            dns.main_cf()
        ),
    )
    .unwrap();
    let id = submit(&srv, "bob@far.test");
    assert_eq!(
        best.wait_for_messages(1, WAIT).len(),
        1,
        "log:\n{}",
        srv.log()
    );
    assert!(
        srv.wait_for_log(
            &format!("{id}: to=<bob@far.test>, relay=mx.far.test[127.0.0.7]:{port}"),
            WAIT
        ),
        "log:\n{}",
        srv.log()
    );
    assert!(backup.messages().is_empty());
}

#[test]
fn null_mx_bounces_at_once() {
    let mut zones = Zones::new();
    zones.mx("nullmx.test", 0, ".");
    let dns = DnsServer::start(zones).unwrap();
    let srv = TestServer::start(gatepost_bin!(), &dns.main_cf()).unwrap();
    let id = submit(&srv, "u@nullmx.test");
    assert!(
        srv.wait_for_log(&format!("{id}: to=<u@nullmx.test>, relay=none"), WAIT),
        "log:\n{}",
        srv.log()
    );
    assert!(srv.wait_for_log(
        "dsn=5.1.0, status=bounced (Domain nullmx.test does not accept mail (nullMX))",
        WAIT
    ));
    let mail = srv.wait_for_mail("alice", 1, WAIT);
    assert_eq!(mail.len(), 1, "log:\n{}", srv.log());
    assert!(mail[0].contains("Domain nullmx.test does not accept mail (nullMX)"));
}

#[test]
fn mx_pointing_at_ourselves_loops_back() {
    // Port 25 is where Postfix applies its loop check; nothing connects:
    // the best MX is our own inet_interfaces address.
    let mut zones = Zones::new();
    zones
        .mx("loop.test", 10, "mx.loop.test")
        .a("mx.loop.test", "127.0.0.1");
    let dns = DnsServer::start(zones).unwrap();
    let srv = TestServer::start(gatepost_bin!(), &dns.main_cf()).unwrap();
    submit(&srv, "u@loop.test");
    assert!(
        srv.wait_for_log(
            "dsn=5.4.6, status=bounced (mail for loop.test loops back to myself)",
            WAIT
        ),
        "log:\n{}",
        srv.log()
    );
}
