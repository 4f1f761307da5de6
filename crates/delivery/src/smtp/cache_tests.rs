//! Connection caching and `inet_protocols` at the agent level, against the
//! testkit's SMTP sinks on 127.0.0.x (real sockets).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatepost_config::{Config, InetProtocols};
use gatepost_queue::{Envelope, EnvelopeRecipient, QueueId};
use gatepost_testkit::sink::{Sink, SinkMode};

use super::resolver::testing::FakeResolver;
use super::*;

fn message(n: u32, to: &str) -> QueuedMessage {
    QueuedMessage {
        id: QueueId::short_form(n, 2),
        envelope: Envelope {
            sender: "alice@spec.test".to_string(),
            recipients: vec![EnvelopeRecipient::new(to)],
            arrival: SystemTime::now(),
            client: "local".to_string(),
            ret: None,
            envid: None,
            filter: None,
        },
        path: std::path::PathBuf::from("/nonexistent"),
        preloaded: Default::default(),
    }
}

fn agent(main_cf: &str, resolver: FakeResolver) -> SmtpAgent {
    let cfg = Config::parse_main_cf(&format!("myhostname = localhost\n{main_cf}"), "main.cf")
        .expect("main.cf");
    SmtpAgent::for_tests(
        SmtpParams::from_config(&cfg).expect("smtp settings"),
        OwnAddresses::default(),
        Arc::new(resolver),
    )
}

async fn send(agent: &SmtpAgent, n: u32, nexthop: &str) -> DeliveryOutcome {
    let to = format!("u{n}@far.test");
    let rcpt = SmtpRcpt {
        index: 0,
        address: to.clone(),
    };
    let mut out = agent
        .deliver(&message(n, &to), b"Subject: hi\n\nbody\n", nexthop, &[rcpt])
        .await;
    out.remove(0)
}

#[tokio::test]
async fn cached_destination_reuses_one_connection() {
    let sink = Sink::start("127.0.0.1", SinkMode::Accept).unwrap();
    let a = agent(
        "smtp_connection_cache_destinations = 127.0.0.1\n",
        FakeResolver::default(),
    );
    let hop = format!("[127.0.0.1]:{}", sink.port());
    let relay = format!("127.0.0.1[127.0.0.1]:{}", sink.port());
    let mut relays = Vec::new();
    for n in 1..=4 {
        let o = send(&a, n, &hop).await;
        assert_eq!(o.status, DeliveryStatus::Sent, "{o:?}");
        relays.push(o.relay);
    }
    assert_eq!(
        relays,
        [
            relay.clone(),
            format!("{relay}, conn_use=2"),
            format!("{relay}, conn_use=3"),
            format!("{relay}, conn_use=4"),
        ]
    );
    assert_eq!(sink.wait_for_messages(4, Duration::from_secs(5)).len(), 4);
    assert_eq!(sink.sessions(), 1);
    assert_eq!(a.cache.len(), 1);
}

#[tokio::test]
async fn on_demand_caching_starts_with_back_to_back_deliveries() {
    let sink = Sink::start("127.0.0.1", SinkMode::Accept).unwrap();
    let a = agent("", FakeResolver::default());
    let hop = format!("[127.0.0.1]:{}", sink.port());
    for n in 1..=5 {
        assert_eq!(send(&a, n, &hop).await.status, DeliveryStatus::Sent);
    }
    // The first delivery closes its connection (no backlog seen yet); the
    // second one starts right after it, turns caching on and keeps its
    // connection for the other three.
    assert_eq!(sink.wait_for_messages(5, Duration::from_secs(5)).len(), 5);
    assert_eq!(sink.sessions(), 2);
    // Off: every delivery has its own connection.
    let sink = Sink::start("127.0.0.1", SinkMode::Accept).unwrap();
    let a = agent(
        "smtp_connection_cache_on_demand = no\n",
        FakeResolver::default(),
    );
    let hop = format!("[127.0.0.1]:{}", sink.port());
    for n in 1..=3 {
        let o = send(&a, n, &hop).await;
        assert!(!o.relay.contains("conn_use"), "{o:?}");
    }
    assert_eq!(sink.sessions(), 3);
}

#[tokio::test]
async fn reuse_count_limit_closes_the_connection() {
    let sink = Sink::start("127.0.0.1", SinkMode::Accept).unwrap();
    let a = agent(
        "smtp_connection_cache_destinations = 127.0.0.1\nsmtp_connection_reuse_count_limit = 2\n",
        FakeResolver::default(),
    );
    let hop = format!("[127.0.0.1]:{}", sink.port());
    let mut uses = Vec::new();
    for n in 1..=5 {
        uses.push(send(&a, n, &hop).await.relay.contains("conn_use"));
    }
    // Made, reused once, reused twice (then QUIT), made again ...
    assert_eq!(uses, [false, true, true, false, true]);
    assert_eq!(sink.sessions(), 2);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_without_a_deferral() {
    let sink = Sink::start("127.0.0.1", SinkMode::DropAfterMessage).unwrap();
    let a = agent(
        "smtp_connection_cache_destinations = 127.0.0.1\n",
        FakeResolver::default(),
    );
    let hop = format!("[127.0.0.1]:{}", sink.port());
    for n in 1..=3 {
        let o = send(&a, n, &hop).await;
        assert_eq!(o.status, DeliveryStatus::Sent, "{o:?}");
        // The RSET probe found the cached connection closed: a new one.
        assert!(!o.relay.contains("conn_use"), "{o:?}");
    }
    assert_eq!(sink.wait_for_messages(3, Duration::from_secs(5)).len(), 3);
    assert_eq!(sink.sessions(), 3);
}

#[tokio::test]
async fn cached_under_the_next_hop_and_reused_by_address() {
    // Two next hops on the same server: a connection cached for one is
    // found by its endpoint for the other.
    let sink = Sink::start("127.0.0.3", SinkMode::Accept).unwrap();
    let port = sink.port();
    let resolver = FakeResolver::default()
        .mx("one.test", &[(10, "mx.shared.test")])
        .mx("two.test", &[(10, "mx.shared.test")])
        .host("mx.shared.test", &["127.0.0.3"]);
    let a = agent(
        "smtp_connection_cache_destinations = one.test, two.test\n",
        resolver,
    );
    let first = send(&a, 1, &format!("one.test:{port}")).await;
    assert_eq!(first.relay, format!("mx.shared.test[127.0.0.3]:{port}"));
    let second = send(&a, 2, &format!("two.test:{port}")).await;
    assert_eq!(
        second.relay,
        format!("mx.shared.test[127.0.0.3]:{port}, conn_use=2")
    );
    assert_eq!(sink.sessions(), 1);
}

#[tokio::test]
async fn ipv4_only_skips_ipv6_addresses() {
    // The MX host has an IPv6 address first; with inet_protocols = ipv4
    // it is never tried (with `all` it would be, and fail first).
    let sink = Sink::start("127.0.0.4", SinkMode::Accept).unwrap();
    let port = sink.port();
    let resolver = || {
        FakeResolver::default()
            .mx("dual.test", &[(10, "mx.dual.test")])
            .host("mx.dual.test", &["::1", "127.0.0.4"])
    };
    let a = agent(
        "inet_protocols = ipv4\nsmtp_address_preference = ipv6\n",
        resolver(),
    );
    assert_eq!(
        a.params.families,
        InetProtocols {
            ipv4: true,
            ipv6: false
        }
    );
    let (_, targets) = a.targets(&format!("dual.test:{port}")).await.ok().unwrap();
    let addrs: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.4"]);
    let o = send(&a, 1, &format!("dual.test:{port}")).await;
    assert_eq!(o.status, DeliveryStatus::Sent, "{o:?}");
    assert_eq!(o.relay, format!("mx.dual.test[127.0.0.4]:{port}"));
    // ipv6 only: the IPv4 address is dropped; `all` with the ipv6
    // preference puts ::1 first.
    let a = agent("inet_protocols = ipv6\n", resolver());
    let (_, targets) = a.targets(&format!("dual.test:{port}")).await.ok().unwrap();
    assert!(targets.iter().all(|t| t.addr.is_ipv6()));
    let a = agent("smtp_address_preference = ipv6\n", resolver());
    let (_, targets) = a.targets(&format!("dual.test:{port}")).await.ok().unwrap();
    let addrs: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(addrs, ["::1", "127.0.0.4"]);
    // Only addresses of a disabled family: the host is not found.
    let a = agent("inet_protocols = ipv4\n", resolver());
    match a.targets("[::1]").await {
        Err(Lookup::Failed(f)) => assert_eq!(f.dsn, "5.4.4"),
        _ => panic!("an IPv6 literal with inet_protocols = ipv4"),
    }
}
