//! Client match lists (`mynetworks`, `permit_mx_backup_networks`, ...):
//! Postfix's `namadr_list`, which tries each pattern against the client name
//! (`match_hostname()`) and then the client address (`match_hostaddr()`).
//!
//! - `net/len`, `[v6net]/len`, `[v6addr]`, bare addresses: the address is
//!   inside the network (`cidr_match`). A pattern with host bits set under
//!   the mask (`127.0.0.1/8`) is kept, and, as in Postfix, fails every
//!   lookup that reaches it for an address of its family with a temporary
//!   error carrying Postfix's text; [`NetworkList::warnings`] lists such
//!   patterns up front.
//! - host names and `.domain`: matched against the client name, as in
//!   [`crate::DomainList`] (parent domains when `match_subdomains`).
//! - `type:table`: the client name (with parent domains for exact tables),
//!   then the full address text; `cidr:` tables match the address.
//! - `!pattern`, `/file`; the first match wins.
//!
//! IPv4-mapped IPv6 client addresses are matched in their IPv4 form, as
//! Postfix converts them when it accepts the connection.

use std::net::IpAddr;
use std::sync::Arc;

use crate::cidr_match::{parse_cidr, CidrPattern};
use crate::domain_list::{literal_matches, table_matches};
use crate::error::TableError;
use crate::match_items::{expand_items, is_table_spec};
use crate::Table;

#[derive(Debug, Clone)]
enum NetPattern {
    Cidr(CidrPattern),
    /// An address pattern Postfix would refuse at match time.
    Invalid {
        pattern: String,
        why: String,
        ipv6: bool,
    },
    Host(String),
    Table(Arc<dyn Table>),
}

/// Postfix's test for "looks like an address or net/mask" (match_hostaddr):
/// only address characters and `[]/`, and either a `:` or a `/`.
fn looks_like_address(pattern: &str) -> bool {
    let addr_chars = |c: char| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']' | '/');
    !pattern.is_empty()
        && pattern.chars().all(addr_chars)
        && (pattern.contains(':') || pattern.contains('/') || pattern.starts_with('['))
}

impl NetPattern {
    fn parse(pattern: &str) -> Result<NetPattern, TableError> {
        if is_table_spec(pattern) {
            return Ok(NetPattern::Table(crate::open_table(pattern)?));
        }
        if let Ok(addr) = pattern.parse::<IpAddr>() {
            return Ok(NetPattern::Cidr(CidrPattern {
                net: addr,
                prefix: if addr.is_ipv4() { 32 } else { 128 },
                positive: true,
            }));
        }
        if looks_like_address(pattern) {
            return Ok(match parse_cidr(pattern) {
                Ok(p) => NetPattern::Cidr(p),
                Err(why) => NetPattern::Invalid {
                    pattern: pattern.to_string(),
                    why,
                    ipv6: pattern.contains(':'),
                },
            });
        }
        Ok(NetPattern::Host(pattern.to_string()))
    }

    fn matches(
        &self,
        name: &str,
        addr: IpAddr,
        addr_text: &str,
        match_subdomains: bool,
    ) -> Result<bool, TableError> {
        match self {
            NetPattern::Cidr(p) => Ok(p.matches(addr)),
            NetPattern::Invalid { pattern, why, ipv6 } => {
                if *ipv6 == addr.is_ipv6() {
                    Err(TableError::temporary(pattern, why.clone()))
                } else {
                    Ok(false)
                }
            }
            NetPattern::Host(p) => Ok(literal_matches(name, p, match_subdomains)),
            NetPattern::Table(t) => {
                if table_matches(t.as_ref(), name, match_subdomains)? {
                    return Ok(true);
                }
                Ok(t.lookup(addr_text)?.is_some())
            }
        }
    }
}

/// A Postfix match list of clients.
#[derive(Debug, Clone, Default)]
pub struct NetworkList {
    entries: Vec<(bool, NetPattern)>,
    match_subdomains: bool,
    warnings: Vec<String>,
}

impl NetworkList {
    pub fn parse(items: &[String], match_subdomains: bool) -> Result<NetworkList, TableError> {
        let mut warnings = Vec::new();
        let mut entries = Vec::new();
        for item in expand_items(items, &mut warnings)? {
            let pattern = NetPattern::parse(&item.pattern)?;
            if let NetPattern::Invalid { why, .. } = &pattern {
                warnings.push(why.clone());
            }
            entries.push((item.positive, pattern));
        }
        Ok(NetworkList {
            entries,
            match_subdomains,
            warnings,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// First matching pattern decides; a negated pattern means "no".
    /// `client_name` is the verified name or `unknown`.
    pub fn matches(&self, client_name: &str, addr: IpAddr) -> Result<bool, TableError> {
        let addr = addr.to_canonical();
        let addr_text = addr.to_string();
        for (positive, pattern) in &self.entries {
            if pattern.matches(client_name, addr, &addr_text, self.match_subdomains)? {
                return Ok(*positive);
            }
        }
        Ok(false)
    }

    /// Problems found while parsing: invalid network patterns (which will
    /// fail lookups, as in Postfix) and `#` comments inside pattern files.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn list(items: &[&str], sub: bool) -> NetworkList {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        NetworkList::parse(&items, sub).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mynetworks_syntax() {
        let l = list(
            &[
                "127.0.0.0/8",
                "!192.168.1.13",
                "192.168.0.0/16",
                "[::1]/128",
                "[2001:db8::]/32",
                "[fe80::1]",
                "10.1.2.3",
                "trusted.example",
                ".dotted.example",
            ],
            true,
        );
        // (client name, address, expected)
        let cases = [
            ("unknown", "127.0.0.1", true),
            ("unknown", "127.255.0.1", true),
            ("unknown", "192.168.1.13", false),
            ("unknown", "192.168.1.14", true),
            ("unknown", "::1", true),
            ("unknown", "2001:db8:5::1", true),
            ("unknown", "2001:db9::1", false),
            ("unknown", "fe80::1", true),
            ("unknown", "fe80::2", false),
            ("unknown", "10.1.2.3", true),
            ("unknown", "10.1.2.4", false),
            ("unknown", "::ffff:127.0.0.1", true),
            ("trusted.example", "192.0.2.1", true),
            ("mail.trusted.example", "192.0.2.1", true),
            ("x..dotted.example", "192.0.2.1", true),
            ("x.dotted.example", "192.0.2.1", false),
            ("other.example", "192.0.2.1", false),
        ];
        for (name, addr, want) in cases {
            assert_eq!(l.matches(name, ip(addr)).unwrap(), want, "{name} {addr}");
        }
        assert!(l.warnings().is_empty());
    }

    #[test]
    fn host_bits_fail_like_postfix() {
        let l = list(&["192.0.2.1", "127.0.0.1/8"], false);
        assert_eq!(
            l.warnings(),
            ["non-null host address bits in \"127.0.0.1/8\", perhaps you should use \"127.0.0.0/8\" instead"]
        );
        assert!(l.matches("unknown", ip("192.0.2.1")).unwrap());
        let err = l.matches("unknown", ip("127.0.0.1")).unwrap_err();
        assert!(err.is_temporary());
        assert_eq!(
            err.to_string(),
            "127.0.0.1/8: temporary lookup failure: non-null host address bits in \"127.0.0.1/8\", perhaps you should use \"127.0.0.0/8\" instead"
        );
        // Other address family: never reaches the broken pattern.
        assert!(!l.matches("unknown", ip("::1")).unwrap());
    }

    #[test]
    fn tables_files_and_subdomains() {
        let dir = tempfile::tempdir().unwrap();
        let cidr = dir.path().join("nets.cidr");
        fs::write(&cidr, "10.0.0.0/8 ok\n").unwrap();
        let file = dir.path().join("nets");
        fs::write(
            &file,
            "# trusted\n172.16.0.0/12\n!203.0.113.7 203.0.113.0/24\n",
        )
        .unwrap();
        let cidr_spec = format!("cidr:{}", cidr.to_str().unwrap());
        let inline = "inline:{ 198.51.100.7=x, partner.example=y }";
        let f = file.to_str().unwrap();
        let cases = [
            (false, "unknown", "10.9.8.7", true),
            (false, "unknown", "172.20.0.1", true),
            (false, "unknown", "203.0.113.7", false),
            (false, "unknown", "203.0.113.8", true),
            (false, "unknown", "198.51.100.7", true),
            (false, "unknown", "198.51.100.8", false),
            (false, "partner.example", "192.0.2.1", true),
            (false, "mx.partner.example", "192.0.2.1", false),
            (true, "mx.partner.example", "192.0.2.1", true),
        ];
        for (sub, name, addr, want) in cases {
            let l = list(&[&cidr_spec, f, inline], sub);
            assert_eq!(
                l.matches(name, ip(addr)).unwrap(),
                want,
                "{sub} {name} {addr}"
            );
        }
    }
}
