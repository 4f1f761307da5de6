//! Resolving an address to its class, transport, nexthop and final
//! recipient (Postfix trivial-rewrite `resolve_addr`, docs/address-classes.md#resolving-an-address):
//! the resolver loop, then checks on the final domain (a literal must be
//! `[ipv4]` or `[IPv6:...]`; otherwise a valid hostname, or with
//! `resolve_numeric_domain = yes` a bare IP turned into `[ip]`), the ROUTED
//! flag, and the class by first match: local, virtual alias
//! (`error:5.1.1 User unknown in virtual alias table`), virtual mailbox,
//! relay, default. relayhost overrides the nexthop of relay/default; an
//! explicit `transport:nexthop` setting overrides any class nexthop.

use crate::error::RewriteError;
use crate::resolve_loop::resolve_loop;
use crate::rewriter::Rewriter;
use gatepost_proto::hostname::{valid_hostaddr, valid_hostname, valid_mailhost_literal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Local,
    VirtualAlias,
    VirtualMailbox,
    Relay,
    Default,
}

/// The result of resolving one address (internal form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub class: AddressClass,
    /// Transport name (`local`, `virtual`, `smtp`, `error`, `discard`, ...).
    pub transport: String,
    /// Next-hop (domain, `[host]:port`, or error text for `error:`).
    pub nexthop: String,
    /// Final recipient address (internal form) after the resolver loop.
    pub recipient: String,
    /// Sender-specified routing remained (`@`, `!`, `%` in the final local part).
    pub routed: bool,
}

/// ROUTED: the first of `@`, `!`, `%` in the recipient is not the `@` that
/// introduces the final domain.
fn is_routed(recipient: &str, domain: &str) -> bool {
    match recipient.find(['@', '!', '%']) {
        Some(pos) => &recipient[pos + 1..] != domain,
        None => true,
    }
}

impl Rewriter {
    pub(crate) fn resolve_addr(&self, addr: &str) -> Result<Resolved, RewriteError> {
        let looped = resolve_loop(addr, &self.loop_settings, |d| {
            self.local_domains.is_local(d)
        })?;
        let mut domain = looped.domain;
        let mut is_local = looped.domain_is_local;
        let bad = || RewriteError::BadAddress(addr.to_string());

        if domain.starts_with('[') {
            if !valid_mailhost_literal(&domain) {
                return Err(bad());
            }
        } else if !valid_hostname(&domain) {
            if self.resolve_numeric_domain && valid_hostaddr(&domain) {
                domain = format!("[{domain}]");
                if self.local_domains.is_local(&domain)? {
                    is_local = true;
                }
            } else {
                return Err(bad());
            }
        }
        let recipient = format!("{}@{}", looped.local_part, domain);
        if !self.allow_min_user && recipient.starts_with('-') {
            return Err(bad());
        }
        let routed = is_routed(&recipient, &domain);
        let lower = domain.to_ascii_lowercase();

        let (class, transport, nexthop) = if is_local {
            let (t, n) = self.local_transport.apply(&domain);
            (AddressClass::Local, t, n)
        } else if self.virtual_alias_domains.matches(&lower)? {
            let text = if self.show_unknown_table {
                "5.1.1 User unknown in virtual alias table"
            } else {
                "5.1.1 User unknown"
            };
            (
                AddressClass::VirtualAlias,
                "error".to_string(),
                text.to_string(),
            )
        } else if self.virtual_mailbox_domains.matches(&lower)? {
            let (t, n) = self.virtual_transport.apply(&domain);
            (AddressClass::VirtualMailbox, t, n)
        } else {
            let class_nexthop = if self.relayhost.is_empty() {
                domain.as_str()
            } else {
                self.relayhost.as_str()
            };
            let (class, spec) = if self.relay_domains.matches(&lower)? {
                (AddressClass::Relay, &self.relay_transport)
            } else {
                (AddressClass::Default, &self.default_transport)
            };
            let (t, n) = spec.apply(class_nexthop);
            (class, t, n)
        };
        if transport.is_empty() {
            return Err(RewriteError::Config(format!(
                "null transport is not allowed for {class:?} class"
            )));
        }
        Ok(Resolved {
            class,
            transport,
            nexthop,
            recipient,
            routed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_routed;

    #[test]
    fn routed_table() {
        let cases = [
            ("u@far.example", "far.example", false),
            ("u@far.example@spec.test", "spec.test", true),
            ("a%b@c", "c", true),
            ("far!u@spec.test", "spec.test", true),
            ("MAILER-DAEMON@mx.spec.test", "mx.spec.test", false),
        ];
        for (rcpt, domain, want) in cases {
            assert_eq!(is_routed(rcpt, domain), want, "{rcpt}");
        }
    }
}
