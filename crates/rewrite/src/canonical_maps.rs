//! canonical(5) mapping and address masquerading as cleanup(8) applies
//! them (Postfix `cleanup_map11.c`, `cleanup_masquerade.c`): a sender goes
//! through `sender_canonical_maps` then `canonical_maps`, a recipient
//! through `recipient_canonical_maps` then `canonical_maps`, each only for
//! the address classes its `*_canonical_classes` names (`envelope_sender`,
//! `envelope_recipient`, `header_sender`, `header_recipient`); then
//! `masquerade_domains` (with `!domain` exceptions, `masquerade_exceptions`
//! user names left alone) for the classes in `masquerade_classes`.
//!
//! A lookup is repeated on its result (up to 10 times) until the result
//! maps to itself or is not found; an unmatched address extension is put
//! back when `propagate_unmatched_extensions` names `canonical`. A table
//! failure is an error, so the message is deferred.

use gatepost_config::{params, Config, Param};

use crate::addr_find::{add_extension, split_result, AddrMaps};
use crate::error::RewriteError;
use crate::quote::{quote_address, unquote_address};
use crate::rewriter::Rewriter;

/// Postfix's `MAX_RECURSION` for one-to-one maps.
const MAX_RECURSION: usize = 10;

/// Which address is being rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRole {
    EnvelopeSender,
    EnvelopeRecipient,
    HeaderSender,
    HeaderRecipient,
}

impl AddressRole {
    fn bit(self) -> u8 {
        match self {
            AddressRole::EnvelopeSender => 1,
            AddressRole::EnvelopeRecipient => 2,
            AddressRole::HeaderSender => 4,
            AddressRole::HeaderRecipient => 8,
        }
    }

    fn is_sender(self) -> bool {
        matches!(
            self,
            AddressRole::EnvelopeSender | AddressRole::HeaderSender
        )
    }
}

/// The classes a `*_classes` parameter names.
fn classes(cfg: &Config, param: &Param<Vec<String>>) -> Result<u8, RewriteError> {
    let mut bits = 0;
    for name in cfg.get(param) {
        bits |= match name.to_ascii_lowercase().as_str() {
            "envelope_sender" => AddressRole::EnvelopeSender.bit(),
            "envelope_recipient" => AddressRole::EnvelopeRecipient.bit(),
            "header_sender" => AddressRole::HeaderSender.bit(),
            "header_recipient" => AddressRole::HeaderRecipient.bit(),
            other => {
                return Err(RewriteError::Config(format!(
                    "{}: unknown address class \"{other}\"",
                    param.name()
                )))
            }
        };
    }
    Ok(bits)
}

/// The canonical and masquerading settings of the [`Rewriter`].
#[derive(Debug, Clone, Default)]
pub(crate) struct CanonicalRules {
    pub(crate) sender_maps: AddrMaps,
    sender_classes: u8,
    recipient_classes: u8,
    common_classes: u8,
    masquerade_domains: Vec<String>,
    masquerade_exceptions: Vec<String>,
    masquerade_classes: u8,
    propagate: bool,
}

impl CanonicalRules {
    pub(crate) fn from_config(
        cfg: &Config,
        sender_maps: AddrMaps,
    ) -> Result<CanonicalRules, RewriteError> {
        Ok(CanonicalRules {
            sender_maps,
            sender_classes: classes(cfg, &params::SENDER_CANONICAL_CLASSES)?,
            recipient_classes: classes(cfg, &params::RECIPIENT_CANONICAL_CLASSES)?,
            common_classes: classes(cfg, &params::CANONICAL_CLASSES)?,
            masquerade_domains: cfg.get(&params::MASQUERADE_DOMAINS),
            masquerade_exceptions: cfg
                .get(&params::MASQUERADE_EXCEPTIONS)
                .iter()
                .map(|n| n.to_lowercase())
                .collect(),
            masquerade_classes: classes(cfg, &params::MASQUERADE_CLASSES)?,
            propagate: cfg
                .get(&params::PROPAGATE_UNMATCHED_EXTENSIONS)
                .iter()
                .any(|item| item.eq_ignore_ascii_case("canonical")),
        })
    }
}

impl Rewriter {
    /// Cleanup's rewriting of one internal-form address in `role`:
    /// canonicalisation, the canonical maps, masquerading.
    pub fn rewrite_address(&self, addr: &str, role: AddressRole) -> Result<String, RewriteError> {
        let mut out = self.canonicalize(addr);
        if out.is_empty() {
            return Ok(out);
        }
        let rules = &self.canonical_rules;
        let (own_maps, own_classes) = if role.is_sender() {
            (&rules.sender_maps, rules.sender_classes)
        } else {
            (&self.recipient_canonical_maps, rules.recipient_classes)
        };
        if own_classes & role.bit() != 0 {
            out = self.map11(own_maps, &out)?;
        }
        if rules.common_classes & role.bit() != 0 {
            out = self.map11(&self.canonical_maps, &out)?;
        }
        if rules.masquerade_classes & role.bit() != 0 && !rules.masquerade_domains.is_empty() {
            out = unquote_address(&masquerade(
                &quote_address(&out),
                &rules.masquerade_domains,
                &rules.masquerade_exceptions,
            ));
        }
        Ok(out)
    }

    /// Postfix `cleanup_map11_internal()`.
    fn map11(&self, maps: &AddrMaps, addr: &str) -> Result<String, RewriteError> {
        if maps.is_empty() {
            return Ok(addr.to_string());
        }
        let mut current = quote_address(addr);
        for _ in 0..MAX_RECURSION {
            let Some(found) = maps.find_addr(&current, &self.recipient_delimiter, |domain| {
                self.is_local_or_origin(domain)
            })?
            else {
                return Ok(unquote_address(&current));
            };
            let Some(first) = split_result(&found.value).into_iter().next() else {
                return Ok(unquote_address(&current));
            };
            let next = match found
                .extension
                .as_deref()
                .filter(|_| self.canonical_rules.propagate)
            {
                Some(ext) => add_extension(&first, ext),
                None => first,
            };
            let to_self = next.eq_ignore_ascii_case(&current);
            current = next;
            if to_self {
                break;
            }
        }
        Ok(unquote_address(&current))
    }
}

/// Postfix `cleanup_masquerade_external()` on an external-form address.
fn masquerade(addr: &str, domains: &[String], exceptions: &[String]) -> String {
    let Some(at) = addr.rfind('@') else {
        return addr.to_string();
    };
    let (name, domain) = (&addr[..at], addr[at + 1..].to_lowercase());
    if exceptions.iter().any(|e| *e == name.to_lowercase()) {
        return addr.to_string();
    }
    for entry in domains {
        let mut truncate = true;
        let mut masq = entry.as_str();
        while let Some(rest) = masq.strip_prefix('!') {
            truncate = !truncate;
            masq = rest;
        }
        let masq = masq.to_lowercase();
        if masq.is_empty() {
            continue;
        }
        if masq == domain {
            break;
        }
        if let Some(parent) = domain.strip_suffix(masq.as_str()) {
            if parent.ends_with('.') {
                if truncate {
                    return format!("{name}@{masq}");
                }
                break;
            }
        }
    }
    addr.to_string()
}

#[cfg(test)]
mod tests {
    use super::masquerade;

    #[test]
    fn masquerade_table() {
        let domains: Vec<String> = ["!sub.example.com", "example.com"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let exceptions = vec!["root".to_string()];
        let cases = [
            ("user@host.example.com", "user@example.com"),
            ("user@a.b.example.com", "user@example.com"),
            ("user@example.com", "user@example.com"),
            ("user@sub.example.com", "user@sub.example.com"),
            ("user@host.sub.example.com", "user@host.sub.example.com"),
            ("root@host.example.com", "root@host.example.com"),
            ("user@notexample.com", "user@notexample.com"),
            ("user@HOST.Example.COM", "user@example.com"),
            ("user", "user"),
        ];
        for (addr, want) in cases {
            assert_eq!(masquerade(addr, &domains, &exceptions), want, "{addr}");
        }
    }
}
