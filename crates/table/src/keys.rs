//! Postfix's access-table lookup sequences (smtpd_check.c
//! `check_domain_access()`, `check_addr_access()`, and
//! `mail_addr_find_strategy()` as used by `check_mail_access()`).
//!
//! The keys are returned in lookup order; the first key found decides.
//! Only the first key of each sequence is a "full" key: pattern tables
//! (`regexp:`, `pcre:`, `cidr:`; [`crate::TableKind`] other than `Exact`) are
//! asked the full key only, as in Postfix. Keys keep the caller's case;
//! exact tables fold them.

use std::net::IpAddr;

/// Keys for a hostname/domain: `sub.example.com`, `example.com`, `com` (or
/// `.example.com`, `.com` without parent matching). A numeric name (an IP
/// address) gets only itself: no parent lookups.
pub fn domain_keys(name: &str, parent_matches_subdomains: bool) -> Vec<String> {
    let mut keys = vec![];
    if name.is_empty() {
        return keys;
    }
    keys.push(name.to_string());
    if name.parse::<IpAddr>().is_ok() {
        return keys;
    }
    keys.extend(parent_keys(name, parent_matches_subdomains));
    keys
}

/// Parent domains of `name` after the name itself: `example.com`, `com`, or
/// `.example.com`, `.com` when `parent` is false. Follows Postfix's
/// `strchr(name + 1, '.')` walk exactly (a trailing dot yields no empty key).
pub(crate) fn parent_keys(name: &str, parent: bool) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = &name[pos..];
        let Some(first) = rest.chars().next() else {
            break;
        };
        let skip = first.len_utf8();
        let Some(dot) = rest[skip..].find('.') else {
            break;
        };
        pos += skip + dot + usize::from(parent);
        if pos >= name.len() {
            break;
        }
        keys.push(name[pos..].to_string());
    }
    keys
}

/// IP keys: `1.2.3.4`, `1.2.3`, `1.2`, `1`; IPv6: the compressed lower-case
/// text, then truncated at its last `:` again and again
/// (`2001:db8::1`, `2001:db8:`, `2001:db8`, `2001`).
pub fn ip_keys(addr: IpAddr) -> Vec<String> {
    let text = addr.to_string();
    let delim = if addr.is_ipv4() { '.' } else { ':' };
    let mut keys = vec![text.clone()];
    let mut cur = text.as_str();
    while let Some(pos) = cur.rfind(delim) {
        cur = &cur[..pos];
        keys.push(cur.to_string());
    }
    keys
}

/// Postfix `split_addr()`: the local part without its extension, or None
/// when it has no (splittable) extension. `postmaster`, `MAILER-DAEMON` and
/// `double-bounce` are never split; with `-` among the delimiters neither
/// are `owner-*` and `*-request`.
pub fn strip_extension(localpart: &str, delimiters: &str) -> Option<String> {
    if delimiters.is_empty() {
        return None;
    }
    for special in ["postmaster", "mailer-daemon", "double-bounce"] {
        if localpart.eq_ignore_ascii_case(special) {
            return None;
        }
    }
    let lower = localpart.to_ascii_lowercase();
    if delimiters.contains('-')
        && (lower.starts_with("owner-") || (lower.len() > 8 && lower.ends_with("-request")))
    {
        return None;
    }
    let pos = localpart.find(|c: char| delimiters.contains(c))?;
    if pos == 0 {
        return None;
    }
    Some(localpart[..pos].to_string())
}

/// Keys for an email address: `user+ext@sub.example.com`,
/// `user@sub.example.com` (when `recipient_delimiter` is set and present),
/// `sub.example.com`, the parent domains (`example.com`, `com`, or
/// `.example.com`, `.com` without parent matching), `user+ext@`, `user@`.
/// The null sender is the caller's business (`<>`).
pub fn address_keys(
    addr: &str,
    recipient_delimiter: &str,
    parent_matches_subdomains: bool,
) -> Vec<String> {
    let (local, domain) = match addr.rfind('@') {
        Some(pos) => (&addr[..pos], Some(&addr[pos + 1..])),
        None => (addr, None),
    };
    let bare = strip_extension(local, recipient_delimiter);
    let mut keys = vec![addr.to_string()];
    match domain {
        None => {
            if let Some(bare) = &bare {
                keys.push(bare.clone());
            }
        }
        Some(domain) => {
            if let Some(bare) = &bare {
                keys.push(format!("{bare}@{domain}"));
            }
            if !domain.is_empty() {
                keys.push(domain.to_string());
                keys.extend(parent_keys(domain, parent_matches_subdomains));
            }
            keys.push(format!("{local}@"));
            if let Some(bare) = &bare {
                keys.push(format!("{bare}@"));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_key_sequences() {
        let cases: &[(&str, bool, &[&str])] = &[
            (
                "sub.example.com",
                true,
                &["sub.example.com", "example.com", "com"],
            ),
            (
                "sub.example.com",
                false,
                &["sub.example.com", ".example.com", ".com"],
            ),
            ("localhost", true, &["localhost"]),
            ("1.2.3.4", true, &["1.2.3.4"]),
            ("::1", false, &["::1"]),
            ("helo.example.", true, &["helo.example.", "example."]),
            ("helo.example.", false, &["helo.example.", ".example.", "."]),
            ("", true, &[]),
        ];
        for (name, parent, want) in cases {
            assert_eq!(domain_keys(name, *parent), *want, "{name} {parent}");
        }
    }

    #[test]
    fn ip_key_sequences() {
        let cases: &[(&str, &[&str])] = &[
            ("1.2.3.4", &["1.2.3.4", "1.2.3", "1.2", "1"]),
            (
                "2001:db8::1",
                &["2001:db8::1", "2001:db8:", "2001:db8", "2001"],
            ),
            ("::1", &["::1", ":", ""]),
            (
                "2001:DB8:0:0:1:0:0:1",
                &[
                    "2001:db8::1:0:0:1",
                    "2001:db8::1:0:0",
                    "2001:db8::1:0",
                    "2001:db8::1",
                    "2001:db8:",
                    "2001:db8",
                    "2001",
                ],
            ),
        ];
        for (addr, want) in cases {
            assert_eq!(ip_keys(addr.parse().unwrap()), *want, "{addr}");
        }
    }

    #[test]
    fn address_key_sequences() {
        let cases: &[(&str, &str, bool, &[&str])] = &[
            (
                "user+ext@sub.example.com",
                "+",
                true,
                &[
                    "user+ext@sub.example.com",
                    "user@sub.example.com",
                    "sub.example.com",
                    "example.com",
                    "com",
                    "user+ext@",
                    "user@",
                ],
            ),
            (
                "user+ext@sub.example.com",
                "+",
                false,
                &[
                    "user+ext@sub.example.com",
                    "user@sub.example.com",
                    "sub.example.com",
                    ".example.com",
                    ".com",
                    "user+ext@",
                    "user@",
                ],
            ),
            (
                "user+ext@example.com",
                "",
                true,
                &["user+ext@example.com", "example.com", "com", "user+ext@"],
            ),
            (
                "user@example.com",
                "+",
                true,
                &["user@example.com", "example.com", "com", "user@"],
            ),
            (
                "owner-list@example.com",
                "-",
                true,
                &[
                    "owner-list@example.com",
                    "example.com",
                    "com",
                    "owner-list@",
                ],
            ),
            ("a-b@x", "+-", true, &["a-b@x", "a@x", "x", "a-b@", "a@"]),
            ("postmaster", "+", true, &["postmaster"]),
            ("u+e", "+", true, &["u+e", "u"]),
        ];
        for (addr, delim, parent, want) in cases {
            assert_eq!(
                address_keys(addr, delim, *parent),
                *want,
                "{addr} {delim:?} {parent}"
            );
        }
    }

    #[test]
    fn strip_extension_rules() {
        let cases = [
            ("user+ext", "+", Some("user")),
            ("user", "+", None),
            ("+ext", "+", None),
            ("user+", "+", Some("user")),
            ("Postmaster", "+", None),
            ("MAILER-DAEMON", "-", None),
            ("list-request", "-", None),
            ("list-request", "+", None),
            ("a-request", "-+", None),
            ("x-y", "+-", Some("x")),
            ("user+a+b", "+", Some("user")),
        ];
        for (local, delim, want) in cases {
            assert_eq!(
                strip_extension(local, delim).as_deref(),
                want,
                "{local} {delim}"
            );
        }
    }
}
