//! Postfix's `valid_hostname()`, `valid_hostaddr()` and
//! `valid_mailhost_addr()` (util/valid_hostname.c, global/valid_mailhost_addr.c,
//! docs/dns.md#host-name-validation), the one implementation for every caller:
//! the DNS crate (every name in an answer, docs/dns.md#names-in-dns-replies),
//! the restriction engine (HELO and sender/recipient domains) and address
//! resolution (final domains and address literals). Each check returns
//! `Err(warning)` with Postfix's warning text (without the `warning: `
//! prefix) so that callers that "gripe" can log it and callers that don't
//! can ignore it.
//!
//! Input is untrusted; names are cut to 100 characters in warnings, as in
//! Postfix (`%.100s`).

use std::net::{IpAddr, Ipv4Addr};

/// Maximal length of a hostname (`VALID_HOSTNAME_LEN`).
pub const VALID_HOSTNAME_LEN: usize = 255;
/// Maximal length of one label (`VALID_LABEL_LEN`).
pub const VALID_LABEL_LEN: usize = 63;

/// At most the first 100 characters of `s` (Postfix `%.100s`).
pub fn cut100(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `valid_hostname(name, DO_GRIPE)` without wildcard support.
pub fn check_hostname(name: &str) -> Result<(), String> {
    check_hostname_flags(name, false)
}

/// As [`check_hostname`], but allows `*` as the whole first label (names taken
/// from DNS replies, `VALID_HOSTNAME_FLAG_WILDC`).
pub fn check_hostname_wildcard(name: &str) -> Result<(), String> {
    check_hostname_flags(name, true)
}

fn check_hostname_flags(name: &str, wildcard: bool) -> Result<(), String> {
    const ME: &str = "valid_hostname";
    if name.is_empty() {
        return Err(format!("{ME}: empty hostname"));
    }
    let bytes = name.as_bytes();
    let mut label_length = 0usize;
    let mut non_numeric = false;
    for (i, &ch) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied();
        if ch.is_ascii_alphanumeric() || ch == b'_' {
            label_length += 1;
            if label_length > VALID_LABEL_LEN {
                return Err(format!("{ME}: hostname label too long: {}", cut100(name)));
            }
            if !ch.is_ascii_digit() {
                non_numeric = true;
            }
        } else if wildcard && ch == b'*' && i == 0 && next == Some(b'.') {
            label_length += 1;
            non_numeric = true;
        } else if ch == b'.' {
            if label_length == 0 || next.is_none() {
                return Err(format!("{ME}: misplaced delimiter: {}", cut100(name)));
            }
            label_length = 0;
        } else if ch == b'-' {
            non_numeric = true;
            label_length += 1;
            if label_length == 1 || next.is_none() || next == Some(b'.') {
                return Err(format!("{ME}: misplaced hyphen: {}", cut100(name)));
            }
        } else {
            return Err(format!(
                "{ME}: invalid character {}(decimal): {}",
                ch,
                cut100(name)
            ));
        }
    }
    if !non_numeric {
        return Err(format!("{ME}: numeric hostname: {}", cut100(name)));
    }
    if bytes.len() > VALID_HOSTNAME_LEN {
        return Err(format!(
            "{ME}: bad length {} for {}...",
            bytes.len(),
            cut100(name)
        ));
    }
    Ok(())
}

/// `valid_hostname(name, DONT_GRIPE)`.
pub fn valid_hostname(name: &str) -> bool {
    check_hostname(name).is_ok()
}

/// `valid_hostaddr()`: IPv6 when the text contains `:`, else IPv4.
pub fn check_hostaddr(addr: &str) -> Result<(), String> {
    if addr.is_empty() {
        return Err("valid_hostaddr: empty address".to_string());
    }
    if addr.contains(':') {
        check_ipv6_hostaddr(addr)
    } else {
        check_ipv4_hostaddr(addr)
    }
}

/// `valid_hostaddr(addr, DONT_GRIPE)`.
pub fn valid_hostaddr(addr: &str) -> bool {
    check_hostaddr(addr).is_ok()
}

/// `valid_ipv4_hostaddr()`: four dotted decimal octets; a leading `0` octet
/// only in `0.0.0.0`.
pub fn check_ipv4_hostaddr(addr: &str) -> Result<(), String> {
    const ME: &str = "valid_ipv4_hostaddr";
    let bytes = addr.as_bytes();
    let mut in_byte = false;
    let mut byte_count = 0;
    let mut byte_val: u32 = 0;
    for (i, &ch) in bytes.iter().enumerate() {
        if ch.is_ascii_digit() {
            if !in_byte {
                in_byte = true;
                byte_val = 0;
                byte_count += 1;
            }
            byte_val = byte_val * 10 + u32::from(ch - b'0');
            if byte_val > 255 {
                return Err(format!("{ME}: invalid octet value: {}", cut100(addr)));
            }
        } else if ch == b'.' {
            if !in_byte || i + 1 == bytes.len() {
                return Err(format!("{ME}: misplaced dot: {}", cut100(addr)));
            }
            let all_zero = addr.bytes().all(|c| c == b'0' || c == b'.');
            if byte_count == 1 && byte_val == 0 && !all_zero {
                return Err(format!("{ME}: bad initial octet value: {}", cut100(addr)));
            }
            in_byte = false;
        } else {
            return Err(format!(
                "{ME}: invalid character {}(decimal): {}",
                ch,
                cut100(addr)
            ));
        }
    }
    if byte_count != 4 {
        return Err(format!(
            "{ME}: invalid byte count: {}: {}",
            byte_count,
            cut100(addr)
        ));
    }
    Ok(())
}

/// `valid_ipv6_hostaddr()`: hex fields of at most 4 digits, 2..=7 colons, at
/// most one `::`, optional trailing IPv4 dotted quad.
pub fn check_ipv6_hostaddr(addr: &str) -> Result<(), String> {
    const ME: &str = "valid_ipv6_hostaddr";
    let bytes = addr.as_bytes();
    let mut null_field = 0usize;
    let mut field = 0usize;
    let mut len = 0usize;
    let mut i = 0usize;
    loop {
        match bytes.get(i).copied() {
            None => {
                if field < 2 {
                    return Err(format!(
                        "{ME}: too few `:' in IPv6 address: {}",
                        cut100(addr)
                    ));
                } else if len == 0 && null_field + 1 != field {
                    return Err(format!(
                        "{ME}: bad null last field in IPv6 address: {}",
                        cut100(addr)
                    ));
                }
                return Ok(());
            }
            Some(b'.') => {
                if !(2..=6).contains(&field) {
                    return Err(format!(
                        "{ME}: malformed IPv4-in-IPv6 address: {}",
                        cut100(addr)
                    ));
                }
                return check_ipv4_hostaddr(&addr[i - len..]);
            }
            Some(b':') => {
                let next = bytes.get(i + 1).copied();
                if field == 0 && len == 0 && next.is_some_and(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!(
                        "{ME}: bad null first field in IPv6 address: {}",
                        cut100(addr)
                    ));
                }
                field += 1;
                if field > 7 {
                    return Err(format!(
                        "{ME}: too many `:' in IPv6 address: {}",
                        cut100(addr)
                    ));
                }
                i += 1;
                len = 0;
                if bytes.get(i) == Some(&b':') {
                    if null_field > 0 {
                        return Err(format!(
                            "{ME}: too many `::' in IPv6 address: {}",
                            cut100(addr)
                        ));
                    }
                    null_field = field;
                }
            }
            Some(ch) => {
                len = bytes[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                if len > 4 {
                    return Err(format!("{ME}: malformed IPv6 address: {}", cut100(addr)));
                }
                if len == 0 {
                    return Err(format!(
                        "{ME}: invalid character {}(decimal) in IPv6 address: {}",
                        ch,
                        cut100(addr)
                    ));
                }
                i += len;
            }
        }
    }
}

/// `valid_mailhost_addr()`: the inside of an address literal, `ipv4` or
/// `IPv6:ipv6`. Returns the bare address when valid.
pub fn valid_mailhost_addr(addr: &str) -> Option<&str> {
    const IPV6_COL: &str = "IPv6:";
    let is_v6 = addr.len() >= IPV6_COL.len()
        && addr.as_bytes()[..IPV6_COL.len()].eq_ignore_ascii_case(IPV6_COL.as_bytes());
    if is_v6 {
        let bare = &addr[IPV6_COL.len()..];
        check_ipv6_hostaddr(bare).ok().map(|_| bare)
    } else {
        check_ipv4_hostaddr(addr).ok().map(|_| addr)
    }
}

/// `valid_mailhost_literal()`: a `[...]` address literal.
pub fn valid_mailhost_literal(literal: &str) -> bool {
    literal.len() > 2
        && literal.starts_with('[')
        && literal.ends_with(']')
        && valid_mailhost_addr(&literal[1..literal.len() - 1]).is_some()
}

/// The address named by text that passed [`check_hostaddr`], as Postfix's
/// `hostaddr_to_sockaddr()` turns it into a socket address (`resolve_local`
/// compares it with the machine's own addresses). IPv4 octets are decimal
/// (`010` is ten); `None` for an IPv6 text that passes the syntax check
/// but names no address (`1:2:3`), as in Postfix.
pub fn hostaddr_to_ip(addr: &str) -> Option<IpAddr> {
    check_hostaddr(addr).ok()?;
    if !addr.contains(':') {
        return dotted_decimal(addr).map(IpAddr::V4);
    }
    match addr.rfind(':') {
        Some(pos) if addr[pos + 1..].contains('.') => {
            let v4 = dotted_decimal(&addr[pos + 1..])?;
            format!("{}{v4}", &addr[..=pos]).parse().ok()
        }
        _ => addr.parse().ok(),
    }
}

/// Four decimal octets (leading zeros allowed) of a valid IPv4 text.
fn dotted_decimal(addr: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut fields = addr.split('.');
    for octet in &mut octets {
        *octet = fields.next()?.parse().ok()?;
    }
    fields.next().is_none().then_some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        let cases: &[(&str, Result<(), &str>)] = &[
            ("example.com", Ok(())),
            ("under_score.example", Ok(())),
            ("a-b.c", Ok(())),
            ("", Err("valid_hostname: empty hostname")),
            (
                "bad_name!",
                Err("valid_hostname: invalid character 33(decimal): bad_name!"),
            ),
            (".lead", Err("valid_hostname: misplaced delimiter: .lead")),
            ("a..b", Err("valid_hostname: misplaced delimiter: a..b")),
            ("trail.", Err("valid_hostname: misplaced delimiter: trail.")),
            ("-a.b", Err("valid_hostname: misplaced hyphen: -a.b")),
            ("a-.b", Err("valid_hostname: misplaced hyphen: a-.b")),
            ("1.2.3.4", Err("valid_hostname: numeric hostname: 1.2.3.4")),
            (
                "1.2.3.0004",
                Err("valid_hostname: numeric hostname: 1.2.3.0004"),
            ),
            ("MX.Spec.Test", Ok(())),
            ("localhost", Ok(())),
            (
                "sp ec.test",
                Err("valid_hostname: invalid character 32(decimal): sp ec.test"),
            ),
            (
                "[1.2.3.4]",
                Err("valid_hostname: invalid character 91(decimal): [1.2.3.4]"),
            ),
            (
                "*.example",
                Err("valid_hostname: invalid character 42(decimal): *.example"),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(check_hostname(name), want.map_err(str::to_string), "{name}");
        }
        let long_label = "a".repeat(64);
        assert_eq!(
            check_hostname(&long_label),
            Err(format!(
                "valid_hostname: hostname label too long: {long_label}"
            ))
        );
        let long_name = vec!["a".repeat(60); 5].join(".");
        assert!(check_hostname(&long_name)
            .unwrap_err()
            .starts_with("valid_hostname: bad length 304 for "));
        assert!(check_hostname_wildcard("*.example").is_ok());
        assert!(check_hostname_wildcard("a.*.example").is_err());
    }

    #[test]
    fn hostaddrs() {
        let cases: &[(&str, bool)] = &[
            ("1.2.3.4", true),
            ("0.0.0.0", true),
            ("01.2.3.4", true),
            ("010.001.002.003", true),
            // Postfix limits an octet's value, not its digits.
            ("1.2.3.0004", true),
            ("1.2.3.0256", false),
            ("1.2.3.4.5", false),
            ("0.1.2.3", false),
            ("1.2.3", false),
            ("256.1.1.1", false),
            ("1.2.3.4.", false),
            ("::1", true),
            ("1:2", false),
            ("fe80::1", true),
            ("::ffff:1.2.3.4", true),
            ("1:2:3:4:5:6:7:8", true),
            ("1:2:3:4:5:6:7:8:9", false),
            ("1::2::3", false),
            ("12345::1", false),
            ("", false),
        ];
        for (addr, ok) in cases {
            assert_eq!(valid_hostaddr(addr), *ok, "{addr}");
        }
    }

    #[test]
    fn hostaddr_values() {
        let cases: &[(&str, Option<&str>)] = &[
            ("1.2.3.0004", Some("1.2.3.4")),
            ("010.001.002.003", Some("10.1.2.3")),
            ("::1", Some("::1")),
            ("::ffff:01.2.3.4", Some("::ffff:1.2.3.4")),
            ("1:2:3", None),
            ("0.1.2.3", None),
        ];
        for (addr, want) in cases {
            let want = want.map(|w| w.parse::<IpAddr>().unwrap());
            assert_eq!(hostaddr_to_ip(addr), want, "{addr}");
        }
    }

    #[test]
    fn literals() {
        assert!(valid_mailhost_literal("[127.0.0.1]"));
        assert!(valid_mailhost_literal("[IPv6:::1]"));
        assert!(valid_mailhost_literal("[ipv6:fe80::1]"));
        assert!(!valid_mailhost_literal("[1.2.3]"));
        assert!(!valid_mailhost_literal("[::1]"));
        assert!(!valid_mailhost_literal("[]"));
        assert!(valid_mailhost_literal("[1.2.3.0004]"));
        assert!(!valid_mailhost_literal("[foo]"));
        assert!(!valid_mailhost_literal("10.9.9.9"));
        assert!(!valid_mailhost_literal("[10.9.9.9"));
    }

    /// The address-resolution cases (names the resolver accepts as domains).
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

    /// The address-resolution cases for bare addresses.
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
            ("1.2.3.0004", true),
            ("::1", true),
            ("fd00::2", true),
            ("::ffff:1.2.3.4", true),
            ("1:2", false),
            ("1::2::3", false),
            ("12345::1", false),
            ("1:2:3:4:5:6:7:8:9", false),
        ];
        for (addr, ok) in cases {
            assert_eq!(valid_hostaddr(addr), *ok, "{addr:?}");
        }
    }

    /// The address-resolution cases for address literals.
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
            assert_eq!(valid_mailhost_literal(lit), *ok, "{lit:?}");
        }
    }
}
