//! Sender and recipient restrictions that are not table lookups: the
//! address syntax check (`reject_non_fqdn_*`), address verification
//! (`reject_unverified_*`), `reject_multi_recipient_bounce`, and the
//! relay decision's argument handling (`reject_unauth_destination`,
//! `defer_unauth_destination`, `check_relay_domains`; the decision itself
//! is in `relay.rs`, docs/address-classes.md#the-relay-decision).

use super::truncate_dot;
use crate::eval::{Check, ErrorClass, Res, Status, SENDER};
use crate::Stage;
use gatepost_proto::hostname::valid_hostname;

impl Check<'_> {
    /// The sender, unless it is the null sender (most sender restrictions
    /// skip `<>`).
    pub(super) fn nonempty_sender(&self) -> Option<String> {
        self.sender.clone().filter(|s| !s.is_empty())
    }

    /// `reject_unauth_destination` (`relay_domains_reject_code`, 5.7.1) or,
    /// with `defer`, `defer_unauth_destination` (that code minus 100, 4.7.1).
    pub(super) fn unauth_destination(&mut self, defer: bool) -> Res {
        let Some(rcpt) = self.recipient.clone() else {
            return Ok(Status::Dunno);
        };
        let code = self.p.s.relay_code;
        if defer {
            self.reject_unauth_destination(&rcpt, code.saturating_sub(100), "4.7.1")
        } else {
            self.reject_unauth_destination(&rcpt, code, "5.7.1")
        }
    }

    /// `check_relay_domains` (obsolete); anything after it is ignored.
    pub(super) fn check_relay_domains_restriction(&mut self, next: Option<&str>) -> Res {
        let st = match self.recipient.clone() {
            Some(rcpt) => self.check_relay_domains(&rcpt)?,
            None => Status::Dunno,
        };
        if let (Some(n), 0) = (next, self.warn_if_reject) {
            self.warning(format!(
                "restriction `{n}' after `check_relay_domains' is ignored"
            ));
        }
        Ok(st)
    }

    /// `reject_multi_recipient_bounce`: the null sender with more than one
    /// recipient (at RCPT: this is the second or later one).
    pub(super) fn reject_multi_recipient_bounce(&mut self, rn: &str, class: &str) -> Status {
        let threshold = if self.stage == Stage::Rcpt { 0 } else { 1 };
        if self.sender.as_deref() == Some("") && self.facts.recipient_count > threshold {
            let code = self.p.s.mul_rcpt_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.3",
                &format!("<{rn}>: {class} rejected: Multi-recipient bounce"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_non_fqdn_address()`: the domain is empty, invalid or has no
    /// dot; address literals are skipped.
    pub(crate) fn reject_non_fqdn_address(&mut self, addr: &str, class: &str) -> Status {
        let domain = addr.rfind('@').map_or("", |i| &addr[i + 1..]);
        if domain.len() > 1 && domain.starts_with('[') && domain.ends_with(']') {
            return Status::Dunno;
        }
        let test = truncate_dot(domain);
        if test.is_empty() || !valid_hostname(test) || !test.contains('.') {
            let code = self.p.s.non_fqdn_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "4.5.2",
                &format!("<{addr}>: {class} rejected: need fully-qualified address"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_unverified_*`: no address verification service is available,
    /// so this is Postfix's "verify service failure" path.
    pub(crate) fn reject_unverified(&mut self, addr: &str, class: &str) -> Status {
        self.warning("verify service failure");
        let is_sender = class == SENDER;
        let (dip, code, dsn) = if is_sender {
            (
                self.p.s.unv_from_tf_defer_if_permit,
                self.p.s.unv_from_defer_code,
                "4.1.7",
            )
        } else {
            (
                self.p.s.unv_rcpt_tf_defer_if_permit,
                self.p.s.unv_rcpt_defer_code,
                "4.1.1",
            )
        };
        self.defer_if_permit(
            dip,
            ErrorClass::Policy,
            code,
            dsn,
            format!("<{addr}>: {class} rejected: address verification problem"),
        )
    }
}
