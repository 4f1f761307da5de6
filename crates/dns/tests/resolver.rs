//! The resolver against a real DNS server on a loopback port (testkit
//! `dns_server`): every outcome, CNAME chains, the cache and its
//! coalescing, and client-name resolution.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use gatepost_dns::{DnsResult, Mx, PeerStatus, Resolver, ResolverSettings};
use gatepost_testkit::dns_server::{DnsServer, Zones};

fn setup() -> (DnsServer, Resolver) {
    let mut z = Zones::new();
    z.a("a-only.test", "127.0.0.10")
        .aaaa("v6.test", "2001:db8::1")
        .mx("mx.test", 20, "b.mx.test")
        .mx("mx.test", 10, "a.mx.test")
        .mx("numeric-mx.test", 10, "192.0.2.1")
        .mx("malformed-mx.test", 10, "-bad.test")
        .mx("mixed-mx.test", 10, "-bad.test")
        .mx("mixed-mx.test", 20, "good.test")
        .mx("null-mx.test", 0, ".")
        .cname("alias.test", "a-only.test")
        .cname("loop1.test", "loop2.test")
        .cname("loop2.test", "loop1.test")
        .txt("a-only.test", "hello\tworld")
        .servfail("servfail.test")
        .refused("refused.test")
        .no_answer("timeout.test")
        .ptr("127.0.0.2", "client.test")
        .a("client.test", "127.0.0.2")
        .ptr("127.0.0.3", "forged.test")
        .a("forged.test", "127.0.0.9")
        .servfail("6.0.0.127.in-addr.arpa");
    let dns = DnsServer::start(z).unwrap();
    let r = Resolver::new(ResolverSettings {
        nameservers: vec![dns.addr],
        timeout: Duration::from_millis(300),
        attempts: 1,
        use_hosts_file: false,
    });
    (dns, r)
}

#[tokio::test]
async fn outcomes() {
    let (dns, r) = setup();
    assert_eq!(
        r.mx("mx.test").await,
        DnsResult::Found(vec![
            Mx {
                preference: 10,
                exchange: "a.mx.test".into()
            },
            Mx {
                preference: 20,
                exchange: "b.mx.test".into()
            },
        ])
    );
    assert_eq!(
        r.a("a-only.test.").await,
        DnsResult::Found(vec!["127.0.0.10".parse().unwrap()])
    );
    assert_eq!(
        r.mx("a-only.test").await,
        DnsResult::NoData("Host or domain name not found. Name service error for name=a-only.test type=MX: Host found but no data record of requested type".into())
    );
    assert_eq!(
        r.a("nx.test").await,
        DnsResult::NxDomain("Host or domain name not found. Name service error for name=nx.test type=A: Host not found".into())
    );
    assert_eq!(
        r.mx("null-mx.test").await,
        DnsResult::NullMx("Domain null-mx.test does not accept mail (nullMX)".into())
    );
    assert_eq!(
        r.mx("numeric-mx.test").await,
        DnsResult::Found(vec![Mx {
            preference: 10,
            exchange: "192.0.2.1".into()
        }])
    );
    assert_eq!(
        r.mx("malformed-mx.test").await,
        DnsResult::Malformed("Name service error for name=malformed-mx.test type=MX: Malformed or unexpected name server reply".into())
    );
    assert_eq!(
        r.mx("mixed-mx.test").await,
        DnsResult::Found(vec![Mx {
            preference: 20,
            exchange: "good.test".into()
        }])
    );
    assert_eq!(
        r.a("servfail.test").await,
        DnsResult::TempFail("Host or domain name not found. Name service error for name=servfail.test type=A: Host not found, try again".into())
    );
    assert_eq!(
        r.a("refused.test").await,
        DnsResult::Fail("Host or domain name not found. Name service error for name=refused.test type=A: Non-recoverable error".into())
    );
    let t = Instant::now();
    assert!(matches!(r.a("timeout.test").await, DnsResult::TempFail(_)));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(
        r.a("alias.test").await,
        DnsResult::Found(vec!["127.0.0.10".parse().unwrap()])
    );
    assert!(
        matches!(r.a("loop1.test").await, DnsResult::NxDomain(why) if why == "Name server loop for loop1.test")
    );
    assert_eq!(
        r.txt("a-only.test").await,
        DnsResult::Found(vec!["hello world".into()])
    );
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(r.a_aaaa("v6.test").await, DnsResult::Found(vec![v6]));
    assert!(matches!(
        r.a_aaaa("servfail.test").await,
        DnsResult::TempFail(_)
    ));
    assert!(dns.queries() > 0);
}

#[tokio::test]
async fn cache_and_coalescing() {
    let (dns, r) = setup();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move { r.mx("mx.test").await }));
    }
    for t in tasks {
        assert!(t.await.unwrap().is_found());
    }
    assert!(r.mx("MX.test").await.is_found());
    assert!(r.a("nx.test").await.is_not_found());
    assert!(r.a("nx.test").await.is_not_found());
    assert_eq!(
        dns.queries(),
        2,
        "one query for MX, one for the negative answer"
    );
    // Temporary failures are not kept.
    r.a("servfail.test").await;
    r.a("servfail.test").await;
    assert_eq!(dns.queries(), 4);
}

#[tokio::test]
async fn peer_names() {
    let (_dns, r) = setup();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let p = r.peer_name(ip("127.0.0.2")).await;
    assert_eq!(
        (p.name.as_str(), p.name_status),
        ("client.test", PeerStatus::Ok)
    );
    let p = r.peer_name(ip("127.0.0.3")).await;
    assert_eq!(
        (p.name.as_str(), p.name_status),
        ("unknown", PeerStatus::Forged)
    );
    assert_eq!(
        (p.reverse_name.as_str(), p.reverse_status),
        ("forged.test", PeerStatus::Ok)
    );
    let p = r.peer_name(ip("127.0.0.5")).await;
    assert_eq!(
        (p.reverse_name.as_str(), p.reverse_status),
        ("unknown", PeerStatus::Perm)
    );
    let p = r.peer_name(ip("127.0.0.6")).await;
    assert_eq!(
        (p.name_status, p.reverse_status),
        (PeerStatus::Temp, PeerStatus::Temp)
    );
    assert_eq!(r.recent_peer(ip("127.0.0.6")), Some(p));
    assert_eq!(r.recent_peer(ip("127.0.0.7")), None);
}
