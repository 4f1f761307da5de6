//! The resolver: one per set of DNS settings (see [`Resolver::shared`]),
//! holding the name servers, the answer cache and the recent client-name
//! results. Each service builds its own from its settings and carries it;
//! there is no process-wide "current" resolver.
//! Typed lookups (`mx`, `a`, `aaaa`, `a_aaaa`, `ptr`, `txt`) follow
//! Postfix's `dns_lookup()`: names that are invalid or numeric are refused
//! without a query, CNAME chains are followed (at most 10 links), and the
//! validation warnings are logged as `warning: ...` by the program the
//! handle was made for (`smtpd` for policy checks, `smtp` for delivery).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gatepost_config::Config;
use hickory_proto::rr::{Name, RecordType};

use crate::answer::{extract, reason_retry, Data, Step};
use crate::cache::{Cache, CacheStats, Shared};
use crate::hosts::Hosts;
use crate::outcome::{combine_addresses, DnsResult, Mx};
use crate::peer::PeerName;
use crate::settings::{system_nameservers, ResolverSettings};
use crate::transport::exchange;
use gatepost_proto::hostname::{check_hostname_wildcard, valid_hostaddr};

/// Longest time a positive answer is kept.
pub const MAX_TTL: Duration = Duration::from_secs(86_400);
/// Longest time a negative answer (NXDOMAIN, no data) is kept.
pub const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(3_600);
/// Most answers kept at once.
pub const CACHE_ENTRIES: usize = 10_000;
/// Longest CNAME chain followed (Postfix: 10).
const MAX_CNAME_CHAIN: usize = 10;

pub(crate) struct Inner {
    settings: ResolverSettings,
    /// The servers, or why there are none ("initialization failure").
    servers: Result<Vec<SocketAddr>, String>,
    cache: Cache,
    pub(crate) peers: Mutex<HashMap<IpAddr, (PeerName, Instant)>>,
}

/// A handle on the shared resolver, tagged with the program name used for
/// warnings. Cheap to clone.
#[derive(Clone)]
pub struct Resolver {
    pub(crate) inner: Arc<Inner>,
    program: &'static str,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("settings", &self.inner.settings)
            .field("servers", &self.inner.servers)
            .field("program", &self.program)
            .finish()
    }
}

/// The shared resolvers by settings.
type Registry = Mutex<HashMap<ResolverSettings, Arc<Inner>>>;

fn registry() -> &'static Registry {
    static SHARED: OnceLock<Registry> = OnceLock::new();
    SHARED.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Resolver {
    /// A new resolver with its own cache (tests, benchmarks). Servers
    /// come from `settings`, or `/etc/resolv.conf` when it lists none.
    pub fn new(settings: ResolverSettings) -> Resolver {
        let servers = if settings.nameservers.is_empty() {
            system_nameservers()
        } else {
            Ok(settings.nameservers.clone())
        };
        Resolver {
            inner: Arc::new(Inner {
                settings,
                servers,
                cache: Cache::new(CACHE_ENTRIES),
                peers: Mutex::new(HashMap::new()),
            }),
            program: "smtpd",
        }
    }

    /// The process-wide resolver for this configuration: every caller
    /// with the same DNS settings shares one cache. A bad
    /// `dns_nameservers` value is logged and makes every lookup fail
    /// (`Name service initialization failure`), never falls back to the
    /// system name servers.
    pub fn shared(cfg: &Config) -> Resolver {
        let settings = match ResolverSettings::from_config(cfg) {
            Ok(s) => Ok(s),
            Err(e) => {
                gatepost_log::warning("smtpd", &e);
                Err(e.to_string())
            }
        };
        let mut reg = match registry().lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let inner = match settings {
            Ok(settings) => reg
                .entry(settings.clone())
                .or_insert_with(|| Resolver::new(settings).inner)
                .clone(),
            Err(why) => Arc::new(Inner {
                settings: ResolverSettings::default(),
                servers: Err(why),
                cache: Cache::new(CACHE_ENTRIES),
                peers: Mutex::new(HashMap::new()),
            }),
        };
        Resolver {
            inner,
            program: "smtpd",
        }
    }

    /// The same resolver, logging warnings as `program` (`smtpd`, `smtp`).
    pub fn with_program(&self, program: &'static str) -> Resolver {
        Resolver {
            inner: self.inner.clone(),
            program,
        }
    }

    pub fn program(&self) -> &'static str {
        self.program
    }

    pub fn settings(&self) -> &ResolverSettings {
        &self.inner.settings
    }

    /// Cache hit/miss counters.
    pub fn stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// MX records of `domain`, sorted by preference. An MX with the root
    /// as exchange gives `NullMx`; bad exchange names are dropped with
    /// Postfix's warnings, and `Malformed` when none is left.
    pub async fn mx(&self, domain: &str) -> DnsResult<Vec<Mx>> {
        self.lookup(domain, RecordType::MX).await.map(|data| {
            let mut v: Vec<Mx> = data
                .into_iter()
                .filter_map(|d| match d {
                    Data::Mx(mx) => Some(mx),
                    _ => None,
                })
                .collect();
            v.sort_by_key(|m| m.preference);
            v
        })
    }

    /// IPv4 addresses of `name`, from DNS only (as Postfix's dns_lookup:
    /// the restriction checks and the SMTP client never read /etc/hosts).
    pub async fn a(&self, name: &str) -> DnsResult<Vec<Ipv4Addr>> {
        self.a_via(name, false).await
    }

    /// IPv4 addresses as the system's host lookup would find them:
    /// `/etc/hosts` first (when enabled), then DNS. Used for the client
    /// name check, where Postfix calls getaddrinfo().
    pub async fn a_host_lookup(&self, name: &str) -> DnsResult<Vec<Ipv4Addr>> {
        self.a_via(name, true).await
    }

    async fn a_via(&self, name: &str, hosts_first: bool) -> DnsResult<Vec<Ipv4Addr>> {
        self.lookup_via(name, RecordType::A, hosts_first)
            .await
            .map(|data| {
                data.into_iter()
                    .filter_map(|d| match d {
                        Data::A(a) => Some(a),
                        _ => None,
                    })
                    .collect()
            })
    }

    /// IPv6 addresses of `name`, from DNS only.
    pub async fn aaaa(&self, name: &str) -> DnsResult<Vec<Ipv6Addr>> {
        self.aaaa_via(name, false).await
    }

    /// IPv6 addresses, `/etc/hosts` first (see [`Resolver::a_host_lookup`]).
    pub async fn aaaa_host_lookup(&self, name: &str) -> DnsResult<Vec<Ipv6Addr>> {
        self.aaaa_via(name, true).await
    }

    async fn aaaa_via(&self, name: &str, hosts_first: bool) -> DnsResult<Vec<Ipv6Addr>> {
        self.lookup_via(name, RecordType::AAAA, hosts_first)
            .await
            .map(|data| {
                data.into_iter()
                    .filter_map(|d| match d {
                        Data::Aaaa(a) => Some(a),
                        _ => None,
                    })
                    .collect()
            })
    }

    /// A then AAAA: all addresses when either has some, else the more
    /// significant failure (a temporary failure beats "not found").
    pub async fn a_aaaa(&self, host: &str) -> DnsResult<Vec<IpAddr>> {
        let v4 = self
            .a(host)
            .await
            .map(|v| v.into_iter().map(IpAddr::V4).collect());
        let v6 = self
            .aaaa(host)
            .await
            .map(|v| v.into_iter().map(IpAddr::V6).collect());
        combine_addresses(v4, v6)
    }

    /// Reverse (PTR) names of `addr` (`4.3.2.1.in-addr.arpa`, or the
    /// nibble form under `ip6.arpa`).
    /// Like Postfix's getnameinfo() call, `/etc/hosts` is asked first
    /// (when enabled).
    pub async fn ptr(&self, addr: IpAddr) -> DnsResult<Vec<String>> {
        self.lookup_via(&reverse_name(addr), RecordType::PTR, true)
            .await
            .map(|data| {
                data.into_iter()
                    .filter_map(|d| match d {
                        Data::Name(n) => Some(n),
                        _ => None,
                    })
                    .collect()
            })
    }

    /// Name servers (NS records) of `name`.
    pub async fn ns(&self, name: &str) -> DnsResult<Vec<String>> {
        self.lookup(name, RecordType::NS).await.map(|data| {
            data.into_iter()
                .filter_map(|d| match d {
                    Data::Name(n) => Some(n),
                    _ => None,
                })
                .collect()
        })
    }

    /// TXT records of `name`: the first string of each record, with
    /// non-printable bytes as spaces (as Postfix reads them).
    pub async fn txt(&self, name: &str) -> DnsResult<Vec<String>> {
        self.lookup(name, RecordType::TXT).await.map(|data| {
            data.into_iter()
                .filter_map(|d| match d {
                    Data::Txt(t) => Some(t.into_iter().next().unwrap_or_default()),
                    _ => None,
                })
                .collect()
        })
    }

    /// TXT records of `name` with each record's strings joined, as SPF
    /// (RFC 7208 section 3.3) and DKIM keys (RFC 6376 section 3.6.2.2) read them.
    pub async fn txt_joined(&self, name: &str) -> DnsResult<Vec<String>> {
        self.lookup(name, RecordType::TXT).await.map(|data| {
            data.into_iter()
                .filter_map(|d| match d {
                    Data::Txt(t) => Some(t.concat()),
                    _ => None,
                })
                .collect()
        })
    }

    /// One DNS lookup through the cache.
    async fn lookup(&self, name: &str, rtype: RecordType) -> DnsResult<Vec<Data>> {
        self.lookup_via(name, rtype, false).await
    }

    /// One lookup through the hosts file (when `hosts_first` and enabled)
    /// and the cache.
    async fn lookup_via(
        &self,
        name: &str,
        rtype: RecordType,
        hosts_first: bool,
    ) -> DnsResult<Vec<Data>> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if valid_hostaddr(name) || check_hostname_wildcard(name).is_err() {
            return DnsResult::NxDomain(format!(
                "Name service error for {name}: invalid host or domain name"
            ));
        }
        if hosts_first && self.inner.settings.use_hosts_file {
            if let Some(found) = from_hosts(Hosts::system(), name, rtype) {
                return DnsResult::Found(found);
            }
        }
        let servers = match &self.inner.servers {
            Ok(s) => s.clone(),
            Err(_) => return DnsResult::Fail("Name service initialization failure".to_string()),
        };
        let shared: Shared = self
            .inner
            .cache
            .get_or_query(name, rtype, || self.query(servers, name.to_string(), rtype))
            .await;
        (*shared).clone()
    }

    /// Ask the servers, following CNAMEs; returns the outcome and how long
    /// it may be cached.
    async fn query(
        &self,
        servers: Vec<SocketAddr>,
        name: String,
        rtype: RecordType,
    ) -> (DnsResult<Vec<Data>>, Duration) {
        let settings = &self.inner.settings;
        let mut current = name;
        let mut ttl = u32::MAX;
        for _ in 0..MAX_CNAME_CHAIN {
            let Ok(qname) = Name::from_ascii(format!("{current}.")) else {
                let why = format!("Name service error for {current}: invalid host or domain name");
                return (DnsResult::NxDomain(why), Duration::ZERO);
            };
            let reply =
                exchange(&servers, &qname, rtype, settings.timeout, settings.attempts).await;
            let reply = match reply {
                Ok(r) => r,
                Err(_) => {
                    return (
                        DnsResult::TempFail(reason_retry(&current, rtype)),
                        Duration::ZERO,
                    )
                }
            };
            let mut warnings = Vec::new();
            let step = extract(&reply, &current, rtype, &mut warnings);
            for w in warnings {
                gatepost_log::warning(self.program, w);
            }
            match step {
                Step::Done(result, step_ttl) => {
                    let ttl = Duration::from_secs(u64::from(ttl.min(step_ttl)));
                    let cap = match result {
                        DnsResult::Found(_) | DnsResult::NullMx(_) => MAX_TTL,
                        DnsResult::TempFail(_) | DnsResult::Fail(_) => Duration::ZERO,
                        _ => MAX_NEGATIVE_TTL,
                    };
                    return (result, ttl.min(cap));
                }
                Step::Alias(target, step_ttl) => {
                    ttl = ttl.min(step_ttl);
                    current = target;
                }
            }
        }
        gatepost_log::warning(
            self.program,
            format!("dns_lookup: Name server loop for {current}"),
        );
        (
            DnsResult::NxDomain(format!("Name server loop for {current}")),
            Duration::ZERO,
        )
    }
}

/// Answer A/AAAA/PTR from the hosts file.
fn from_hosts(hosts: &Hosts, name: &str, rtype: RecordType) -> Option<Vec<Data>> {
    let found: Vec<Data> = match rtype {
        RecordType::A => hosts
            .addresses(name)?
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(v4) => Some(Data::A(*v4)),
                IpAddr::V6(_) => None,
            })
            .collect(),
        RecordType::AAAA => hosts
            .addresses(name)?
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(v6) => Some(Data::Aaaa(*v6)),
                IpAddr::V4(_) => None,
            })
            .collect(),
        RecordType::PTR => {
            let addr = addr_of_reverse_name(name)?;
            vec![Data::Name(hosts.name_of(addr)?.to_string())]
        }
        _ => return None,
    };
    (!found.is_empty()).then_some(found)
}

/// `4.3.2.1.in-addr.arpa` / nibbles `.ip6.arpa` for `addr`.
pub fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// The address a reverse name stands for (inverse of [`reverse_name`]).
fn addr_of_reverse_name(name: &str) -> Option<IpAddr> {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = rest
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        if o.len() != 4 {
            return None;
        }
        o.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
    }
    let rest = lower.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|n| u8::from_str_radix(n, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.chunks(2).rev().enumerate() {
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(reverse_name(v4), "2.0.0.127.in-addr.arpa");
        assert_eq!(addr_of_reverse_name("2.0.0.127.in-addr.arpa"), Some(v4));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let r = reverse_name(v6);
        assert!(r.starts_with("1.0.0.0."), "{r}");
        assert!(r.ends_with("8.b.d.0.1.0.0.2.ip6.arpa"), "{r}");
        assert_eq!(addr_of_reverse_name(&r), Some(v6));
        assert_eq!(addr_of_reverse_name("x.in-addr.arpa"), None);
    }

    #[test]
    fn hosts_answers() {
        let h = Hosts::parse("127.0.0.1 localhost\n::1 localhost\n");
        assert_eq!(
            from_hosts(&h, "localhost", RecordType::A),
            Some(vec![Data::A(Ipv4Addr::LOCALHOST)])
        );
        assert_eq!(
            from_hosts(&h, "localhost", RecordType::AAAA),
            Some(vec![Data::Aaaa(Ipv6Addr::LOCALHOST)])
        );
        assert_eq!(
            from_hosts(&h, "1.0.0.127.in-addr.arpa", RecordType::PTR),
            Some(vec![Data::Name("localhost".into())])
        );
        assert_eq!(from_hosts(&h, "localhost", RecordType::MX), None);
        assert_eq!(from_hosts(&h, "other", RecordType::A), None);
    }

    #[tokio::test]
    async fn refuses_invalid_and_numeric_names_without_query() {
        // No servers at all: any query would fail with TempFail.
        let r = Resolver::new(ResolverSettings {
            nameservers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: Duration::from_millis(10),
            attempts: 1,
            use_hosts_file: false,
        });
        for name in ["192.0.2.1", "bad_name!", "-x.example", "a..b"] {
            let got = r.mx(name).await;
            assert_eq!(
                got,
                DnsResult::NxDomain(format!(
                    "Name service error for {name}: invalid host or domain name"
                )),
                "{name}"
            );
        }
        assert_eq!(r.stats().misses, 0);
    }
}
