//! The DNS seam of the SMTP client: MX and address lookups with Postfix's
//! outcome classes (`DNS_OK`, `DNS_NOTFOUND`, `DNS_RETRY`, `DNS_INVAL`,
//! `DNS_FAIL`, `DNS_NULLMX`). The production resolver is
//! [`crate::smtp::dns_glue`] (gatepost-dns: hickory with Postfix's MX
//! validation and warnings); [`NativeResolver`] uses the system's
//! `getaddrinfo` for hosts (Postfix `smtp_host_lookup = native`) and has no
//! MX lookups. Tests use in-memory tables.

use std::net::IpAddr;

/// One MX record that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MxRecord {
    pub pref: u16,
    /// Target host name, trailing dot removed (may be an IP address string:
    /// the record was kept with a `numeric domain name` warning).
    pub host: String,
}

/// Why a lookup produced no usable records. Each carries Postfix's reason
/// text (`Host or domain name not found. Name service error for name=X
/// type=MX: Host not found, try again`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DnsFailure {
    /// NXDOMAIN, or no records of the type (`DNS_NOTFOUND`).
    NotFound(String),
    /// Temporary failure (`DNS_RETRY`).
    TempFail(String),
    /// Malformed reply or names (`DNS_INVAL`).
    Malformed(String),
    /// Non-recoverable server failure (`DNS_FAIL`).
    Fail(String),
    /// `MX 0 .` (`DNS_NULLMX`, RFC 7505).
    NullMx,
}

#[async_trait::async_trait]
pub(crate) trait Resolver: Send + Sync + std::fmt::Debug {
    /// MX records of `domain`; `Ok(empty)` or `Err(NotFound)` when it has
    /// none (the caller falls back to address records).
    async fn mx(&self, domain: &str) -> Result<Vec<MxRecord>, DnsFailure>;
    /// A and AAAA records of `host`, in the order received.
    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure>;
}

/// The system resolver, for hosts only.
#[derive(Debug, Default)]
pub(crate) struct NativeResolver;

#[async_trait::async_trait]
impl Resolver for NativeResolver {
    async fn mx(&self, domain: &str) -> Result<Vec<MxRecord>, DnsFailure> {
        Err(DnsFailure::TempFail(format!(
            "Name service error for name={domain} type=MX: no DNS resolver configured"
        )))
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        match tokio::net::lookup_host((host, 0)).await {
            Ok(addrs) => {
                let mut out: Vec<IpAddr> = Vec::new();
                for a in addrs {
                    if !out.contains(&a.ip()) {
                        out.push(a.ip());
                    }
                }
                if out.is_empty() {
                    Err(DnsFailure::NotFound(format!("{host}: host not found")))
                } else {
                    Ok(out)
                }
            }
            Err(err) => Err(DnsFailure::NotFound(format!(
                "unable to look up host {host}: {err}"
            ))),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! An in-memory resolver for unit tests.
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug, Default)]
    pub(crate) struct FakeResolver {
        pub mx: HashMap<String, Result<Vec<MxRecord>, DnsFailure>>,
        pub hosts: HashMap<String, Result<Vec<IpAddr>, DnsFailure>>,
    }

    impl FakeResolver {
        pub fn mx(mut self, domain: &str, records: &[(u16, &str)]) -> Self {
            let list = records
                .iter()
                .map(|(pref, host)| MxRecord {
                    pref: *pref,
                    host: host.to_string(),
                })
                .collect();
            self.mx.insert(domain.to_string(), Ok(list));
            self
        }

        pub fn mx_fail(mut self, domain: &str, why: DnsFailure) -> Self {
            self.mx.insert(domain.to_string(), Err(why));
            self
        }

        pub fn host(mut self, host: &str, addrs: &[&str]) -> Self {
            let list = addrs.iter().map(|a| a.parse().unwrap()).collect();
            self.hosts.insert(host.to_string(), Ok(list));
            self
        }

        pub fn host_fail(mut self, host: &str, why: DnsFailure) -> Self {
            self.hosts.insert(host.to_string(), Err(why));
            self
        }
    }

    fn not_found(name: &str, t: &str) -> DnsFailure {
        DnsFailure::NotFound(format!(
            "Host or domain name not found. Name service error for name={name} type={t}: Host not found"
        ))
    }

    #[async_trait::async_trait]
    impl Resolver for FakeResolver {
        async fn mx(&self, domain: &str) -> Result<Vec<MxRecord>, DnsFailure> {
            self.mx
                .get(domain)
                .cloned()
                .unwrap_or_else(|| Err(not_found(domain, "MX")))
        }

        async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
            self.hosts
                .get(host)
                .cloned()
                .unwrap_or_else(|| Err(not_found(host, "A")))
        }
    }
}
