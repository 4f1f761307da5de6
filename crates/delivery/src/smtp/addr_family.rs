//! The address family order of the server list (Postfix's smtp_addr.c):
//! `smtp_address_preference = ipv6|ipv4` puts that family first among
//! addresses of equal MX preference (`any` keeps the lookup order), and
//! `smtp_balance_inet_protocols = yes` keeps both families within
//! `smtp_mx_address_limit` when the list is longer than the limit
//! (`smtp_balance_inet_proto`). Before both, addresses of a family that
//! `inet_protocols` disables are dropped.

use gatepost_config::InetProtocols;

use crate::smtp::addr_list::{AddrFailure, Target};

/// Keep the addresses of the families `inet_protocols` enables (the
/// resolver asks only for those; this drops address literals and MX
/// targets written as addresses of the other family). Nothing left: the
/// host is not found (5.4.4), as Postfix's smtp_addr_one() when no lookup
/// gives an address of an enabled family.
pub(crate) fn enabled(
    list: Vec<Target>,
    families: InetProtocols,
    host: &str,
) -> Result<Vec<Target>, AddrFailure> {
    let found = !list.is_empty();
    let list: Vec<Target> = list
        .into_iter()
        .filter(|t| t.socket.is_some() || families.allows(&t.addr))
        .collect();
    if found && list.is_empty() {
        return Err(AddrFailure {
            dsn: "5.4.4".to_string(),
            text: format!("{host}: host not found"),
        });
    }
    Ok(list)
}

/// `smtp_address_preference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPreference {
    Any,
    Ipv4,
    Ipv6,
}

impl AddressPreference {
    /// Parse the parameter value, as Postfix's name_code table (exact names).
    pub(crate) fn parse(value: &str) -> Option<AddressPreference> {
        match value.trim() {
            "any" => Some(AddressPreference::Any),
            "ipv4" => Some(AddressPreference::Ipv4),
            "ipv6" => Some(AddressPreference::Ipv6),
            _ => None,
        }
    }

    fn rank(self, t: &Target) -> u8 {
        match self {
            AddressPreference::Any => 0,
            AddressPreference::Ipv4 => u8::from(!t.addr.is_ipv4()),
            AddressPreference::Ipv6 => u8::from(!t.addr.is_ipv6()),
        }
    }
}

/// Order `list` (already in MX preference order) by family preference
/// within each MX preference, then balance the families within `limit`
/// (0 = no limit) when `balance` is set.
pub(crate) fn arrange(
    mut list: Vec<Target>,
    prefer: AddressPreference,
    balance: bool,
    limit: usize,
) -> Vec<Target> {
    if list.len() < 2 {
        return list;
    }
    list.sort_by_key(|t| (t.pref, prefer.rank(t)));
    if balance && limit > 0 {
        list = balance_families(list, limit);
    }
    list
}

fn balance_families(list: Vec<Target>, limit: usize) -> Vec<Target> {
    let v4 = list.iter().filter(|t| t.addr.is_ipv4()).count();
    let v6 = list.len() - v4;
    if v4 == 0 || v6 == 0 || list.len() <= limit {
        return list;
    }
    let (mut v4_target, mut v6_target) = if v6 <= limit / 2 {
        (limit - v6, v6)
    } else if v4 <= limit / 2 {
        (v4, limit - v4)
    } else {
        let first_v4 = usize::from(list[0].addr.is_ipv4());
        let v4_target = (limit + first_v4) / 2;
        (v4_target, limit - v4_target)
    };
    list.into_iter()
        .filter(|t| {
            let left = if t.addr.is_ipv4() {
                &mut v4_target
            } else {
                &mut v6_target
            };
            if *left > 0 {
                *left -= 1;
                true
            } else {
                false
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pref: u32, addr: &str) -> Target {
        Target {
            host: "mx".to_string(),
            addr: addr.parse().unwrap(),
            port: 25,
            pref,
            socket: None,
        }
    }

    fn addrs(list: &[Target]) -> Vec<String> {
        list.iter()
            .map(|t| format!("{}/{}", t.pref, t.addr))
            .collect()
    }

    #[test]
    fn preference_within_equal_mx_preference() {
        let list = vec![
            t(10, "192.0.2.1"),
            t(10, "2001:db8::1"),
            t(20, "2001:db8::2"),
            t(20, "192.0.2.2"),
        ];
        let got = |p| addrs(&arrange(list.clone(), p, false, 0));
        assert_eq!(
            got(AddressPreference::Ipv6),
            [
                "10/2001:db8::1",
                "10/192.0.2.1",
                "20/2001:db8::2",
                "20/192.0.2.2"
            ]
        );
        assert_eq!(
            got(AddressPreference::Ipv4),
            [
                "10/192.0.2.1",
                "10/2001:db8::1",
                "20/192.0.2.2",
                "20/2001:db8::2"
            ]
        );
        assert_eq!(
            got(AddressPreference::Any),
            [
                "10/192.0.2.1",
                "10/2001:db8::1",
                "20/2001:db8::2",
                "20/192.0.2.2"
            ]
        );
        assert_eq!(AddressPreference::parse("IPv6"), None);
        assert_eq!(
            AddressPreference::parse("ipv6"),
            Some(AddressPreference::Ipv6)
        );
    }

    #[test]
    fn both_families_kept_within_the_limit() {
        // Five IPv6 addresses first, then one IPv4 address: with a limit of
        // 3 Postfix keeps two IPv6 and the IPv4 one.
        let mut list: Vec<Target> = (1..=5).map(|i| t(10, &format!("2001:db8::{i}"))).collect();
        list.push(t(10, "192.0.2.1"));
        let got = addrs(&arrange(list.clone(), AddressPreference::Ipv6, true, 3));
        assert_eq!(got, ["10/2001:db8::1", "10/2001:db8::2", "10/192.0.2.1"]);
        // Without balancing the list is unchanged (the limit cuts it later).
        assert_eq!(
            arrange(list.clone(), AddressPreference::Ipv6, false, 3).len(),
            6
        );
        // Many of both: the first address's family gets the odd one.
        let mut list: Vec<Target> = (1..=3).map(|i| t(10, &format!("192.0.2.{i}"))).collect();
        list.extend((1..=3).map(|i| t(10, &format!("2001:db8::{i}"))));
        let got = addrs(&arrange(list, AddressPreference::Any, true, 3));
        assert_eq!(got, ["10/192.0.2.1", "10/192.0.2.2", "10/2001:db8::1"]);
    }
}
