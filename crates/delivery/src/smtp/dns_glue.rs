//! The production [`Resolver`]: gatepost-dns (hickory, with Postfix's MX
//! validation and its `numeric domain name ...` / `malformed domain name
//! ...` warnings logged as `smtp`), shared with the rest of the process
//! and configured by `dns_nameservers` or `/etc/resolv.conf`. Outcomes map
//! to Postfix's classes: NXDOMAIN and no data → not found, nullMX, retry,
//! fail, malformed (`DNS_INVAL`). Address lookups ask only for the
//! families of `inet_protocols` (no AAAA query with `ipv4`).

use std::net::IpAddr;

use gatepost_config::{Config, InetProtocols};
use gatepost_dns::DnsResult;

use crate::smtp::resolver::{DnsFailure, MxRecord, Resolver};

#[derive(Debug, Clone)]
pub(crate) struct DnsResolver {
    inner: gatepost_dns::Resolver,
    /// `inet_protocols`: only A records for `ipv4`, only AAAA for `ipv6`.
    families: InetProtocols,
}

impl DnsResolver {
    pub(crate) fn from_config(cfg: &Config) -> DnsResolver {
        DnsResolver {
            inner: gatepost_dns::Resolver::shared(cfg).with_program("smtp"),
            families: cfg.inet_protocols().unwrap_or_default(),
        }
    }
}

fn failure<T>(result: DnsResult<T>) -> DnsFailure {
    match result {
        DnsResult::Found(_) => DnsFailure::TempFail("unexpected lookup result".to_string()),
        DnsResult::NxDomain(r) | DnsResult::NoData(r) => DnsFailure::NotFound(r),
        DnsResult::NullMx(_) => DnsFailure::NullMx,
        DnsResult::TempFail(r) => DnsFailure::TempFail(r),
        DnsResult::Fail(r) => DnsFailure::Fail(r),
        DnsResult::Malformed(r) => DnsFailure::Malformed(r),
    }
}

#[async_trait::async_trait]
impl Resolver for DnsResolver {
    async fn mx(&self, domain: &str) -> Result<Vec<MxRecord>, DnsFailure> {
        match self.inner.mx(domain).await {
            DnsResult::Found(list) => Ok(list
                .into_iter()
                .map(|mx| MxRecord {
                    pref: mx.preference,
                    host: mx.exchange,
                })
                .collect()),
            other => Err(failure(other)),
        }
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        let found = match (self.families.ipv4, self.families.ipv6) {
            (true, false) => self
                .inner
                .a(host)
                .await
                .map(|v| v.into_iter().map(IpAddr::V4).collect()),
            (false, true) => self
                .inner
                .aaaa(host)
                .await
                .map(|v| v.into_iter().map(IpAddr::V6).collect()),
            _ => self.inner.a_aaaa(host).await,
        };
        match found {
            DnsResult::Found(list) if !list.is_empty() => Ok(list),
            DnsResult::Found(_) => Err(DnsFailure::NotFound(format!("{host}: host not found"))),
            other => Err(failure(other)),
        }
    }
}
