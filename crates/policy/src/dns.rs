//! The DNS questions the restriction engine asks (postfix-compat §3.7, §3.8),
//! behind the [`DnsChecks`] trait so that a real resolver can be plugged in
//! with [`crate::Policy::with_dns`]. [`SystemDns`] is the default: it uses
//! the system resolver through `tokio::net::lookup_host`, which can only ask
//! for addresses (A/AAAA). It therefore treats a mail domain like a host
//! (no MX, so no nullMX), reports RBL listings without TXT data, and never
//! claims to be a backup MX. Names that fail `valid_hostname` are refused
//! without a query, as Postfix's `dns_lookup()` does.

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr};

use crate::valid_hostname::{valid_hostaddr, valid_hostname};

/// DNS outcome as Postfix classifies it (§3.8).
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
    /// The reply failed name validation (§6.2).
    Inval,
    /// An MX with an empty target.
    NullMx,
    /// A reply filter dropped every record.
    Policy,
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
}

/// The default implementation on top of the system resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemDns;

impl SystemDns {
    async fn addresses(name: &str) -> Result<Vec<IpAddr>, DnsStatus> {
        if !valid_hostname(name) || valid_hostaddr(name) {
            return Err(DnsStatus::NotFound);
        }
        match tokio::net::lookup_host((name, 0u16)).await {
            Ok(addrs) => {
                let v: Vec<IpAddr> = addrs.map(|sa| sa.ip()).collect();
                if v.is_empty() {
                    Err(DnsStatus::NotFound)
                } else {
                    Ok(v)
                }
            }
            Err(e) => {
                // getaddrinfo's EAI_AGAIN text; everything else is "not found".
                let msg = e.to_string().to_ascii_lowercase();
                if msg.contains("temporary failure") || msg.contains("try again") {
                    Err(DnsStatus::Retry)
                } else {
                    Err(DnsStatus::NotFound)
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl DnsChecks for SystemDns {
    async fn host_status(&self, name: &str) -> DnsStatus {
        match Self::addresses(name.strip_suffix('.').unwrap_or(name)).await {
            Ok(_) => DnsStatus::Ok,
            Err(s) => s,
        }
    }

    async fn mail_domain_status(&self, domain: &str) -> DnsStatus {
        self.host_status(domain).await
    }

    async fn rbl_lookup(&self, query: &str) -> RblAnswer {
        match Self::addresses(query).await {
            Ok(addrs) => {
                let v4: Vec<Ipv4Addr> = addrs
                    .into_iter()
                    .filter_map(|a| match a {
                        IpAddr::V4(v4) => Some(v4),
                        IpAddr::V6(_) => None,
                    })
                    .collect();
                if v4.is_empty() {
                    RblAnswer::NotListed
                } else {
                    RblAnswer::Listed {
                        addrs: v4,
                        txt: None,
                    }
                }
            }
            Err(DnsStatus::Retry) => {
                RblAnswer::Error("Host or domain name not found. Name service error".into())
            }
            Err(_) => RblAnswer::NotListed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn system_dns_refuses_invalid_names() {
        let d = SystemDns;
        assert_eq!(d.host_status("bad_name!").await, DnsStatus::NotFound);
        assert_eq!(d.host_status("1.2.3.4").await, DnsStatus::NotFound);
        assert_eq!(d.mx_backup_status("example.com").await, DnsStatus::NotFound);
        assert_eq!(d.rbl_lookup("bad..name").await, RblAnswer::NotListed);
    }
}
