//! Cache throughput for one hot domain: after the first lookup (one query
//! to a loopback test DNS server), N tasks look up the same MX as fast as
//! they can for a few seconds. Run with `bench/dns_cache.sh`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatepost_dns::{Resolver, ResolverSettings};
use gatepost_testkit::dns_server::{DnsServer, Zones};

#[tokio::main]
async fn main() {
    let mut z = Zones::new();
    z.mx("hot.test", 10, "mx.hot.test");
    let dns = DnsServer::start(z).expect("dns server");
    let r = Resolver::new(ResolverSettings {
        nameservers: vec![dns.addr],
        timeout: Duration::from_secs(1),
        attempts: 1,
        use_hosts_file: false,
    });
    assert!(r.mx("hot.test").await.is_found());
    let tasks: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let secs: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (r, count) = (r.clone(), count.clone());
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                for _ in 0..1000 {
                    let _ = r.mx("hot.test").await;
                }
                count.fetch_add(1000, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let n = count.load(Ordering::Relaxed);
    let el = start.elapsed().as_secs_f64();
    println!(
        "{n} lookups of one hot domain in {el:.2}s with {tasks} tasks: {:.0} lookups/s; DNS queries sent: {}",
        n as f64 / el,
        dns.queries()
    );
}
