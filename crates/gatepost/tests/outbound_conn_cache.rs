//! SMTP connection caching through the real server: messages for one
//! destination travel over one connection, and the delivery lines carry
//! Postfix's `conn_use=N` right after `relay=`. All traffic stays on
//! 127.0.0.0/8.

use std::time::Duration;

use gatepost_testkit::sink::{Sink, SinkMode};
use gatepost_testkit::{gatepost_bin, TestServer};

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn one_connection_carries_the_messages_of_a_cached_destination() {
    let sink = Sink::start("127.0.0.6", SinkMode::Accept).unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "relayhost = [127.0.0.6]:{}\n\
             smtp_connection_cache_destinations = 127.0.0.6\n\
             smtp_connection_cache_time_limit = 60s\n",
            sink.port()
        ),
    )
    .unwrap();
    let mut ids = Vec::new();
    for n in 1..=3 {
        let id = gatepost_testkit::submit(
            &srv,
            "client.spec.test",
            "alice@spec.test",
            &["bob@far.test"],
            &format!("Subject: cached {n}\n\nbody\n"),
        );
        assert!(
            srv.wait_for_log(&format!("{id}: removed"), WAIT),
            "log:\n{}",
            srv.log()
        );
        ids.push(id);
    }
    assert_eq!(sink.wait_for_messages(3, WAIT).len(), 3);
    assert_eq!(sink.sessions(), 1, "log:\n{}", srv.log());
    let log = srv.log();
    let relay = format!("relay=127.0.0.6[127.0.0.6]:{}", sink.port());
    for (n, id) in ids.iter().enumerate() {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{id}: to=<bob@far.test>")))
            .unwrap_or_else(|| panic!("no delivery line:\n{log}"));
        let want = match n {
            0 => format!("{relay}, delay="),
            n => format!("{relay}, conn_use={}, delay=", n + 1),
        };
        assert!(line.contains(&want), "{line}");
        assert!(line.contains(", dsn=2.0.0, status=sent ("), "{line}");
    }
}
