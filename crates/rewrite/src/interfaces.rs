//! The machine's own mail addresses for `resolve_local`: the addresses in
//! `inet_interfaces` (`all` = every interface address of this machine plus
//! loopback, `loopback-only` = 127.0.0.1 and ::1) and `proxy_interfaces`.
//! A domain literal `[addr]` naming one of them is a local destination.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

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

    /// Build from the `inet_interfaces` and `proxy_interfaces` items.
    pub fn from_items(inet: &[String], proxy: &[String]) -> Result<Self, RewriteError> {
        let mut addrs = BTreeSet::new();
        for item in inet.iter().chain(proxy) {
            match item.to_ascii_lowercase().as_str() {
                "all" => {
                    addrs.extend(loopback());
                    // An interface enumeration failure leaves loopback only,
                    // like a machine whose only interface is lo.
                    if let Ok(ifaces) = if_addrs::get_if_addrs() {
                        addrs.extend(ifaces.iter().map(|iface| iface.ip()));
                    }
                }
                "loopback-only" => addrs.extend(loopback()),
                _ => addrs.extend(item_addresses(item)?),
            }
        }
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

fn loopback() -> [IpAddr; 2] {
    [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
}

/// One item: an IP address (optionally `[bracketed]`) or a hostname.
fn item_addresses(item: &str) -> Result<Vec<IpAddr>, RewriteError> {
    let bare = item
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(item);
    if let Ok(addr) = bare.parse::<IpAddr>() {
        return Ok(vec![addr]);
    }
    (bare, 0u16)
        .to_socket_addrs()
        .map(|resolved| resolved.map(|sa| sa.ip()).collect())
        .map_err(|err| RewriteError::Config(format!("interface address {item}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn explicit_addresses() {
        let own =
            OwnAddresses::from_items(&items(&["127.0.0.1"]), &items(&["[127.0.0.9]"])).unwrap();
        assert!(own.contains("127.0.0.1".parse().unwrap()));
        assert!(own.contains("127.0.0.9".parse().unwrap()));
        assert!(own.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!own.contains("10.9.9.9".parse().unwrap()));
        assert!(!own.contains("::1".parse().unwrap()));
    }

    #[test]
    fn keywords() {
        let own = OwnAddresses::from_items(&items(&["loopback-only"]), &[]).unwrap();
        assert!(own.contains("::1".parse().unwrap()));
        let all = OwnAddresses::from_items(&items(&["all"]), &[]).unwrap();
        assert!(all.contains("127.0.0.1".parse().unwrap()));
        assert!(!all.contains("192.0.2.77".parse().unwrap()));
    }
}
