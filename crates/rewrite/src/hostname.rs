//! Syntax checks on the final domain of a resolved address, Postfix's
//! `valid_hostname`, `valid_hostaddr` and `valid_mailhost_literal`
//! (docs/dns.md#host-name-validation): a hostname of `[A-Za-z0-9_-.]` labels, not
//! all-numeric; an address literal `[ipv4]` or `[IPv6:ipv6]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const MAX_HOSTNAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;

/// `valid_hostname(name)`: labels of letters, digits, `_` and `-` (not at a
/// label's start or end), no empty label, label ≤ 63, total ≤ 255, and not
/// all-numeric.
pub(crate) fn valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_HOSTNAME_LEN {
        return false;
    }
    let mut non_numeric = false;
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return false;
        }
        if label.starts_with('-') || label.ends_with('-') {
            return false;
        }
        for ch in label.chars() {
            match ch {
                '0'..='9' => {}
                'a'..='z' | 'A'..='Z' | '_' | '-' => non_numeric = true,
                _ => return false,
            }
        }
    }
    non_numeric
}

/// `valid_ipv4_hostaddr`: exactly four dotted decimal octets 0–255 (leading
/// zeros accepted); a leading `0` octet only in `0.0.0.0`.
pub(crate) fn valid_ipv4_hostaddr(addr: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut count = 0;
    for field in addr.split('.') {
        if count == 4 || field.is_empty() || field.len() > 3 {
            return None;
        }
        if !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u16 = field.parse().ok()?;
        octets[count] = u8::try_from(value).ok()?;
        count += 1;
    }
    if count != 4 {
        return None;
    }
    if octets[0] == 0 && octets != [0, 0, 0, 0] {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// `valid_ipv6_hostaddr`: hex fields of at most four digits, 2 to 7 colons,
/// at most one `::`, an optional trailing IPv4 dotted quad; no brackets, no
/// `IPv6:` prefix, no zone.
pub(crate) fn valid_ipv6_hostaddr(addr: &str) -> Option<Ipv6Addr> {
    let colons = addr.matches(':').count();
    if !(2..=7).contains(&colons) {
        return None;
    }
    if addr.matches("::").count() > 1 {
        return None;
    }
    addr.parse().ok()
}

/// `valid_hostaddr`: IPv6 when the text contains `:`, else IPv4.
pub(crate) fn valid_hostaddr(addr: &str) -> Option<IpAddr> {
    if addr.contains(':') {
        valid_ipv6_hostaddr(addr).map(IpAddr::V6)
    } else {
        valid_ipv4_hostaddr(addr).map(IpAddr::V4)
    }
}

/// `valid_mailhost_addr`: the inside of an address literal, `ipv4` or
/// `IPv6:ipv6` (prefix case-insensitive).
pub(crate) fn valid_mailhost_addr(inner: &str) -> Option<IpAddr> {
    match inner.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("IPv6:") => {
            valid_ipv6_hostaddr(&inner[5..]).map(IpAddr::V6)
        }
        _ => valid_ipv4_hostaddr(inner).map(IpAddr::V4),
    }
}

/// `valid_mailhost_literal`: `[ipv4]` or `[IPv6:ipv6]`.
pub(crate) fn valid_mailhost_literal(literal: &str) -> Option<IpAddr> {
    let inner = literal.strip_prefix('[')?.strip_suffix(']')?;
    valid_mailhost_addr(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_table() {
        let long_label = "a".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("spec.test", true),
            ("mx.spec.test", true),
            ("MX.Spec.Test", true),
            ("under_score.test", true),
            ("a-b.test", true),
            ("localhost", true),
            ("1.2.3.4", false),
            ("123", false),
            ("", false),
            (".spec.test", false),
            ("spec..test", false),
            ("spec.test.", false),
            ("-a.test", false),
            ("a-.test", false),
            ("sp ec.test", false),
            ("*.test", false),
            ("[1.2.3.4]", false),
            (&long_label, false),
        ];
        for (name, ok) in cases {
            assert_eq!(valid_hostname(name), *ok, "{name:?}");
        }
    }

    #[test]
    fn hostaddr_table() {
        let cases: &[(&str, bool)] = &[
            ("1.2.3.4", true),
            ("010.001.002.003", true),
            ("0.0.0.0", true),
            ("0.1.2.3", false),
            ("1.2.3", false),
            ("1.2.3.4.5", false),
            ("1.2.3.256", false),
            ("::1", true),
            ("fd00::2", true),
            ("::ffff:1.2.3.4", true),
            ("1:2", false),
            ("1::2::3", false),
            ("12345::1", false),
            ("1:2:3:4:5:6:7:8:9", false),
        ];
        for (addr, ok) in cases {
            assert_eq!(valid_hostaddr(addr).is_some(), *ok, "{addr:?}");
        }
    }

    #[test]
    fn literal_table() {
        let cases: &[(&str, bool)] = &[
            ("[10.9.9.9]", true),
            ("[127.0.0.1]", true),
            ("[IPv6:::1]", true),
            ("[ipv6:fd00::2]", true),
            ("[::1]", false),
            ("[1.2.3]", false),
            ("[foo]", false),
            ("10.9.9.9", false),
            ("[10.9.9.9", false),
        ];
        for (lit, ok) in cases {
            assert_eq!(valid_mailhost_literal(lit).is_some(), *ok, "{lit:?}");
        }
    }
}
