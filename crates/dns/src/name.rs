//! Domain names from DNS replies as text, and Postfix's `valid_rr_name()`
//! (global/dns_lookup.c, docs/dns.md#names-in-dns-replies): numeric names are accepted
//! with a warning, names that fail `valid_hostname` (wildcard first label
//! allowed) are rejected with Postfix's two warning lines.
//!
//! Names are rendered as libresolv's `dn_expand()` does: no trailing dot
//! (the root is the empty string), `.;\()@$"` inside a label escaped with a
//! backslash, bytes outside `!`..`~` as `\DDD` (decimal). Every label is at
//! most 63 bytes and a name at most 255 (the wire format bounds them), so
//! the text is bounded too.

use hickory_proto::rr::Name;

use gatepost_proto::hostname::{check_hostname_wildcard, cut100, valid_hostaddr};

/// `dn_expand()` text of a wire name.
pub fn name_to_text(name: &Name) -> String {
    let mut out = String::new();
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for &b in label {
            match b {
                b'.' | b';' | b'\\' | b'(' | b')' | b'@' | b'$' | b'"' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x21..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
    }
    out
}

/// Where a name sits in a record: `resource name` (owner) or `resource data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    ResourceName,
    ResourceData,
}

impl Location {
    pub fn text(self) -> &'static str {
        match self {
            Location::ResourceName => "resource name",
            Location::ResourceData => "resource data",
        }
    }
}

/// `valid_rr_name()`: `true` to keep the name. Warnings (without the
/// `warning: ` prefix) are appended to `warnings` in Postfix's order.
pub fn valid_rr_name(
    name: &str,
    location: Location,
    rtype: &str,
    qname: &str,
    warnings: &mut Vec<String>,
) -> bool {
    let (keep, gripe) = if valid_hostaddr(name) {
        (true, Some("numeric domain name"))
    } else if let Err(why) = check_hostname_wildcard(name) {
        warnings.push(why);
        (false, Some("malformed domain name"))
    } else {
        (true, None)
    };
    if let Some(gripe) = gripe {
        warnings.push(format!(
            "{gripe} in {} of {rtype} record for {qname}: {}",
            location.text(),
            cut100(name)
        ));
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_dn_expand() {
        let cases: &[(&[&[u8]], &str)] = &[
            (&[b"mx", b"example", b"com"], "mx.example.com"),
            (&[], ""),
            (&[b"a b", b"example"], "a\\032b.example"),
            (&[b"a.b", b"example"], "a\\.b.example"),
            (&[b"-bad", b"example"], "-bad.example"),
            (&[b"*", b"example"], "*.example"),
        ];
        for (labels, want) in cases {
            let name = Name::from_labels(labels.iter().copied()).unwrap();
            assert_eq!(name_to_text(&name), *want);
        }
    }

    #[test]
    fn rr_name_checks() {
        let cases: &[(&str, bool, &[&str])] = &[
            ("mx.example.com", true, &[]),
            ("*.example.com", true, &[]),
            (
                "192.0.2.1",
                true,
                &["numeric domain name in resource data of MX record for neticks.test: 192.0.2.1"],
            ),
            (
                "-bad.example",
                false,
                &[
                    "valid_hostname: misplaced hyphen: -bad.example",
                    "malformed domain name in resource data of MX record for neticks.test: -bad.example",
                ],
            ),
            (
                "1.2.3",
                false,
                &[
                    "valid_hostname: numeric hostname: 1.2.3",
                    "malformed domain name in resource data of MX record for neticks.test: 1.2.3",
                ],
            ),
            (
                "",
                false,
                &[
                    "valid_hostname: empty hostname",
                    "malformed domain name in resource data of MX record for neticks.test: ",
                ],
            ),
        ];
        for (name, keep, want) in cases {
            let mut w = Vec::new();
            let got = valid_rr_name(name, Location::ResourceData, "MX", "neticks.test", &mut w);
            assert_eq!(got, *keep, "{name}");
            assert_eq!(w, want.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
    }
}
