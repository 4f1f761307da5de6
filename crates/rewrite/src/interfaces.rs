//! The machine's own mail addresses for `resolve_local`: the addresses in
//! `inet_interfaces` and `proxy_interfaces`, as the configuration
//! interprets them (`Config::own_addresses`). A domain literal `[addr]`
//! naming one of them is a local destination.

use std::collections::BTreeSet;
use std::net::IpAddr;

use gatepost_config::Config;

use crate::error::RewriteError;

/// The set of addresses this MTA receives mail on.
#[derive(Debug, Clone, Default)]
pub struct OwnAddresses {
    addrs: BTreeSet<IpAddr>,
}

impl OwnAddresses {
    /// A fixed set of addresses (unparsable items are ignored).
    pub fn of(list: &[&str]) -> OwnAddresses {
        OwnAddresses {
            addrs: list.iter().filter_map(|a| a.parse().ok()).collect(),
        }
    }

    /// The addresses of `inet_interfaces` and `proxy_interfaces`, as the
    /// configuration interprets them.
    pub fn from_config(cfg: &Config) -> Result<Self, RewriteError> {
        let addrs = cfg
            .own_addresses()
            .map_err(|err| RewriteError::Config(err.to_string()))?;
        Ok(OwnAddresses { addrs })
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            IpAddr::V4(_) => addr,
        };
        self.addrs.contains(&addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(main_cf: &str) -> OwnAddresses {
        let cfg = Config::parse_main_cf(main_cf, "main.cf").unwrap();
        OwnAddresses::from_config(&cfg).unwrap()
    }

    #[test]
    fn explicit_addresses() {
        let own = own("inet_interfaces = 127.0.0.1\nproxy_interfaces = [127.0.0.9]\n");
        assert!(own.contains("127.0.0.1".parse().unwrap()));
        assert!(own.contains("127.0.0.9".parse().unwrap()));
        assert!(own.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!own.contains("10.9.9.9".parse().unwrap()));
        assert!(!own.contains("::1".parse().unwrap()));
    }

    #[test]
    fn keywords() {
        let loopback = own("inet_interfaces = loopback-only\n");
        assert!(loopback.contains("::1".parse().unwrap()));
        let all = own("inet_interfaces = all\n");
        assert!(all.contains("127.0.0.1".parse().unwrap()));
        assert!(!all.contains("192.0.2.77".parse().unwrap()));
    }
}
