//! SPF restrictions (gatepost-only, docs/mail-auth.md): `reject_spf_fail`,
//! `reject_spf_softfail`, `reject_spf_permerror` and `defer_spf_temperror`
//! act on the SPF result (RFC 7208) of the client for the envelope sender,
//! or for the HELO name with the null sender. Each is usable wherever the
//! sender is known (`smtpd_sender_restrictions`, `smtpd_recipient_restrictions`,
//! ...); other results leave the decision to the next restriction. The
//! enhanced status codes are RFC 7372's (5.7.23 SPF validation failed,
//! 5.7.24 SPF validation error).

use crate::eval::{Check, ErrorClass, Status, SENDER};

/// Which SPF result a restriction acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpfRule {
    RejectFail,
    RejectSoftfail,
    RejectPermerror,
    DeferTemperror,
}

impl Check<'_> {
    pub(super) async fn spf_restriction(&mut self, rule: SpfRule) -> Status {
        let Some(sender) = self.sender.clone() else {
            return Status::Dunno;
        };
        let helo = self.helo.clone().unwrap_or_default();
        if sender.is_empty() && helo.is_empty() {
            return Status::Dunno;
        }
        let spf = self.p.dns.spf(self.facts.client_addr, &helo, &sender).await;
        let identity = if sender.is_empty() {
            format!("postmaster@{helo}")
        } else {
            sender.clone()
        };
        let why = spf.explanation.clone().unwrap_or_else(|| {
            format!(
                "{} is not allowed to send mail for {}",
                self.facts.client_addr, spf.domain
            )
        });
        let (code, dsn, text, class) = match (rule, spf.result) {
            (SpfRule::RejectFail, "fail") => (
                550,
                "5.7.23",
                format!("SPF fail: {why}"),
                ErrorClass::Policy,
            ),
            (SpfRule::RejectSoftfail, "softfail") => (
                550,
                "5.7.23",
                format!("SPF softfail: {why}"),
                ErrorClass::Policy,
            ),
            (SpfRule::RejectPermerror, "permerror") => (
                550,
                "5.7.24",
                format!("SPF permanent error in the policy of {}", spf.domain),
                ErrorClass::Policy,
            ),
            (SpfRule::DeferTemperror, "temperror") => (
                451,
                "4.7.24",
                format!("SPF temporary error for {}", spf.domain),
                ErrorClass::Resource,
            ),
            _ => return Status::Dunno,
        };
        self.reject(
            class,
            code,
            dsn,
            &format!("<{identity}>: {SENDER} rejected: {text}"),
        )
    }
}
