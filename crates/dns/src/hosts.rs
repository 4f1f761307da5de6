//! `/etc/hosts`, consulted before DNS for A, AAAA and PTR questions (like
//! the `files` source of the system resolver), so that names such as
//! `localhost` never cost a query. Read once per process; lines are `address name [alias...]`,
//! `#` starts a comment; malformed lines are skipped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Parsed hosts file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hosts {
    by_name: HashMap<String, Vec<IpAddr>>,
    by_addr: HashMap<IpAddr, String>,
}

impl Hosts {
    pub fn parse(text: &str) -> Hosts {
        let mut h = Hosts::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for (i, name) in fields.enumerate() {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if i == 0 {
                    h.by_addr.entry(addr).or_insert_with(|| name.clone());
                }
                let addrs = h.by_name.entry(name).or_default();
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
            }
        }
        h
    }

    /// The system's hosts file (empty when unreadable).
    pub fn system() -> &'static Hosts {
        static HOSTS: OnceLock<Hosts> = OnceLock::new();
        HOSTS.get_or_init(|| {
            Hosts::parse(&std::fs::read_to_string("/etc/hosts").unwrap_or_default())
        })
    }

    /// Addresses listed for `name` (case-insensitive).
    pub fn addresses(&self, name: &str) -> Option<&[IpAddr]> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// The canonical name listed for `addr`.
    pub fn name_of(&self, addr: IpAddr) -> Option<&str> {
        self.by_addr.get(&addr).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        let h = Hosts::parse(
            "# comment\n127.0.0.1 localhost loop # trailing\n::1 localhost\nbogus line\n10.0.0.1\tHost.Example.\n",
        );
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(h.addresses("LOCALHOST"), Some(&[lo, v6][..]));
        assert_eq!(h.addresses("loop"), Some(&[lo][..]));
        assert_eq!(h.name_of(lo), Some("localhost"));
        assert_eq!(h.name_of("10.0.0.1".parse().unwrap()), Some("host.example"));
        assert_eq!(h.addresses("bogus"), None);
    }
}
