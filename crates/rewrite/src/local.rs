//! `resolve_local`: is a domain one of ours? True when it matches
//! `mydestination`, or when it is an address literal (`[1.2.3.4]`,
//! `[IPv6:::1]`) naming an `inet_interfaces` / `proxy_interfaces` address.
//! One trailing dot is ignored (not dot-dot). Matching is case-insensitive.

use gatepost_table::DomainList;

use crate::error::RewriteError;
use crate::interfaces::OwnAddresses;
use gatepost_proto::hostname::{hostaddr_to_ip, valid_mailhost_addr};

#[derive(Debug, Clone)]
pub(crate) struct LocalDomains {
    mydestination: DomainList,
    own: OwnAddresses,
}

impl LocalDomains {
    pub(crate) fn new(mydestination: DomainList, own: OwnAddresses) -> Self {
        LocalDomains { mydestination, own }
    }

    /// Postfix `resolve_local(domain)`.
    pub(crate) fn is_local(&self, domain: &str) -> Result<bool, RewriteError> {
        let domain = match domain.strip_suffix('.') {
            Some(stripped) => stripped,
            None => domain,
        };
        if domain.is_empty() || domain.ends_with('.') {
            return Ok(false);
        }
        let lower = domain.to_ascii_lowercase();
        if self.mydestination.matches(&lower)? {
            return Ok(true);
        }
        if let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            if let Some(addr) = valid_mailhost_addr(inner).and_then(hostaddr_to_ip) {
                return Ok(self.own.contains(addr));
            }
        }
        Ok(false)
    }
}
