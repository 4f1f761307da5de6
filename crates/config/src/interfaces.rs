//! What `inet_interfaces` and `proxy_interfaces` mean, decided in one place:
//! `all` (every interface address of this host), `loopback-only` (and the
//! name `localhost`: 127.0.0.1 and ::1), an IP address (optionally
//! `[bracketed]`) or a host name, resolved when the own-address set is built.
//! Also the `mynetworks` value in force (its computed default lives with the
//! other computed defaults in `config.rs`).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use crate::config::Config;
use crate::error::ConfigError;
use crate::registry::{INET_INTERFACES, MYNETWORKS, MYNETWORKS_STYLE, PROXY_INTERFACES};
use crate::system::{self, InterfaceAddr};

/// One `inet_interfaces` / `proxy_interfaces` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    /// `all`: every interface address of this host.
    All,
    /// `loopback-only` or `localhost`: 127.0.0.1 and ::1.
    Loopback,
    /// A literal address.
    Address(IpAddr),
    /// Any other name, resolved by [`Config::own_addresses`].
    Host(String),
}

/// The loopback addresses, IPv4 first.
pub const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

impl Interface {
    /// Interpret one list item.
    pub fn parse(item: &str) -> Interface {
        let lower = item.to_ascii_lowercase();
        match lower.as_str() {
            "all" => return Interface::All,
            "loopback-only" | "localhost" => return Interface::Loopback,
            _ => {}
        }
        let bare = item
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(item);
        match bare.parse::<IpAddr>() {
            Ok(addr) => Interface::Address(addr),
            Err(_) => Interface::Host(bare.to_string()),
        }
    }
}

impl Config {
    /// The `inet_interfaces` items, interpreted.
    pub fn inet_interfaces(&self) -> Vec<Interface> {
        self.get(&INET_INTERFACES)
            .iter()
            .map(|item| Interface::parse(item))
            .collect()
    }

    /// Every address this MTA receives mail on: `inet_interfaces` plus
    /// `proxy_interfaces`. A host name that does not resolve is an error.
    pub fn own_addresses(&self) -> Result<BTreeSet<IpAddr>, ConfigError> {
        let mut addrs = BTreeSet::new();
        for (param, items) in [
            (INET_INTERFACES.name(), self.get(&INET_INTERFACES)),
            (PROXY_INTERFACES.name(), self.get(&PROXY_INTERFACES)),
        ] {
            for item in items {
                match Interface::parse(&item) {
                    Interface::All => {
                        addrs.extend(LOOPBACK);
                        addrs.extend(system::system_interfaces().iter().map(|i| i.addr));
                    }
                    Interface::Loopback => addrs.extend(LOOPBACK),
                    Interface::Address(addr) => {
                        addrs.insert(addr);
                    }
                    Interface::Host(name) => {
                        let resolved = (name.as_str(), 0u16).to_socket_addrs().map_err(|e| {
                            ConfigError::BadValue {
                                location: self.source().to_string(),
                                name: param.to_string(),
                                value: item.clone(),
                                why: format!("interface address {item}: {e}"),
                            }
                        })?;
                        addrs.extend(resolved.map(|sa| sa.ip()));
                    }
                }
            }
        }
        Ok(addrs)
    }

    /// The `mynetworks` list in force. When it is set to empty, the
    /// loopback networks of `mynetworks_style` (`127.0.0.1/32 [::1]/128`
    /// for `host`).
    pub fn mynetworks(&self) -> Vec<String> {
        let list = self.get(&MYNETWORKS);
        if !list.is_empty() {
            return list;
        }
        let loopback = [
            InterfaceAddr {
                addr: LOOPBACK[0],
                prefix: 8,
            },
            InterfaceAddr {
                addr: LOOPBACK[1],
                prefix: 128,
            },
        ];
        crate::list::split_list(&system::mynetworks(
            self.get(&MYNETWORKS_STYLE).trim(),
            &loopback,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_interpreted_once() {
        let cases = [
            ("all", Interface::All),
            ("ALL", Interface::All),
            ("loopback-only", Interface::Loopback),
            ("localhost", Interface::Loopback),
            (
                "127.0.0.9",
                Interface::Address("127.0.0.9".parse().unwrap()),
            ),
            ("[::1]", Interface::Address("::1".parse().unwrap())),
            ("mx.example", Interface::Host("mx.example".to_string())),
        ];
        for (item, want) in cases {
            assert_eq!(Interface::parse(item), want, "{item}");
        }
    }

    #[test]
    fn own_addresses_cover_all_and_proxies() {
        let cfg = Config::parse_main_cf(
            "inet_interfaces = 127.0.0.1\nproxy_interfaces = [127.0.0.9]\n",
            "main.cf",
        )
        .unwrap();
        let own = cfg.own_addresses().unwrap();
        let want: BTreeSet<IpAddr> = ["127.0.0.1", "127.0.0.9"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(own, want);
        let all = Config::parse_main_cf("inet_interfaces = all\n", "main.cf").unwrap();
        let own = all.own_addresses().unwrap();
        assert!(own.contains(&LOOPBACK[0]) && own.contains(&LOOPBACK[1]));
    }

    #[test]
    fn empty_mynetworks_means_loopback_by_style() {
        let host = Config::parse_main_cf("mynetworks =\n", "main.cf").unwrap();
        assert_eq!(host.mynetworks(), ["127.0.0.1/32", "[::1]/128"]);
        let subnet =
            Config::parse_main_cf("mynetworks =\nmynetworks_style = subnet\n", "main.cf").unwrap();
        assert_eq!(subnet.mynetworks(), ["127.0.0.0/8", "[::1]/128"]);
    }
}
