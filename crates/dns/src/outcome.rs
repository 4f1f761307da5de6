//! The outcome of one lookup, as Postfix's `dns_lookup()` classifies it
//! (docs/dns.md#outcomes): found, NXDOMAIN, no data, nullMX (RFC 7505),
//! temporary failure, permanent failure and malformed reply. Every outcome
//! but `Found` carries Postfix's reason text, ready for a bounce or a log.

use std::net::IpAddr;

/// One MX record: preference and the exchange host (no trailing dot; a
/// numeric exchange such as `192.0.2.1` is kept, as Postfix does).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mx {
    pub preference: u16,
    pub exchange: String,
}

/// Result of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsResult<T> {
    /// Records of the requested type (after name validation).
    Found(T),
    /// The name does not exist (also: the name was refused without a
    /// query because it is invalid or numeric).
    NxDomain(String),
    /// The name exists but has no record of this type.
    NoData(String),
    /// An MX record with the root as exchange (RFC 7505): the domain does
    /// not accept mail. Only from [`crate::Resolver::mx`].
    NullMx(String),
    /// SERVFAIL, timeout, network error or an unparsable reply: try later.
    TempFail(String),
    /// REFUSED, FORMERR, NOTIMP and similar, or the resolver could not be
    /// initialised (Postfix `DNS_FAIL`).
    Fail(String),
    /// The reply parsed, but failed name validation (Postfix `DNS_INVAL`).
    Malformed(String),
}

impl<T> DnsResult<T> {
    /// The records, when found.
    pub fn found(&self) -> Option<&T> {
        match self {
            DnsResult::Found(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_found(&self) -> bool {
        matches!(self, DnsResult::Found(_))
    }

    /// NXDOMAIN or no data (Postfix `DNS_NOTFOUND`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, DnsResult::NxDomain(_) | DnsResult::NoData(_))
    }

    /// The reason text of a failure; `None` when found.
    pub fn reason(&self) -> Option<&str> {
        match self {
            DnsResult::Found(_) => None,
            DnsResult::NxDomain(r)
            | DnsResult::NoData(r)
            | DnsResult::NullMx(r)
            | DnsResult::TempFail(r)
            | DnsResult::Fail(r)
            | DnsResult::Malformed(r) => Some(r),
        }
    }

    /// Convert the records, keeping the failure.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> DnsResult<U> {
        match self {
            DnsResult::Found(t) => DnsResult::Found(f(t)),
            DnsResult::NxDomain(r) => DnsResult::NxDomain(r),
            DnsResult::NoData(r) => DnsResult::NoData(r),
            DnsResult::NullMx(r) => DnsResult::NullMx(r),
            DnsResult::TempFail(r) => DnsResult::TempFail(r),
            DnsResult::Fail(r) => DnsResult::Fail(r),
            DnsResult::Malformed(r) => DnsResult::Malformed(r),
        }
    }

    /// Postfix's preference when several record types are combined
    /// (OK > RETRY > INVAL > FAIL > NULLMX > NOTFOUND, docs/dns.md#outcomes): higher wins.
    pub fn rank(&self) -> u8 {
        match self {
            DnsResult::Found(_) => 6,
            DnsResult::TempFail(_) => 5,
            DnsResult::Malformed(_) => 4,
            DnsResult::Fail(_) => 3,
            DnsResult::NullMx(_) => 2,
            DnsResult::NoData(_) | DnsResult::NxDomain(_) => 1,
        }
    }
}

/// Combine the results of an A and an AAAA lookup: all addresses when
/// either found some, else the higher-ranked failure (the first on a tie).
pub fn combine_addresses(
    first: DnsResult<Vec<IpAddr>>,
    second: DnsResult<Vec<IpAddr>>,
) -> DnsResult<Vec<IpAddr>> {
    match (first, second) {
        (DnsResult::Found(mut a), DnsResult::Found(b)) => {
            a.extend(b);
            DnsResult::Found(a)
        }
        (f @ DnsResult::Found(_), _) | (_, f @ DnsResult::Found(_)) => f,
        (a, b) => {
            if b.rank() > a.rank() {
                b
            } else {
                a
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let nx = || DnsResult::NxDomain("nx".to_string());
        let tf = || DnsResult::TempFail("tf".to_string());
        let cases = vec![
            (
                DnsResult::Found(vec![v4]),
                DnsResult::Found(vec![v6]),
                DnsResult::Found(vec![v4, v6]),
            ),
            (nx(), DnsResult::Found(vec![v6]), DnsResult::Found(vec![v6])),
            (nx(), tf(), tf()),
            (tf(), nx(), tf()),
            (nx(), DnsResult::NoData("nd".into()), nx()),
            (
                DnsResult::Malformed("m".into()),
                DnsResult::Fail("f".into()),
                DnsResult::Malformed("m".into()),
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(combine_addresses(a, b), want);
        }
        assert_eq!(DnsResult::<()>::TempFail("x".into()).reason(), Some("x"));
        assert!(DnsResult::<()>::NoData("x".into()).is_not_found());
    }
}
