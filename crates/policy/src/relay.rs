//! Address-class based restrictions (docs/address-classes.md): the relay decision
//! (`permit_auth_destination`, `reject_unauth_destination`,
//! `defer_unauth_destination`, `check_relay_domains`, `permit_mx_backup`),
//! unlisted senders and recipients (docs/address-classes.md#unlisted-recipients, `local_recipient_maps`,
//! `virtual_mailbox_maps`, `relay_recipient_maps`, error/retry transports,
//! postmaster/MAILER-DAEMON/double-bounce exemptions), and the SASL
//! sender-login mismatch checks (postconf(5) `smtpd_sender_login_maps`).

use gatepost_rewrite::{AddressClass, Resolved, RewriteError};
use gatepost_table::TableError;

use crate::dns::DnsStatus;
use crate::dsn::dsn_split;
use crate::eval::{Abort, Check, ErrorClass, Res, Status, RECIPIENT, SENDER};
use crate::lookup::{mail_addr_keys, Maps};
use crate::restriction::Restriction;

fn is_final(class: AddressClass) -> bool {
    matches!(
        class,
        AddressClass::Local | AddressClass::VirtualAlias | AddressClass::VirtualMailbox
    )
}

/// `MATCH_LEFT()`: the local part equals `name` (case-insensitive).
fn local_part_is(addr: &str, name: &str) -> bool {
    addr.len() > name.len()
        && addr.as_bytes()[name.len()] == b'@'
        && addr[..name.len()].eq_ignore_ascii_case(name)
}

impl Check<'_> {
    /// Resolve an address; a temporary failure ends the request with
    /// `451 4.3.0 <addr>: Temporary lookup failure`. `None` for an address
    /// the resolver calls malformed (smtpd replied 501 before asking us).
    pub(crate) fn resolve(&mut self, addr: &str) -> Result<Option<Resolved>, Abort> {
        match self.p.env.resolve(addr) {
            Ok(r) => Ok(Some(r)),
            Err(RewriteError::Temporary(why)) => {
                self.warning(format!("{addr}: address resolution problem: {why}"));
                Err(self.dict_retry(addr))
            }
            Err(err @ RewriteError::TransportMaps { .. }) => {
                self.warning(format!("{addr}: address resolution problem: {err}"));
                Err(self.dict_retry(addr))
            }
            Err(RewriteError::BadAddress(_)) => Ok(None),
            Err(RewriteError::Config(why)) => {
                self.warning(format!("{addr}: address resolution problem: {why}"));
                Err(self.server_error())
            }
        }
    }

    /// `permit_auth_destination()`.
    pub(crate) fn permit_auth_destination(&mut self, rcpt: &str) -> Res {
        let Some(r) = self.resolve(rcpt)? else {
            return Ok(Status::Dunno);
        };
        if !r.recipient.contains('@') {
            return Ok(Status::Ok);
        }
        if !self.p.s.allow_untrusted_routing && r.routed {
            return Ok(Status::Dunno);
        }
        if is_final(r.class) || r.class == AddressClass::Relay {
            return Ok(Status::Ok);
        }
        Ok(Status::Dunno)
    }

    /// `reject_unauth_destination()` / `defer_unauth_destination()`.
    pub(crate) fn reject_unauth_destination(&mut self, rcpt: &str, code: u16, dsn: &str) -> Res {
        if self.permit_auth_destination(rcpt)? == Status::Ok {
            return Ok(Status::Dunno);
        }
        Ok(self.reject(
            ErrorClass::Policy,
            code,
            dsn,
            &format!("<{rcpt}>: Relay access denied"),
        ))
    }

    /// `check_relay_domains` (obsolete): client host name in
    /// `relay_domains`, or an authorized destination.
    pub(crate) fn check_relay_domains(&mut self, rcpt: &str) -> Res {
        let name = self.facts.client_name.clone();
        match self.p.env.relay_domains(&name) {
            Ok(true) => return Ok(Status::Ok),
            Ok(false) => {}
            Err(e) => return self.list_failure("relay_domains", e, rcpt),
        }
        if self.permit_auth_destination(rcpt)? == Status::Ok {
            return Ok(Status::Ok);
        }
        let code = self.p.s.relay_code;
        Ok(self.reject(
            ErrorClass::Policy,
            code,
            "5.7.1",
            &format!("<{rcpt}>: {RECIPIENT} rejected: Relay access denied"),
        ))
    }

    /// `permit_mx_backup`: final and relay destinations pass; otherwise ask
    /// DNS whether this host is a backup MX.
    pub(crate) async fn permit_mx_backup(&mut self, rcpt: &str) -> Res {
        let Some(r) = self.resolve(rcpt)? else {
            return Ok(Status::Dunno);
        };
        if !self.p.s.allow_untrusted_routing && r.routed {
            return Ok(Status::Dunno);
        }
        if is_final(r.class) || r.class == AddressClass::Relay {
            return Ok(Status::Ok);
        }
        let Some(at) = r.recipient.rfind('@') else {
            return Ok(Status::Dunno);
        };
        let domain = r.recipient[at + 1..].to_string();
        if domain.starts_with('[') {
            return Ok(Status::Dunno);
        }
        match self.p.dns.mx_backup_status(&domain).await {
            DnsStatus::Ok => Ok(Status::Ok),
            DnsStatus::Retry => {
                self.defer_if_reject(
                    ErrorClass::Policy,
                    450,
                    "4.4.4",
                    format!(
                        "<{rcpt}>: {RECIPIENT} rejected: Unable to look up mail exchanger information: Host not found, try again"
                    ),
                );
                Ok(Status::Dunno)
            }
            _ => Ok(Status::Dunno),
        }
    }

    /// `check_mail_addr_find()`: a temporary failure ends the request.
    fn find_in(
        &mut self,
        maps_name: &str,
        keys: &[String],
        reply_name: &str,
    ) -> Result<Option<String>, Abort> {
        let maps: &Maps = match maps_name {
            "local_recipient_maps" => &self.p.local_rcpt_maps,
            "virtual_mailbox_maps" => &self.p.virt_mailbox_maps,
            "relay_recipient_maps" => &self.p.relay_rcpt_maps,
            _ => &self.p.sender_login_maps,
        };
        let param = maps.param.clone();
        match maps.find(keys) {
            Ok(v) => Ok(v),
            Err(TableError::Temporary { table, why }) | Err(TableError::Config { table, why }) => {
                // Postfix maps with a broken member table fail the lookup
                // the same way: retry later rather than pass silently.
                let key = keys.first().map(String::as_str).unwrap_or("");
                self.warning(format!(
                    "{param} lookup error for \"{key}\": {table}: {why}"
                ));
                Err(self.dict_retry(reply_name))
            }
        }
    }

    /// The implicit/explicit `reject_unlisted_recipient`, with duplicate
    /// suppression.
    pub(crate) fn check_recipient_rcpt_maps(&mut self, rcpt: &str) -> Res {
        if self.rcpt_checked {
            return Ok(Status::Dunno);
        }
        if self.warn_if_reject == 0 {
            self.rcpt_checked = true;
        }
        self.check_rcpt_maps(rcpt, RECIPIENT)
    }

    /// The implicit/explicit `reject_unlisted_sender`.
    pub(crate) fn check_sender_rcpt_maps(&mut self, sender: &str) -> Res {
        if self.sender_checked {
            return Ok(Status::Dunno);
        }
        if self.warn_if_reject == 0 {
            self.sender_checked = true;
        }
        self.check_rcpt_maps(sender, SENDER)
    }

    /// `check_rcpt_maps()` (docs/address-classes.md#unlisted-recipients).
    fn check_rcpt_maps(&mut self, addr: &str, class: &'static str) -> Res {
        if self.p.s.no_unknown_recipient_checks {
            return Ok(Status::Dunno);
        }
        let Some(r) = self.resolve(addr)? else {
            return Ok(Status::Dunno);
        };
        match self.p.env.is_virtual_alias(&r.recipient) {
            Ok(true) => return Ok(Status::Dunno),
            Ok(false) => {}
            Err(RewriteError::Temporary(_)) => return Err(self.dict_retry(addr)),
            Err(_) => return Err(self.server_error()),
        }
        let is_sender = class == SENDER;
        if r.transport == "error" || r.transport == "retry" {
            let retry = r.transport == "retry";
            let def = match (is_sender, retry) {
                (true, false) => "5.1.0",
                (false, false) => "5.1.1",
                (true, true) => "4.1.0",
                (false, true) => "4.1.1",
            };
            let (dsn, text) = dsn_split(def, &r.nexthop);
            let text = text.to_string();
            let dsn = self.dsn_fix(&dsn, class);
            let code = if retry {
                450
            } else if r.class == AddressClass::VirtualAlias {
                self.p.s.virt_alias_code
            } else {
                550
            };
            return Ok(self.reject(
                ErrorClass::Bounce,
                code,
                &dsn,
                &format!("<{addr}>: {class} rejected: {text}"),
            ));
        }
        let s = &self.p.s;
        let (maps_name, code, table_text) = match r.class {
            AddressClass::Local => {
                let exempt = local_part_is(&r.recipient, &s.double_bounce_sender)
                    || local_part_is(&r.recipient, "postmaster")
                    || local_part_is(&r.recipient, "MAILER-DAEMON");
                if exempt || self.p.local_rcpt_maps.is_empty() {
                    return Ok(Status::Dunno);
                }
                (
                    "local_recipient_maps",
                    s.local_rcpt_code,
                    " in local recipient table",
                )
            }
            AddressClass::VirtualMailbox => {
                if self.p.virt_mailbox_maps.is_empty() {
                    return Ok(Status::Dunno);
                }
                (
                    "virtual_mailbox_maps",
                    s.virt_mailbox_code,
                    " in virtual mailbox table",
                )
            }
            AddressClass::Relay => {
                if self.p.relay_rcpt_maps.is_empty() {
                    return Ok(Status::Dunno);
                }
                (
                    "relay_recipient_maps",
                    s.relay_rcpt_code,
                    " in relay recipient table",
                )
            }
            AddressClass::VirtualAlias | AddressClass::Default => return Ok(Status::Dunno),
        };
        let show = s.show_unk_rcpt_table;
        let keys = mail_addr_keys(
            &r.recipient,
            &s.recipient_delimiter,
            r.class == AddressClass::Local,
        );
        if self.find_in(maps_name, &keys, addr)?.is_some() {
            return Ok(Status::Dunno);
        }
        let dsn = if is_sender { "5.1.0" } else { "5.1.1" };
        let suffix = if show { table_text } else { "" };
        Ok(self.reject(
            ErrorClass::Bounce,
            code,
            dsn,
            &format!("<{addr}>: {class} rejected: User unknown{suffix}"),
        ))
    }

    /// `reject_{authenticated,known,unauthenticated}_sender_login_mismatch`.
    pub(crate) fn login_mismatch(&mut self, r: &Restriction) -> Res {
        let name = match r {
            Restriction::RejectAuthSenderLoginMismatch => {
                "reject_authenticated_sender_login_mismatch"
            }
            Restriction::RejectKnownSenderLoginMismatch => "reject_known_sender_login_mismatch",
            _ => "reject_unauthenticated_sender_login_mismatch",
        };
        if !self.p.s.sasl_enable {
            self.warning(format!("restriction `{name}' ignored: no SASL support"));
            return Ok(Status::Dunno);
        }
        let Some(sender) = self.sender.clone().filter(|s| !s.is_empty()) else {
            return Ok(Status::Dunno);
        };
        if self.p.sender_login_maps.is_empty() {
            return Ok(Status::Dunno);
        }
        let login = self.facts.sasl_username.clone();
        match (r, login) {
            (Restriction::RejectAuthSenderLoginMismatch, Some(l)) => {
                self.auth_mismatch(&sender, &l, false)
            }
            (Restriction::RejectKnownSenderLoginMismatch, Some(l)) => {
                self.auth_mismatch(&sender, &l, true)
            }
            (Restriction::RejectKnownSenderLoginMismatch, None)
            | (Restriction::RejectUnauthSenderLoginMismatch, None) => self.unauth_mismatch(&sender),
            _ => Ok(Status::Dunno),
        }
    }

    fn sender_owners(&mut self, sender: &str) -> Result<Option<String>, Abort> {
        let Some(r) = self.resolve(sender)? else {
            return Ok(None);
        };
        let keys = mail_addr_keys(
            &r.recipient,
            &self.p.s.recipient_delimiter,
            r.class == AddressClass::Local,
        );
        self.find_in("smtpd_sender_login_maps", &keys, sender)
    }

    fn auth_mismatch(&mut self, sender: &str, login: &str, allow_unknown: bool) -> Res {
        let found = match self.sender_owners(sender)? {
            Some(owners) => owners
                .split([',', ' ', '\t'])
                .filter(|o| !o.is_empty())
                .any(|o| o.to_lowercase() == login.to_lowercase()),
            None if allow_unknown => return Ok(Status::Dunno),
            None => false,
        };
        if found {
            return Ok(Status::Dunno);
        }
        Ok(self.reject(
            ErrorClass::Policy,
            553,
            "5.7.1",
            &format!("<{sender}>: Sender address rejected: not owned by user {login}"),
        ))
    }

    fn unauth_mismatch(&mut self, sender: &str) -> Res {
        if self.sender_owners(sender)?.is_some() {
            return Ok(self.reject(
                ErrorClass::Policy,
                553,
                "5.7.1",
                &format!("<{sender}>: Sender address rejected: not logged in"),
            ));
        }
        Ok(Status::Dunno)
    }
}

#[cfg(test)]
mod tests {
    use super::local_part_is;

    #[test]
    fn match_left() {
        assert!(local_part_is("Postmaster@spec.test", "postmaster"));
        assert!(local_part_is("mailer-daemon@x", "MAILER-DAEMON"));
        assert!(!local_part_is("postmasters@x", "postmaster"));
        assert!(!local_part_is("postmaster", "postmaster"));
    }
}
