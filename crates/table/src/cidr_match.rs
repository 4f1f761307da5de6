//! CIDR patterns as Postfix's `cidr_match_parse()` reads them: `addr`,
//! `addr/len`, `[addr]`, `[addr]/len`, `[addr/len]`, optional leading `!`
//! (negation). Host bits set under the mask are refused with Postfix's text
//! (`non-null host address bits in "127.0.0.1/8", perhaps you should use
//! "127.0.0.0/8" instead`). Used by `cidr:` tables and network lists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CidrPattern {
    pub net: IpAddr,
    pub prefix: u8,
    /// False when the pattern was negated with `!`.
    pub positive: bool,
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask(width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let all = if width == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    // prefix >= 1, so the shift is at most 127.
    let host = width.saturating_sub(prefix);
    all & !((1u128 << host) - 1)
}

fn from_bits(v4: bool, value: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from((value & u128::from(u32::MAX)) as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

fn parse_addr(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// Parse one pattern; the error is Postfix's text.
pub(crate) fn parse_cidr(pattern: &str) -> Result<CidrPattern, String> {
    let mut positive = true;
    let mut rest = pattern;
    while let Some(r) = rest.strip_prefix('!') {
        positive = !positive;
        rest = r;
    }
    if rest.is_empty() {
        return Err("no pattern".to_string());
    }
    // Strip [] from [addr/len] or [addr]/len.
    let (addr_text, mask_text): (String, Option<String>) =
        if let Some(inner) = rest.strip_prefix('[') {
            let Some((inside, after)) = inner.split_once(']') else {
                return Err(format!("missing ']' character after \"[{inner}\""));
            };
            if let Some(m) = after.strip_prefix('/') {
                (inside.to_string(), Some(m.to_string()))
            } else if !after.is_empty() {
                return Err(format!("garbage after \"[{inside}]\""));
            } else {
                match inside.split_once('/') {
                    Some((a, m)) => (a.to_string(), Some(m.to_string())),
                    None => (inside.to_string(), None),
                }
            }
        } else {
            match rest.split_once('/') {
                Some((a, m)) => (a.to_string(), Some(m.to_string())),
                None => (rest.to_string(), None),
            }
        };
    match mask_text {
        Some(m) => {
            let v6 = addr_text.contains(':');
            let w: u8 = if v6 { 128 } else { 32 };
            let prefix = if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) {
                m.parse::<u8>().ok().filter(|p| *p <= w)
            } else {
                None
            };
            let net = parse_addr(&addr_text);
            let (Some(prefix), Some(net)) = (prefix, net) else {
                return Err(format!("bad net/mask pattern: \"{addr_text}/{m}\""));
            };
            let mbits = mask(w, prefix);
            if bits(net) & !mbits != 0 {
                let fixed = from_bits(!v6, bits(net) & mbits);
                return Err(format!(
                    "non-null host address bits in \"{addr_text}/{m}\", \
                     perhaps you should use \"{fixed}/{prefix}\" instead"
                ));
            }
            Ok(CidrPattern {
                net,
                prefix,
                positive,
            })
        }
        None => {
            let Some(net) = parse_addr(&addr_text) else {
                return Err(format!("bad address pattern: \"{addr_text}\""));
            };
            Ok(CidrPattern {
                net,
                prefix: width(net),
                positive,
            })
        }
    }
}

impl CidrPattern {
    /// Whether `addr` is inside the network (negation not applied).
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        if addr.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        let m = mask(width(addr), self.prefix);
        bits(addr) & m == bits(self.net) & m
    }

    /// Postfix's match result: same family and (inside XOR negated).
    pub(crate) fn matches(&self, addr: IpAddr) -> bool {
        if addr.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        self.contains(addr) == self.positive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_match() {
        let cases: &[(&str, &str, bool)] = &[
            ("127.0.0.0/8", "127.1.2.3", true),
            ("127.0.0.0/8", "128.0.0.1", false),
            ("10.0.0.1", "10.0.0.1", true),
            ("10.0.0.1", "10.0.0.2", false),
            ("0.0.0.0/0", "192.0.2.1", true),
            ("0.0.0.0/0", "::1", false),
            ("[::1]", "::1", true),
            ("[::1]/128", "::1", true),
            ("[2001:db8::]/32", "2001:db8:1::5", true),
            ("[2001:db8::/32]", "2001:db9::5", false),
            ("2001:db8::/32", "2001:db8::5", true),
            ("!192.168.0.0/16", "10.1.1.1", true),
            ("!192.168.0.0/16", "192.168.1.1", false),
            ("!192.168.0.0/16", "::1", false),
            ("::/0", "fe80::1", true),
            ("192.0.2.128/25", "192.0.2.200", true),
            ("192.0.2.128/25", "192.0.2.100", false),
        ];
        for (pat, addr, want) in cases {
            let p = parse_cidr(pat).unwrap_or_else(|e| panic!("{pat}: {e}"));
            assert_eq!(p.matches(ip(addr)), *want, "{pat} vs {addr}");
        }
    }

    #[test]
    fn postfix_errors() {
        let cases = [
            (
                "127.0.0.1/8",
                "non-null host address bits in \"127.0.0.1/8\", perhaps you should use \"127.0.0.0/8\" instead",
            ),
            (
                "[2001:db8::1]/64",
                "non-null host address bits in \"2001:db8::1/64\", perhaps you should use \"2001:db8::/64\" instead",
            ),
            ("1.2.3.0/33", "bad net/mask pattern: \"1.2.3.0/33\""),
            ("1.2.3.0/x", "bad net/mask pattern: \"1.2.3.0/x\""),
            ("1.2.3/24", "bad net/mask pattern: \"1.2.3/24\""),
            ("1.2.3", "bad address pattern: \"1.2.3\""),
            ("[::1", "missing ']' character after \"[::1\""),
            ("[::1]x", "garbage after \"[::1]\""),
            ("!", "no pattern"),
        ];
        for (pat, want) in cases {
            assert_eq!(parse_cidr(pat).unwrap_err(), want, "{pat}");
        }
    }
}
