//! The addresses this MTA receives mail on, for spotting ourselves among a
//! destination's mail exchangers (Postfix `own_inet_addr_list()` and
//! `proxy_inet_addr_list()`): the `inet_interfaces` addresses (`all` =
//! every interface address plus loopback, `loopback-only` = 127.0.0.1 and
//! ::1, or listed addresses and host names) and `proxy_interfaces`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

#[derive(Debug, Clone, Default)]
pub(crate) struct OwnAddresses {
    addrs: BTreeSet<IpAddr>,
}

fn loopback() -> [IpAddr; 2] {
    [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
}

impl OwnAddresses {
    /// Build from the parameter items. A name that does not resolve is
    /// logged and skipped (delivery should not stop over it).
    pub(crate) fn from_items(inet: &[String], proxy: &[String]) -> OwnAddresses {
        let mut addrs = BTreeSet::new();
        for item in inet.iter().chain(proxy) {
            match item.to_ascii_lowercase().as_str() {
                "all" => {
                    addrs.extend(loopback());
                    if let Ok(ifaces) = if_addrs::get_if_addrs() {
                        addrs.extend(ifaces.iter().map(|i| i.ip()));
                    }
                }
                "loopback-only" => addrs.extend(loopback()),
                _ => {
                    let bare = item
                        .strip_prefix('[')
                        .and_then(|s| s.strip_suffix(']'))
                        .unwrap_or(item);
                    if let Ok(ip) = bare.parse::<IpAddr>() {
                        addrs.insert(ip);
                    } else {
                        match (bare, 0u16).to_socket_addrs() {
                            Ok(found) => addrs.extend(found.map(|sa| sa.ip())),
                            Err(err) => gatepost_log::warning(
                                "smtp",
                                format!("unable to look up interface address {item}: {err}"),
                            ),
                        }
                    }
                }
            }
        }
        OwnAddresses { addrs }
    }

    /// A fixed set (tests).
    #[cfg(test)]
    pub(crate) fn of(list: &[&str]) -> OwnAddresses {
        OwnAddresses {
            addrs: list.iter().filter_map(|a| a.parse().ok()).collect(),
        }
    }

    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
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

    fn items(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn items_table() {
        let own = OwnAddresses::from_items(&items(&["127.0.0.1"]), &items(&["[127.0.0.9]"]));
        assert!(own.contains("127.0.0.1".parse().unwrap()));
        assert!(own.contains("::ffff:127.0.0.9".parse().unwrap()));
        assert!(!own.contains("127.0.0.2".parse().unwrap()));
        let lo = OwnAddresses::from_items(&items(&["loopback-only"]), &[]);
        assert!(lo.contains("::1".parse().unwrap()));
        let all = OwnAddresses::from_items(&items(&["all"]), &[]);
        assert!(all.contains("127.0.0.1".parse().unwrap()));
        assert!(!all.contains("192.0.2.77".parse().unwrap()));
    }
}
