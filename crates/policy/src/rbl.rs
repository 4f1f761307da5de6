//! DNS block/allow list helpers (docs/dns.md#block-and-allow-lists): building the query
//! name for an IP address (`4.3.2.1.D`, IPv6 nibbles) or a domain
//! (`domain.D`), the `D=pattern` answer filter (Postfix `ip_match`:
//! `127.0.0.2`, `127.0.0.[2..11;15]`), and the reply template expansion
//! (`$rbl_code Service unavailable; ...`, Postfix `mac_expand` subset:
//! `$name`, `${name}`, `$(name)`, `${name?text}`, `${name:text}`).

use std::net::{IpAddr, Ipv4Addr};

use gatepost_proto::hostname::valid_hostname;

/// Split `D=pattern` into the list domain and the optional answer pattern.
pub fn split_domain(rbl: &str) -> (&str, Option<&str>) {
    match rbl.split_once('=') {
        Some((d, p)) => (d, Some(p)),
        None => (rbl, None),
    }
}

/// Query name for a client address under list domain `d` (without `=...`).
pub fn addr_query(addr: IpAddr, d: &str) -> String {
    let mut q = String::new();
    match addr {
        IpAddr::V4(v4) => {
            for o in v4.octets().iter().rev() {
                q.push_str(&format!("{o}."));
            }
        }
        IpAddr::V6(v6) => {
            for b in v6.octets().iter().rev() {
                q.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
        }
    }
    q.push_str(d);
    q
}

/// Query name for a domain-based list, or `None` when Postfix skips the
/// lookup (empty, address literal, numeric last label, invalid hostname).
pub fn domain_query(what: &str, d: &str) -> Option<String> {
    let domain = match what.rfind('@') {
        Some(i) => {
            let dom = &what[i + 1..];
            if dom.starts_with('[') {
                return None;
            }
            dom
        }
        None => what,
    };
    if domain.is_empty() {
        return None;
    }
    let last = domain.rsplit('.').next().unwrap_or(domain);
    if last.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !valid_hostname(domain) {
        return None;
    }
    Some(format!("{domain}.{d}"))
}

/// A parsed `ip_match` pattern: per octet, a list of inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPattern(Vec<Vec<(u8, u8)>>);

impl IpPattern {
    /// Parse `127.0.0.2` or `127.0.0.[2..11;15]`.
    pub fn parse(pattern: &str) -> Result<IpPattern, String> {
        let bad = |why: &str| format!("RBL reply error: {why}: \"{pattern}\"");
        let mut octets = Vec::new();
        let mut rest = pattern;
        loop {
            let (item, tail) = if let Some(inner) = rest.strip_prefix('[') {
                let end = inner.find(']').ok_or_else(|| bad("missing \"]\""))?;
                (&inner[..end], &inner[end + 1..])
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            let mut ranges = Vec::new();
            for part in item.split(';') {
                let (lo, hi) = match part.split_once("..") {
                    Some((a, b)) => (a, b),
                    None => (part, part),
                };
                let lo: u8 = lo.trim().parse().map_err(|_| bad("bad octet value"))?;
                let hi: u8 = hi.trim().parse().map_err(|_| bad("bad octet value"))?;
                if lo > hi {
                    return Err(bad("bad octet range"));
                }
                ranges.push((lo, hi));
            }
            octets.push(ranges);
            if tail.is_empty() {
                break;
            }
            rest = tail
                .strip_prefix('.')
                .ok_or_else(|| bad("expected \".\""))?;
        }
        if octets.len() != 4 {
            return Err(bad("need four octets"));
        }
        Ok(IpPattern(octets))
    }

    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        addr.octets()
            .iter()
            .zip(&self.0)
            .all(|(o, ranges)| ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&o)))
    }
}

/// Expand a reply template. `lookup` returns `None` for unknown names.
/// Errors on unbalanced braces (Postfix then falls back to the default).
pub fn expand(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let first = after.chars().next();
        match first {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some(open @ ('{' | '(')) => {
                let close = if open == '{' { '}' } else { ')' };
                let body_start = 1;
                let mut depth = 1;
                let mut end = None;
                for (i, c) in after[body_start..].char_indices() {
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(body_start + i);
                            break;
                        }
                    }
                }
                let end = end.ok_or_else(|| format!("unbalanced {open} in \"{template}\""))?;
                let body = &after[body_start..end];
                let name_len = body
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                let name = &body[..name_len];
                if name.is_empty() {
                    return Err(format!("empty parameter name in \"{template}\""));
                }
                let value = lookup(name).unwrap_or_default();
                match body[name_len..].chars().next() {
                    None => out.push_str(&value),
                    Some('?') => {
                        if !value.is_empty() {
                            out.push_str(&expand(&body[name_len + 1..], lookup)?);
                        }
                    }
                    Some(':') => {
                        if value.is_empty() {
                            out.push_str(&expand(&body[name_len + 1..], lookup)?);
                        } else {
                            out.push_str(&value);
                        }
                    }
                    Some(_) => return Err(format!("bad parameter syntax in \"{template}\"")),
                }
                rest = &after[end + 1..];
            }
            _ => {
                let name_len = after
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                if name_len == 0 {
                    out.push('$');
                    rest = after;
                } else {
                    out.push_str(&lookup(&after[..name_len]).unwrap_or_default());
                    rest = &after[name_len..];
                }
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry default of `default_rbl_reply`, unexpanded.
    fn default_rbl_reply() -> String {
        gatepost_config::Config::defaults().raw_value(&gatepost_config::params::DEFAULT_RBL_REPLY)
    }

    #[test]
    fn queries() {
        assert_eq!(
            addr_query("1.2.3.4".parse().unwrap(), "bl.example"),
            "4.3.2.1.bl.example"
        );
        let q = addr_query("2001:db8::1".parse().unwrap(), "bl.example");
        assert!(q.starts_with("1.0.0.0.0.0.0.0"));
        assert!(q.ends_with("8.b.d.0.1.0.0.2.bl.example"));
        assert_eq!(q.matches('.').count(), 32 + 1);
        assert_eq!(
            domain_query("a@Spam.Example", "rhs.test").as_deref(),
            Some("Spam.Example.rhs.test")
        );
        assert_eq!(
            domain_query("host.example", "rhs.test").as_deref(),
            Some("host.example.rhs.test")
        );
        assert_eq!(domain_query("a@[1.2.3.4]", "rhs.test"), None);
        assert_eq!(domain_query("a@1.2.3.4", "rhs.test"), None);
        assert_eq!(domain_query("", "rhs.test"), None);
        assert_eq!(domain_query("bad_name!", "rhs.test"), None);
    }

    #[test]
    fn patterns() {
        let p = IpPattern::parse("127.0.0.[2..11;15]").unwrap();
        assert!(p.matches(Ipv4Addr::new(127, 0, 0, 2)));
        assert!(p.matches(Ipv4Addr::new(127, 0, 0, 11)));
        assert!(p.matches(Ipv4Addr::new(127, 0, 0, 15)));
        assert!(!p.matches(Ipv4Addr::new(127, 0, 0, 12)));
        assert!(IpPattern::parse("127.0.0.2")
            .unwrap()
            .matches(Ipv4Addr::new(127, 0, 0, 2)));
        assert!(IpPattern::parse("127.0.0").is_err());
        assert!(IpPattern::parse("127.0.0.[2").is_err());
        assert_eq!(
            split_domain("bl.example=127.0.0.2"),
            ("bl.example", Some("127.0.0.2"))
        );
    }

    #[test]
    fn templates() {
        let vars = |n: &str| match n {
            "rbl_code" => Some("554".to_string()),
            "rbl_class" => Some("Client host".to_string()),
            "rbl_what" => Some("192.0.2.1".to_string()),
            "rbl_domain" => Some("bl.example".to_string()),
            "rbl_reason" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            expand(&default_rbl_reply(), &vars).unwrap(),
            "554 Service unavailable; Client host [192.0.2.1] blocked using bl.example"
        );
        let with_txt = |n: &str| {
            if n == "rbl_reason" {
                Some("listed".to_string())
            } else {
                vars(n)
            }
        };
        assert_eq!(
            expand(&default_rbl_reply(), &with_txt).unwrap(),
            "554 Service unavailable; Client host [192.0.2.1] blocked using bl.example; listed"
        );
        assert_eq!(
            expand("${x:dflt} $$ $(rbl_code)", &vars).unwrap(),
            "dflt $ 554"
        );
        assert!(expand("${rbl_code", &vars).is_err());
    }
}
