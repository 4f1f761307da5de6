//! From a destination to the ordered list of server addresses to try
//! (Postfix `smtp_addr.c`): `[host]` skips the MX lookup; otherwise MX
//! records (sorted by preference, equal preferences in random order when
//! `smtp_randomize_addresses = yes`), each MX host's addresses in turn, a
//! numeric MX host used as an address; no MX → the domain's own A/AAAA
//! records; null MX → 5.1.0 `Domain X does not accept mail (nullMX)`;
//! malformed MX → 5.4.4 (or A/AAAA with `ignore_mx_lookup_error = yes`).
//! On port 25 the list is cut at our own preference when we are one of the
//! MX hosts: nothing better left → 5.4.6 `mail for X loops back to myself`
//! (or 4.4.4 `unable to find primary relay for X` when better MX hosts had
//! no address). Lookup problems are ignored while any address is found; a
//! soft error dominates hard ones, as in Postfix.

use std::net::IpAddr;
use std::path::PathBuf;

use rand::seq::SliceRandom;

use crate::smtp::destination::Destination;
use crate::smtp::own_addr::OwnAddresses;
use crate::smtp::resolver::{DnsFailure, MxRecord, Resolver};

/// One server address to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The server's name for `HOST[ADDR]` (MX host, or the literal's text).
    pub host: String,
    pub addr: IpAddr,
    pub port: u16,
    pub pref: u32,
    /// A Unix-domain socket instead of `addr` and `port` (LMTP `unix:`).
    pub socket: Option<SocketPath>,
}

/// A Unix-domain socket: the path as written (for log lines) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocketPath {
    pub shown: String,
    pub path: PathBuf,
}

impl Target {
    /// `host[addr]`, or `host[socket]`.
    pub(crate) fn namaddr(&self) -> String {
        match &self.socket {
            Some(s) => format!("{}[{}]", self.host, s.shown),
            None => format!("{}[{}]", self.host, self.addr),
        }
    }

    /// `host[addr]:port`, the `relay=` value (`host[socket]` for a socket).
    pub(crate) fn relay(&self) -> String {
        match &self.socket {
            Some(_) => self.namaddr(),
            None => format!("{}[{}]:{}", self.host, self.addr, self.port),
        }
    }
}

/// No address to try: the DSN and Postfix's reason text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddrFailure {
    pub dsn: String,
    pub text: String,
}

impl AddrFailure {
    fn new(dsn: &str, text: impl Into<String>) -> AddrFailure {
        AddrFailure {
            dsn: dsn.to_string(),
            text: text.into(),
        }
    }

    pub(crate) fn is_soft(&self) -> bool {
        self.dsn.starts_with('4')
    }
}

/// Accumulates lookup problems; a soft one dominates.
#[derive(Default)]
struct Why {
    failure: Option<AddrFailure>,
}

impl Why {
    fn soft(&self) -> bool {
        self.failure.as_ref().is_some_and(AddrFailure::is_soft)
    }

    fn set(&mut self, soft_dsn: &str, hard_dsn: &str, text: String) {
        let dsn = if self.soft() { soft_dsn } else { hard_dsn };
        self.failure = Some(AddrFailure::new(dsn, text));
    }
}

/// Look up one host (`smtp_addr_one`): an address literal is used as is.
async fn addr_one(
    resolver: &dyn Resolver,
    host: &str,
    pref: u32,
    port: u16,
    why: &mut Why,
) -> Vec<Target> {
    let bare = host
        .strip_prefix("IPv6:")
        .or_else(|| host.strip_prefix("ipv6:"))
        .unwrap_or(host);
    if let Ok(addr) = bare.parse::<IpAddr>() {
        return vec![Target {
            host: bare.to_string(),
            addr,
            port,
            pref,
            socket: None,
        }];
    }
    match resolver.addresses(host).await {
        Ok(addrs) => addrs
            .into_iter()
            .map(|addr| Target {
                host: host.to_string(),
                addr,
                port,
                pref,
                socket: None,
            })
            .collect(),
        Err(DnsFailure::TempFail(t)) => {
            why.set("4.4.3", "4.4.3", t);
            Vec::new()
        }
        Err(DnsFailure::Fail(t)) => {
            why.set("4.4.3", "5.4.3", t);
            Vec::new()
        }
        Err(DnsFailure::Malformed(t)) | Err(DnsFailure::NotFound(t)) => {
            why.set("4.4.4", "5.4.4", t);
            Vec::new()
        }
        Err(DnsFailure::NullMx) => {
            why.set("4.4.4", "5.4.4", format!("{host}: host not found"));
            Vec::new()
        }
    }
}

/// Random order among equal preferences, then by preference.
fn order(mut list: Vec<Target>, randomize: bool) -> Vec<Target> {
    if randomize {
        list.shuffle(&mut rand::thread_rng());
    }
    list.sort_by_key(|t| t.pref);
    list
}

/// `smtp_host_addr`: the host's own addresses.
async fn host_addr(
    resolver: &dyn Resolver,
    dest: &Destination,
    own: &OwnAddresses,
    loop_detect: bool,
    randomize: bool,
) -> Result<Vec<Target>, AddrFailure> {
    let mut why = Why::default();
    let list = addr_one(resolver, &dest.host, 0, dest.port, &mut why).await;
    if list.is_empty() {
        return Err(why.failure.unwrap_or_else(|| {
            AddrFailure::new("5.4.4", format!("{}: host not found", dest.host))
        }));
    }
    if loop_detect && list.iter().any(|t| own.contains(t.addr)) {
        return Err(AddrFailure::new(
            "5.4.6",
            format!("mail for {} loops back to myself", dest.host),
        ));
    }
    Ok(order(list, randomize))
}

/// The ordered server list for `dest`.
pub(crate) async fn resolve_targets(
    resolver: &dyn Resolver,
    dest: &Destination,
    own: &OwnAddresses,
    ignore_mx_lookup_error: bool,
    randomize: bool,
) -> Result<Vec<Target>, AddrFailure> {
    let loop_detect = dest.port == 25;
    if dest.literal {
        return host_addr(resolver, dest, own, loop_detect, randomize).await;
    }
    let mx = match resolver.mx(&dest.host).await {
        Ok(list) if list.is_empty() => {
            return host_addr(resolver, dest, own, loop_detect, randomize).await
        }
        Err(DnsFailure::NotFound(_)) => {
            return host_addr(resolver, dest, own, loop_detect, randomize).await
        }
        Ok(list) => list,
        Err(DnsFailure::NullMx) => {
            return Err(AddrFailure::new(
                "5.1.0",
                format!("Domain {} does not accept mail (nullMX)", dest.host),
            ))
        }
        Err(failure) => {
            let (dsn, text) = match failure {
                DnsFailure::TempFail(t) => ("4.4.3", t),
                DnsFailure::Malformed(t) => ("5.4.4", t),
                DnsFailure::Fail(t) => ("5.4.3", t),
                DnsFailure::NotFound(t) => ("5.4.4", t),
                DnsFailure::NullMx => ("5.1.0", String::new()),
            };
            if ignore_mx_lookup_error {
                return host_addr(resolver, dest, own, loop_detect, randomize).await;
            }
            return Err(AddrFailure::new(dsn, text));
        }
    };
    mx_addr(resolver, dest, own, loop_detect, randomize, mx).await
}

async fn mx_addr(
    resolver: &dyn Resolver,
    dest: &Destination,
    own: &OwnAddresses,
    loop_detect: bool,
    randomize: bool,
    mut mx: Vec<MxRecord>,
) -> Result<Vec<Target>, AddrFailure> {
    // Equal preferences in random order (RFC 5321 §5.1), then by preference.
    if randomize {
        mx.shuffle(&mut rand::thread_rng());
    }
    mx.sort_by_key(|r| r.pref);
    let best_pref = mx.first().map(|r| u32::from(r.pref));
    let mut why = Why::default();
    let mut list = Vec::new();
    for record in &mx {
        list.extend(
            addr_one(
                resolver,
                &record.host,
                u32::from(record.pref),
                dest.port,
                &mut why,
            )
            .await,
        );
    }
    if list.is_empty() {
        gatepost_log::warning(
            "smtp",
            format!("no MX host for {} has a valid address record", dest.host),
        );
        return Err(why.failure.unwrap_or_else(|| {
            AddrFailure::new(
                "4.4.4",
                format!("no MX host for {} has a valid address record", dest.host),
            )
        }));
    }
    let best_found = list.first().map(|t| t.pref);
    if loop_detect {
        if let Some(self_pref) = list.iter().find(|t| own.contains(t.addr)).map(|t| t.pref) {
            list.retain(|t| t.pref < self_pref);
            if list.is_empty() {
                return Err(if best_pref != best_found {
                    AddrFailure::new(
                        "4.4.4",
                        format!("unable to find primary relay for {}", dest.host),
                    )
                } else {
                    AddrFailure::new(
                        "5.4.6",
                        format!("mail for {} loops back to myself", dest.host),
                    )
                });
            }
        }
    }
    // Addresses of one host keep their order; hosts are already ordered.
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::resolver::testing::FakeResolver;

    fn dest(s: &str) -> Destination {
        Destination::parse(s, 25).unwrap()
    }

    fn hosts(list: &[Target]) -> Vec<String> {
        list.iter().map(Target::relay).collect()
    }

    async fn run(r: &FakeResolver, d: &str, own: &[&str]) -> Result<Vec<String>, AddrFailure> {
        resolve_targets(r, &dest(d), &OwnAddresses::of(own), false, false)
            .await
            .map(|l| hosts(&l))
    }

    #[tokio::test]
    async fn literal_and_mx_order() {
        let r = FakeResolver::default()
            .mx("far.test", &[(20, "mx2.far.test"), (10, "mx1.far.test")])
            .host("mx1.far.test", &["127.0.0.2", "127.0.0.3"])
            .host("mx2.far.test", &["127.0.0.4"])
            .host("plain.test", &["127.0.0.5"]);
        assert_eq!(
            run(&r, "[127.0.0.9]:2525", &[]).await,
            Ok(vec!["127.0.0.9[127.0.0.9]:2525".to_string()])
        );
        assert_eq!(
            run(&r, "far.test:2525", &[]).await,
            Ok(vec![
                "mx1.far.test[127.0.0.2]:2525".to_string(),
                "mx1.far.test[127.0.0.3]:2525".to_string(),
                "mx2.far.test[127.0.0.4]:2525".to_string(),
            ])
        );
        // No MX: the domain's own address.
        assert_eq!(
            run(&r, "plain.test", &[]).await,
            Ok(vec!["plain.test[127.0.0.5]:25".to_string()])
        );
        // [host] does no MX lookup.
        assert_eq!(
            run(&r, "[far.test]", &[]).await.map_err(|f| f.dsn),
            Err("5.4.4".to_string())
        );
    }

    #[tokio::test]
    async fn failures() {
        let r = FakeResolver::default()
            .mx("null.test", &[])
            .mx_fail("nullmx.test", DnsFailure::NullMx)
            .mx_fail("bad.test", DnsFailure::Malformed("Name service error for name=bad.test type=MX: Malformed or unexpected name server reply".into()))
            .host("bad.test", &["127.0.0.6"])
            .mx_fail("slow.test", DnsFailure::TempFail("Host or domain name not found. Name service error for name=slow.test type=MX: Host not found, try again".into()))
            .mx("noaddr.test", &[(10, "mx.noaddr.test")])
            .mx("soft.test", &[(10, "a.soft.test"), (20, "b.soft.test")])
            .host_fail("a.soft.test", DnsFailure::TempFail("a: try again".into()))
            .host_fail("b.soft.test", DnsFailure::NotFound("b: not found".into()));
        let fail = |dsn: &str, text: &str| -> Result<Vec<String>, AddrFailure> {
            Err(AddrFailure::new(dsn, text))
        };
        let cases = [
            ("nullmx.test", fail("5.1.0", "Domain nullmx.test does not accept mail (nullMX)")),
            ("bad.test", fail("5.4.4", "Name service error for name=bad.test type=MX: Malformed or unexpected name server reply")),
            ("slow.test", fail("4.4.3", "Host or domain name not found. Name service error for name=slow.test type=MX: Host not found, try again")),
            ("noaddr.test", fail("5.4.4", "Host or domain name not found. Name service error for name=mx.noaddr.test type=A: Host not found")),
            // A soft error dominates later hard ones (the text is the last).
            ("soft.test", fail("4.4.4", "b: not found")),
            ("null.test", fail("5.4.4", "Host or domain name not found. Name service error for name=null.test type=A: Host not found")),
        ];
        for (d, want) in cases {
            assert_eq!(run(&r, d, &[]).await, want, "{d}");
        }
        // ignore_mx_lookup_error = yes falls back to the address records.
        let got =
            resolve_targets(&r, &dest("bad.test"), &OwnAddresses::default(), true, false).await;
        assert_eq!(
            got.map(|l| hosts(&l)),
            Ok(vec!["bad.test[127.0.0.6]:25".to_string()])
        );
    }

    #[tokio::test]
    async fn loops_back_to_myself() {
        let r = FakeResolver::default()
            .mx("me.test", &[(10, "mx.spec.test"), (20, "backup.test")])
            .mx(
                "backup-of.test",
                &[(5, "primary.test"), (10, "mx.spec.test")],
            )
            .mx("secondary.test", &[(5, "gone.test"), (10, "mx.spec.test")])
            .host("mx.spec.test", &["127.0.0.1"])
            .host("backup.test", &["127.0.0.7"])
            .host("primary.test", &["127.0.0.8"]);
        let own = ["127.0.0.1"];
        assert_eq!(
            run(&r, "me.test", &own).await,
            Err(AddrFailure::new(
                "5.4.6",
                "mail for me.test loops back to myself"
            ))
        );
        // We are a backup: only the better MX is tried.
        assert_eq!(
            run(&r, "backup-of.test", &own).await,
            Ok(vec!["primary.test[127.0.0.8]:25".to_string()])
        );
        assert_eq!(
            run(&r, "secondary.test", &own).await,
            Err(AddrFailure::new(
                "4.4.4",
                "unable to find primary relay for secondary.test"
            ))
        );
        assert_eq!(
            run(&r, "[127.0.0.1]", &own).await,
            Err(AddrFailure::new(
                "5.4.6",
                "mail for 127.0.0.1 loops back to myself"
            ))
        );
        // Not on port 25: no loop detection (Postfix SMTP_MISC_FLAG_LOOP_DETECT).
        assert!(run(&r, "me.test:2525", &own).await.is_ok());
    }

    #[tokio::test]
    async fn equal_preferences_are_shuffled() {
        let r = FakeResolver::default()
            .mx(
                "eq.test",
                &[(10, "a.test"), (10, "b.test"), (5, "best.test")],
            )
            .host("a.test", &["127.0.0.2"])
            .host("b.test", &["127.0.0.3"])
            .host("best.test", &["127.0.0.4"]);
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..64 {
            let l = resolve_targets(&r, &dest("eq.test"), &OwnAddresses::default(), false, true)
                .await
                .unwrap();
            assert_eq!(l[0].host, "best.test");
            firsts.insert(l[1].host.clone());
        }
        assert_eq!(firsts.len(), 2);
    }
}
