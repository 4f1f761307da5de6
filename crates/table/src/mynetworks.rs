//! Default `mynetworks` from `mynetworks_style` and the interface addresses
//! (Postfix's `mynetworks.c`), as a pure function: the config crate supplies
//! the addresses. Without interface netmasks, `subnet` assumes /8 for
//! 127.0.0.0/8, /24 for other IPv4, /128 for `::1` and /64 for other IPv6
//! (the usual Linux interface masks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::TableError;

/// `mynetworks_style` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MynetworksStyle {
    Host,
    Subnet,
    Class,
}

impl MynetworksStyle {
    /// Parse a style; the error is Postfix's text.
    pub fn parse(style: &str) -> Result<MynetworksStyle, TableError> {
        match style.trim().to_ascii_lowercase().as_str() {
            "host" => Ok(MynetworksStyle::Host),
            "subnet" => Ok(MynetworksStyle::Subnet),
            "class" => Ok(MynetworksStyle::Class),
            other => Err(TableError::config(
                "mynetworks_style",
                format!("unknown mynetworks_style value: {other}"),
            )),
        }
    }
}

fn v4_net(addr: Ipv4Addr, prefix: u8) -> String {
    let bits = u32::from(addr);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    format!("{}/{prefix}", Ipv4Addr::from(bits & mask))
}

fn v6_net(addr: Ipv6Addr, prefix: u8) -> String {
    let bits = u128::from(addr);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    format!("[{}]/{prefix}", Ipv6Addr::from(bits & mask))
}

fn v6_subnet(addr: Ipv6Addr) -> String {
    if addr.is_loopback() {
        v6_net(addr, 128)
    } else {
        v6_net(addr, 64)
    }
}

/// One interface address as a `mynetworks` entry for `style`.
fn entry(style: MynetworksStyle, addr: IpAddr) -> String {
    match (style, addr) {
        (MynetworksStyle::Host, IpAddr::V4(a)) => v4_net(a, 32),
        (MynetworksStyle::Host, IpAddr::V6(a)) => v6_net(a, 128),
        (MynetworksStyle::Subnet, IpAddr::V4(a)) => {
            v4_net(a, if a.octets()[0] == 127 { 8 } else { 24 })
        }
        (MynetworksStyle::Class, IpAddr::V4(a)) => {
            let first = a.octets()[0];
            let prefix = match first {
                0..=127 => 8,
                128..=191 => 16,
                192..=223 => 24,
                _ => 4,
            };
            v4_net(a, prefix)
        }
        (MynetworksStyle::Subnet | MynetworksStyle::Class, IpAddr::V6(a)) => v6_subnet(a),
    }
}

/// The default `mynetworks` for a style, one entry per interface address
/// (duplicates removed, order kept). An unknown style is treated as `host`,
/// the safest choice; validate with [`MynetworksStyle::parse`].
pub fn default_mynetworks(style: &str, interfaces: &[IpAddr]) -> Vec<String> {
    let style = MynetworksStyle::parse(style).unwrap_or(MynetworksStyle::Host);
    let mut out: Vec<String> = Vec::new();
    for addr in interfaces {
        let e = entry(style, addr.to_canonical());
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ifaces() -> Vec<IpAddr> {
        [
            "127.0.0.1",
            "192.0.2.2",
            "::1",
            "fd00::2",
            "fe80::fc:ff:fe00:1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
    }

    #[test]
    fn styles() {
        let cases: &[(&str, &str)] = &[
            (
                "host",
                "127.0.0.1/32 192.0.2.2/32 [::1]/128 [fd00::2]/128 [fe80::fc:ff:fe00:1]/128",
            ),
            (
                "subnet",
                "127.0.0.0/8 192.0.2.0/24 [::1]/128 [fd00::]/64 [fe80::]/64",
            ),
            (
                "class",
                "127.0.0.0/8 192.0.2.0/24 [::1]/128 [fd00::]/64 [fe80::]/64",
            ),
        ];
        for (style, want) in cases {
            assert_eq!(
                default_mynetworks(style, &ifaces()).join(" "),
                *want,
                "{style}"
            );
        }
        let class: Vec<IpAddr> = ["10.1.2.3", "172.16.5.4", "198.51.100.9", "224.0.0.1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            default_mynetworks("class", &class).join(" "),
            "10.0.0.0/8 172.16.0.0/16 198.51.100.0/24 224.0.0.0/4"
        );
        assert_eq!(
            MynetworksStyle::parse("bogus").unwrap_err().to_string(),
            "mynetworks_style: unknown mynetworks_style value: bogus"
        );
        assert_eq!(default_mynetworks("bogus", &ifaces())[0], "127.0.0.1/32");
    }
}
