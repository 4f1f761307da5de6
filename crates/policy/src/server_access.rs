//! `check_{client,reverse_client,helo,sender,recipient}_{mx,ns,a}_access`
//! (smtpd_check.c `check_server_access`): look up the MX hosts, the name
//! servers, or the host itself of a domain, and check each server's name
//! (with parent domains; not for A) and then each of its addresses in the
//! access table. A domain without MX is its own MX host; NS records are
//! looked for in parent domains; an address literal is checked as an
//! address (MX and A only); a null MX, or a DNS failure (logged as
//! `Unable to look up ... host for ...`), decides nothing. An OK result is
//! refused for security reasons, as Postfix does.

use gatepost_table::keys::ip_keys;

use crate::dns::{ServerHosts, ServerKind};
use crate::eval::{Check, Res, Status, CLIENT, HELO, RECIPIENT, REV_CLIENT, SENDER};
use crate::restriction::{AccessTarget, TableRef};
use gatepost_proto::hostname::valid_hostaddr;

impl Check<'_> {
    pub(crate) async fn check_server_access_target(
        &mut self,
        name: &str,
        target: AccessTarget,
        kind: ServerKind,
        t: &TableRef,
    ) -> Res {
        let facts = self.facts;
        let (subject, rn, class) = match target {
            AccessTarget::Client if !facts.client_name.eq_ignore_ascii_case("unknown") => {
                (facts.client_name.clone(), self.namaddr.clone(), CLIENT)
            }
            AccessTarget::ReverseClient
                if !facts.reverse_client_name.eq_ignore_ascii_case("unknown") =>
            {
                let n = facts.reverse_client_name.clone();
                (n.clone(), n, REV_CLIENT)
            }
            AccessTarget::Helo => match self.helo.clone() {
                Some(h) if !h.is_empty() => (h.clone(), h, HELO),
                _ => return Ok(Status::Dunno),
            },
            AccessTarget::Sender => match self.sender.clone() {
                Some(s) if !s.is_empty() => (s.clone(), s, SENDER),
                _ => return Ok(Status::Dunno),
            },
            AccessTarget::Recipient => match self.recipient.clone() {
                Some(r) if !r.is_empty() => (r.clone(), r, RECIPIENT),
                _ => return Ok(Status::Dunno),
            },
            _ => return Ok(Status::Dunno),
        };
        let st = self
            .check_server_access(t, &subject, kind, &rn, class, target)
            .await?;
        self.forbid_allowlist(name, st, &rn)
    }

    async fn check_server_access(
        &mut self,
        t: &TableRef,
        subject: &str,
        kind: ServerKind,
        rn: &str,
        class: &'static str,
        def_acl: AccessTarget,
    ) -> Res {
        let domain = match subject.rfind('@') {
            Some(at) => &subject[at + 1..],
            None => subject,
        };
        if domain.is_empty() {
            return Ok(Status::Dunno);
        }
        // An address literal is its own MX server (no NS equivalent).
        if let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            if kind == ServerKind::Ns {
                return Ok(Status::Dunno);
            }
            let bare = inner.strip_prefix("IPv6:").unwrap_or(inner);
            return match bare.parse() {
                Ok(addr) => Ok(self.check_server_addr(t, addr, rn, class, def_acl).await?.0),
                Err(_) => Ok(Status::Dunno),
            };
        }
        let dns = self.p.dns.clone();
        let servers = match dns.server_hosts(domain, kind).await {
            ServerHosts::Hosts(h) => h,
            ServerHosts::NullMx => return Ok(Status::Dunno),
            ServerHosts::Failed(why) => {
                self.warning(format!(
                    "Unable to look up {} host for {domain}: {why}",
                    kind.dns_type()
                ));
                return Ok(Status::Dunno);
            }
            ServerHosts::NoneFound(why) => {
                self.warning(format!(
                    "Unable to look up {} host for {subject}: {why}",
                    kind.dns_type()
                ));
                return Ok(Status::Dunno);
            }
        };
        for server in servers {
            if valid_hostaddr(&server) {
                if let Ok(addr) = server.parse() {
                    let (st, found) = self.check_server_addr(t, addr, rn, class, def_acl).await?;
                    if st != Status::Dunno || found {
                        return Ok(st);
                    }
                }
                continue;
            }
            if kind != ServerKind::A {
                let (st, found) = self
                    .check_domain_access(t, &server, rn, class, def_acl)
                    .await?;
                if st != Status::Dunno || found {
                    return Ok(st);
                }
            }
            let addrs = match dns.host_addresses(&server).await {
                Ok(a) => a,
                Err(why) => {
                    if kind != ServerKind::A {
                        self.warning(format!(
                            "Unable to look up {} host {server} for {class} {rn}: {why}",
                            kind.dns_type()
                        ));
                    }
                    continue;
                }
            };
            for addr in addrs {
                let (st, found) = self.check_server_addr(t, addr, rn, class, def_acl).await?;
                if st != Status::Dunno || found {
                    return Ok(st);
                }
            }
        }
        Ok(Status::Dunno)
    }

    /// `check_addr_access()`: the address, then its shorter prefixes.
    async fn check_server_addr(
        &mut self,
        t: &TableRef,
        addr: std::net::IpAddr,
        rn: &str,
        class: &'static str,
        def_acl: AccessTarget,
    ) -> Result<(Status, bool), crate::eval::Abort> {
        let mut keys = ip_keys(addr);
        if keys.is_empty() {
            keys.push(addr.to_string());
        }
        self.check_access(t, &keys, &addr.to_string(), rn, class, def_acl)
            .await
    }
}
