//! The DNS questions the restriction engine asks (docs/dns.md),
//! behind the [`DnsChecks`] trait so that tests can plug in their own
//! answers with [`crate::Policy::with_dns`]. [`ResolverDns`] is the real
//! implementation on the service's `gatepost_dns::Resolver`: it maps
//! the resolver's outcomes to Postfix's DNS status and combines record
//! types as Postfix's `dns_lookup_l()` does (the most "positive" status
//! wins: OK > POLICY > RETRY > INVAL > FAIL > NULLMX > NOTFOUND). Names
//! that fail `valid_hostname` or are numeric are refused without a query
//! (by the resolver), and validation warnings are logged as `smtpd`.

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr};

use gatepost_dns::{DnsResult, Resolver};

/// DNS outcome as Postfix classifies it (docs/dns.md#outcomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsStatus {
    /// Records found.
    Ok,
    /// NXDOMAIN, or NOERROR without records.
    NotFound,
    /// SERVFAIL, timeout, network error, unparsable reply.
    Retry,
    /// REFUSED, FORMERR, NOTIMP and similar, resolver initialisation failure.
    Fail,
    /// The reply failed name validation (docs/dns.md#names-in-dns-replies).
    Inval,
    /// An MX with an empty target.
    NullMx,
    /// A reply filter dropped every record.
    Policy,
}

impl DnsStatus {
    /// Preference when combining record types: higher wins.
    fn rank(self) -> u8 {
        match self {
            DnsStatus::Ok => 7,
            DnsStatus::Policy => 6,
            DnsStatus::Retry => 5,
            DnsStatus::Inval => 4,
            DnsStatus::Fail => 3,
            DnsStatus::NullMx => 2,
            DnsStatus::NotFound => 1,
        }
    }

    /// The status of one lookup result.
    pub fn of<T>(r: &DnsResult<T>) -> DnsStatus {
        match r {
            DnsResult::Found(_) => DnsStatus::Ok,
            DnsResult::NxDomain(_) | DnsResult::NoData(_) => DnsStatus::NotFound,
            DnsResult::NullMx(_) => DnsStatus::NullMx,
            DnsResult::TempFail(_) => DnsStatus::Retry,
            DnsResult::Fail(_) => DnsStatus::Fail,
            DnsResult::Malformed(_) => DnsStatus::Inval,
        }
    }
}

/// The result of one DNS list query (A records, then TXT when listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RblAnswer {
    /// A records found; `txt` is the joined TXT data (` / ` between strings,
    /// at most 500 characters) when there is any.
    Listed {
        addrs: Vec<Ipv4Addr>,
        txt: Option<String>,
    },
    /// NXDOMAIN or no A record.
    NotListed,
    /// Any other failure, with the reason text (logged, treated as not listed).
    Error(String),
}

/// DNS lookups used by `reject_unknown_*`, `reject_rbl_client`,
/// `reject_rhsbl_*`, `permit_dnswl_client` and `permit_mx_backup`.
#[async_trait::async_trait]
pub trait DnsChecks: Send + Sync + Debug {
    /// A, then AAAA, then MX for a HELO hostname; the first OK wins.
    async fn host_status(&self, name: &str) -> DnsStatus;
    /// MX, then A, then AAAA for a mail domain (stops at OK, INVAL, NULLMX).
    async fn mail_domain_status(&self, domain: &str) -> DnsStatus;
    /// A (and TXT) records of a DNS list query name.
    async fn rbl_lookup(&self, query: &str) -> RblAnswer;
    /// `Ok` when this host is listed as a backup MX for `domain` (and the
    /// primaries are acceptable); `Retry` on temporary DNS failure.
    async fn mx_backup_status(&self, domain: &str) -> DnsStatus {
        let _ = domain;
        DnsStatus::NotFound
    }
    /// The MX or NS host names of `domain` for `check_*_{mx,ns}_access`
    /// (postconf(5) check_client_mx_access): a domain without MX records is its own MX
    /// host; NS records are looked for in parent domains too.
    async fn server_hosts(&self, domain: &str, kind: ServerKind) -> ServerHosts {
        let _ = (domain, kind);
        ServerHosts::Failed("no DNS".to_string())
    }
    /// Addresses of a server host, as the system resolver finds them
    /// (`/etc/hosts`, then DNS).
    async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let _ = host;
        Err("no DNS".to_string())
    }
    /// SPF (RFC 7208) of the sender (or the HELO name for the null sender)
    /// for `reject_spf_*` (docs/mail-auth.md).
    async fn spf(&self, client: IpAddr, helo: &str, sender: &str) -> SpfAnswer {
        let _ = (client, helo, sender);
        SpfAnswer {
            result: "temperror",
            domain: String::new(),
            explanation: None,
        }
    }
}

/// The SPF result a `reject_spf_*` restriction acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfAnswer {
    /// `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`, `permerror`.
    pub result: &'static str,
    /// The domain whose policy decided.
    pub domain: String,
    /// The domain's `exp=` text, when it gave one.
    pub explanation: Option<String>,
}

/// Which servers `check_*_{mx,ns,a}_access` look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Mx,
    Ns,
    A,
}

impl ServerKind {
    pub fn dns_type(self) -> &'static str {
        match self {
            ServerKind::Mx => "MX",
            ServerKind::Ns => "NS",
            ServerKind::A => "A",
        }
    }
}

/// The answer of [`DnsChecks::server_hosts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHosts {
    Hosts(Vec<String>),
    /// The domain has a null MX: nothing to check.
    NullMx,
    /// The lookup failed; the text is Postfix's short DNS error.
    Failed(String),
    /// No NS records in the domain or any parent (Postfix then names the
    /// whole address in its warning).
    NoneFound(String),
}

/// Most characters of TXT data in an RBL reply (`RBL_TXT_LIMIT`).
pub const RBL_TXT_LIMIT: usize = 500;

/// Join TXT strings with ` / `, at most [`RBL_TXT_LIMIT`] characters.
pub fn join_txt(strings: &[String]) -> String {
    strings.join(" / ").chars().take(RBL_TXT_LIMIT).collect()
}

/// [`DnsChecks`] on the real resolver.
#[derive(Debug, Clone)]
pub struct ResolverDns {
    resolver: Resolver,
    /// `$myhostname`, SPF's receiving host (`%{r}`).
    myhostname: String,
}

impl ResolverDns {
    /// Use `resolver`; warnings are logged as `smtpd`.
    pub fn new(resolver: Resolver) -> ResolverDns {
        ResolverDns {
            resolver: resolver.with_program("smtpd"),
            myhostname: String::new(),
        }
    }

    /// The receiving host name SPF macros see (`$myhostname`).
    pub fn with_myhostname(mut self, myhostname: &str) -> ResolverDns {
        self.myhostname = myhostname.to_string();
        self
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }
}

/// Record `s` and return the most significant status seen so far.
fn best(statuses: &mut Vec<DnsStatus>, s: DnsStatus) -> DnsStatus {
    statuses.push(s);
    statuses
        .iter()
        .copied()
        .max_by_key(|s| s.rank())
        .unwrap_or(DnsStatus::NotFound)
}

#[async_trait::async_trait]
impl DnsChecks for ResolverDns {
    async fn spf(&self, client: IpAddr, helo: &str, sender: &str) -> SpfAnswer {
        let check = gatepost_mailauth::SpfCheck {
            client,
            helo,
            sender,
            myhostname: &self.myhostname,
        };
        let v = gatepost_mailauth::check_spf(&self.resolver, &check).await;
        SpfAnswer {
            result: v.result(),
            domain: v.domain().to_string(),
            explanation: v.explanation().map(str::to_string),
        }
    }

    async fn server_hosts(&self, domain: &str, kind: ServerKind) -> ServerHosts {
        let r = &self.resolver;
        let short = |res: &DnsResult<Vec<String>>| match res {
            DnsResult::TempFail(_) => "Host not found, try again".to_string(),
            DnsResult::Fail(_) => "Non-recoverable error".to_string(),
            DnsResult::Malformed(_) => "Malformed or unexpected name server reply".to_string(),
            _ => "Host not found".to_string(),
        };
        match kind {
            ServerKind::A => ServerHosts::Hosts(vec![domain.to_string()]),
            ServerKind::Mx => match r.mx(domain).await {
                DnsResult::Found(mxs) => {
                    ServerHosts::Hosts(mxs.into_iter().map(|m| m.exchange).collect())
                }
                DnsResult::NullMx(_) => ServerHosts::NullMx,
                DnsResult::NxDomain(_) | DnsResult::NoData(_) => {
                    ServerHosts::Hosts(vec![domain.to_string()])
                }
                other => ServerHosts::Failed(short(&other.map(|_| Vec::new()))),
            },
            ServerKind::Ns => {
                let mut d = domain.to_string();
                loop {
                    match r.ns(&d).await {
                        DnsResult::Found(names) => return ServerHosts::Hosts(names),
                        res @ (DnsResult::NxDomain(_) | DnsResult::NoData(_)) => {
                            match d.split_once('.') {
                                Some((_, parent)) if !parent.is_empty() => d = parent.to_string(),
                                _ => return ServerHosts::NoneFound(short(&res)),
                            }
                        }
                        other => return ServerHosts::Failed(short(&other)),
                    }
                }
            }
        }
    }

    async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let r = &self.resolver;
        let mut out: Vec<IpAddr> = Vec::new();
        let v4 = r.a_host_lookup(host).await;
        if let DnsResult::Found(a) = &v4 {
            out.extend(a.iter().map(|x| IpAddr::V4(*x)));
        }
        if let DnsResult::Found(a) = r.aaaa_host_lookup(host).await {
            out.extend(a.into_iter().map(IpAddr::V6));
        }
        if out.is_empty() {
            return Err(match v4 {
                DnsResult::TempFail(_) => "Temporary failure in name resolution".to_string(),
                _ => "Name or service not known".to_string(),
            });
        }
        Ok(out)
    }

    async fn host_status(&self, name: &str) -> DnsStatus {
        let r = &self.resolver;
        let mut seen = Vec::new();
        let a = DnsStatus::of(&r.a(name).await);
        if a == DnsStatus::Ok {
            return a;
        }
        best(&mut seen, a);
        let aaaa = DnsStatus::of(&r.aaaa(name).await);
        if aaaa == DnsStatus::Ok {
            return aaaa;
        }
        best(&mut seen, aaaa);
        let mx = DnsStatus::of(&r.mx(name).await);
        best(&mut seen, mx)
    }

    async fn mail_domain_status(&self, domain: &str) -> DnsStatus {
        let r = &self.resolver;
        let mx = DnsStatus::of(&r.mx(domain).await);
        if matches!(
            mx,
            DnsStatus::Ok | DnsStatus::Inval | DnsStatus::NullMx | DnsStatus::Policy
        ) {
            return mx;
        }
        let mut seen = vec![mx];
        let a = DnsStatus::of(&r.a(domain).await);
        if matches!(a, DnsStatus::Ok | DnsStatus::Inval) {
            return a;
        }
        best(&mut seen, a);
        let aaaa = DnsStatus::of(&r.aaaa(domain).await);
        best(&mut seen, aaaa)
    }

    async fn rbl_lookup(&self, query: &str) -> RblAnswer {
        match self.resolver.a(query).await {
            DnsResult::Found(addrs) => {
                let txt = match self.resolver.txt(query).await {
                    DnsResult::Found(t) if !t.is_empty() => Some(join_txt(&t)),
                    _ => None,
                };
                RblAnswer::Listed { addrs, txt }
            }
            DnsResult::NxDomain(_) | DnsResult::NoData(_) => RblAnswer::NotListed,
            other => RblAnswer::Error(other.reason().unwrap_or_default().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_order() {
        let cases = [
            (
                vec![DnsStatus::NotFound, DnsStatus::Retry],
                DnsStatus::Retry,
            ),
            (
                vec![DnsStatus::Retry, DnsStatus::NotFound],
                DnsStatus::Retry,
            ),
            (
                vec![DnsStatus::NullMx, DnsStatus::NotFound],
                DnsStatus::NullMx,
            ),
            (vec![DnsStatus::Fail, DnsStatus::Inval], DnsStatus::Inval),
            (vec![DnsStatus::Policy, DnsStatus::Retry], DnsStatus::Policy),
        ];
        for (list, want) in cases {
            let mut seen = Vec::new();
            let mut got = DnsStatus::NotFound;
            for s in list {
                got = best(&mut seen, s);
            }
            assert_eq!(got, want);
        }
        assert_eq!(
            DnsStatus::of(&DnsResult::<()>::Malformed("x".into())),
            DnsStatus::Inval
        );
    }

    #[test]
    fn txt_join() {
        assert_eq!(join_txt(&["a".into(), "b".into()]), "a / b");
        assert_eq!(join_txt(&["x".repeat(600)]).len(), RBL_TXT_LIMIT);
    }
}
