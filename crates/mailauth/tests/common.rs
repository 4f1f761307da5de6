//! Shared set-up: a resolver on the testkit's DNS server.

use std::time::Duration;

use gatepost_dns::{Resolver, ResolverSettings};
use gatepost_testkit::dns_server::{DnsServer, Zones};

pub fn resolver(zones: Zones) -> (DnsServer, Resolver) {
    let dns = DnsServer::start(zones).expect("start DNS server");
    let r = Resolver::new(ResolverSettings {
        nameservers: vec![dns.addr],
        timeout: Duration::from_millis(300),
        attempts: 1,
        use_hosts_file: false,
    });
    (dns, r)
}
