//! Facts about the host that computed defaults need: the host name
//! (`myhostname`, `mydomain`) and the interface addresses (`mynetworks` by
//! `mynetworks_style`: `host`, `subnet` or `class`). The system is asked once
//! per process; the computation from those facts is pure and tested.
//! Like Postfix on Linux, IPv6 addresses come from `/proc/net/if_inet6`
//! (`if-addrs` hides link-local `fe80::` addresses, Postfix lists them); the
//! list is sorted and de-duplicated as Postfix's `inet_addr_list_uniq` does.

use std::net::IpAddr;
use std::sync::OnceLock;

/// One interface address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InterfaceAddr {
    pub addr: IpAddr,
    pub prefix: u8,
}

struct Facts {
    hostname: String,
    interfaces: Vec<InterfaceAddr>,
}

fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| Facts {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        interfaces: interface_addrs(),
    })
}

/// Parse `/proc/net/if_inet6`: `ADDRHEX IFINDEX PREFIXHEX SCOPE FLAGS NAME`.
fn parse_if_inet6(text: &str) -> Vec<InterfaceAddr> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let hex = fields.next()?;
            let prefix = u8::from_str_radix(fields.nth(1)?, 16).ok()?;
            if hex.len() != 32 {
                return None;
            }
            let bits = u128::from_str_radix(hex, 16).ok()?;
            Some(InterfaceAddr {
                addr: IpAddr::V6(bits.into()),
                prefix,
            })
        })
        .collect()
}

fn interface_addrs() -> Vec<InterfaceAddr> {
    let list = if_addrs::get_if_addrs().unwrap_or_default();
    let proc_v6 = std::fs::read_to_string("/proc/net/if_inet6")
        .ok()
        .map(|text| parse_if_inet6(&text));
    let mut out: Vec<InterfaceAddr> = list
        .iter()
        .filter(|iface| proc_v6.is_none() || matches!(iface.addr, if_addrs::IfAddr::V4(_)))
        .map(|iface| {
            let (addr, prefix) = match &iface.addr {
                if_addrs::IfAddr::V4(v4) => (IpAddr::V4(v4.ip), v4.prefixlen),
                if_addrs::IfAddr::V6(v6) => (IpAddr::V6(v6.ip), v6.prefixlen),
            };
            InterfaceAddr { addr, prefix }
        })
        .collect();
    out.extend(proc_v6.unwrap_or_default());
    sort_unique(&mut out);
    out
}

/// IPv4 before IPv6, each by address; duplicates removed.
fn sort_unique(list: &mut Vec<InterfaceAddr>) {
    list.sort_by_key(|a| (a.addr.is_ipv6(), a.addr, a.prefix));
    list.dedup_by_key(|a| a.addr);
}

/// The system host name as `gethostname` reports it.
pub(crate) fn system_hostname() -> &'static str {
    &facts().hostname
}

/// Interface addresses of this host.
pub(crate) fn system_interfaces() -> &'static [InterfaceAddr] {
    &facts().interfaces
}

/// `myhostname` default: the host name, with `.DOMAIN` appended when it has
/// no dot (`domain` is `$mydomain` when set, else `localdomain`).
pub(crate) fn fqdn(hostname: &str, domain: Option<&str>) -> String {
    if hostname.contains('.') {
        hostname.to_string()
    } else {
        format!("{hostname}.{}", domain.unwrap_or("localdomain"))
    }
}

/// `mydomain` default: `myhostname` minus its first label, `localdomain` if
/// it has none.
pub(crate) fn domain_of(myhostname: &str) -> String {
    match myhostname.split_once('.') {
        Some((_, rest)) if !rest.is_empty() => rest.to_string(),
        _ => "localdomain".to_string(),
    }
}

fn format_net(addr: IpAddr, prefix: u8) -> String {
    match addr {
        IpAddr::V4(v4) => format!("{v4}/{prefix}"),
        IpAddr::V6(v6) => format!("[{v6}]/{prefix}"),
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

/// The class A/B/C prefix of an IPv4 address.
fn class_prefix(addr: IpAddr, subnet_prefix: u8) -> u8 {
    match addr {
        IpAddr::V4(v4) => match v4.octets()[0] {
            0..=127 => 8,
            128..=191 => 16,
            192..=223 => 24,
            // Class D (multicast), as Postfix's mynetworks(3): whole class
            // A, B, C or D networks.
            224..=239 => 4,
            _ => subnet_prefix,
        },
        IpAddr::V6(_) => subnet_prefix,
    }
}

/// `mynetworks` default for `style` (`host`, `subnet`, `class`; anything else
/// is treated as `host`), without duplicates.
pub(crate) fn mynetworks(style: &str, interfaces: &[InterfaceAddr]) -> String {
    let mut nets: Vec<String> = Vec::new();
    for iface in interfaces {
        let (addr, prefix) = match style {
            "subnet" => (mask(iface.addr, iface.prefix), iface.prefix),
            "class" => {
                let p = class_prefix(iface.addr, iface.prefix);
                (mask(iface.addr, p), p)
            }
            _ => (iface.addr, if iface.addr.is_ipv4() { 32 } else { 128 }),
        };
        let net = format_net(addr, prefix);
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    nets.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(addr: &str, prefix: u8) -> InterfaceAddr {
        InterfaceAddr {
            addr: addr.parse().expect("address"),
            prefix,
        }
    }

    fn sample() -> Vec<InterfaceAddr> {
        vec![
            iface("127.0.0.1", 8),
            iface("192.0.2.2", 24),
            iface("::1", 128),
            iface("fd00::2", 64),
            iface("fe80::fc:ff:fe00:1", 64),
        ]
    }

    /// The classful networks of `mynetworks_style = class`, A to D.
    #[test]
    fn styles() {
        let class = [
            iface("10.1.2.3", 24),
            iface("172.16.5.4", 24),
            iface("198.51.100.9", 24),
            iface("224.0.0.1", 24),
        ];
        assert_eq!(
            mynetworks("class", &class),
            "10.0.0.0/8 172.16.0.0/16 198.51.100.0/24 224.0.0.0/4"
        );
    }

    #[test]
    fn mynetworks_styles_match_postfix() {
        let cases = [
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
            assert_eq!(mynetworks(style, &sample()), want, "{style}");
        }
        let b = [iface("172.16.5.4", 24), iface("10.1.2.3", 16)];
        assert_eq!(mynetworks("class", &b), "172.16.0.0/16 10.0.0.0/8");
        assert_eq!(mynetworks("host", &[]), "");
    }

    #[test]
    fn hostname_and_domain() {
        let cases = [
            ("vm", None, "vm.localdomain", "localdomain"),
            ("vm", Some("foo.test"), "vm.foo.test", "foo.test"),
            ("host.example", None, "host.example", "example"),
            ("a.b.example", Some("ignored"), "a.b.example", "b.example"),
        ];
        for (host, domain, want_fqdn, want_domain) in cases {
            let name = fqdn(host, domain);
            assert_eq!(name, want_fqdn);
            assert_eq!(domain_of(&name), want_domain);
        }
        assert_eq!(domain_of("single"), "localdomain");
    }

    #[test]
    fn proc_if_inet6_is_parsed_and_sorted() {
        let text = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                    fd000000000000000000000000000002 04 40 00 82     eth0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n\
                    garbage\n";
        let mut list = parse_if_inet6(text);
        list.push(iface("192.0.2.2", 24));
        list.push(iface("127.0.0.1", 8));
        list.push(iface("::1", 128));
        sort_unique(&mut list);
        assert_eq!(
            mynetworks("host", &list),
            "127.0.0.1/32 192.0.2.2/32 [::1]/128 [fd00::2]/128 [fe80::fc:ff:fe00:1]/128"
        );
    }

    #[test]
    fn system_facts_are_available() {
        assert!(!system_hostname().is_empty());
        let _ = system_interfaces();
    }
}
