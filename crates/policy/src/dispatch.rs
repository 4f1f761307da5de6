//! The name dispatch of `generic_checks()`: which code runs for each parsed
//! restriction (postconf(5), docs/restrictions.md). The restrictions live in
//! one module per family: `generic` (permit, reject, defer, the deferred
//! decisions, sleep, classes, pipelining, plaintext), `client`, `helo`,
//! `address` (sender and recipient syntax, domain and listing checks, the
//! relay decision), `tables` (access tables, server access, policy
//! service) and `dns_lists` (block and allow lists). Table, relay and DNS
//! work is done in `access.rs`, `relay.rs` and `dnscheck.rs`.

mod address;
mod client;
mod dns_lists;
mod generic;
mod helo;
mod spf;
mod tables;

pub(crate) use spf::SpfRule;

use crate::eval::{Check, Res, Status, RECIPIENT, SENDER};
use crate::restriction::{AccessTarget, Restriction};

/// Remove one trailing dot, but not from `..` (`dup_if_truncate`).
pub(crate) fn truncate_dot(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() > 1 && b[b.len() - 1] == b'.' && b[b.len() - 2] != b'.' {
        &name[..name.len() - 1]
    } else {
        name
    }
}

impl Check<'_> {
    /// Evaluate one restriction. `next` is the text of the following list
    /// element (for "ignored" warnings).
    pub(crate) async fn apply(
        &mut self,
        r: &Restriction,
        next: Option<&str>,
        rn: &str,
        class: &'static str,
        def_acl: Option<AccessTarget>,
    ) -> Res {
        match r {
            // Generic.
            Restriction::WarnIfReject | Restriction::Dunno => Ok(Status::Dunno),
            Restriction::Permit => Ok(self.permit(next)),
            Restriction::Defer => Ok(self.defer_restriction(next, rn, class)),
            Restriction::Reject => Ok(self.reject_restriction(next, rn, class)),
            Restriction::DeferIfPermit => Ok(self.defer_if_permit_restriction(rn, class)),
            Restriction::DeferIfReject => Ok(self.defer_if_reject_restriction(rn, class)),
            Restriction::Sleep(arg) => self.sleep_restriction(arg.as_deref()).await,
            Restriction::RejectUnauthPipelining => Ok(self.reject_unauth_pipelining(rn, class)),
            Restriction::RejectPlaintextSession => Ok(self.reject_plaintext_session()),
            Restriction::Class(name) => self.restriction_class(name, rn, class, def_acl).await,
            Restriction::Unknown(name) => self.unknown_restriction(name),
            // Client.
            Restriction::RejectUnknownClientHostname => Ok(self.reject_unknown_client_hostname()),
            Restriction::RejectUnknownReverseClientHostname => {
                Ok(self.reject_unknown_reverse_client_hostname())
            }
            Restriction::PermitInetInterfaces => Ok(self.permit_inet_interfaces()),
            Restriction::PermitMynetworks => self.permit_mynetworks(rn),
            Restriction::PermitSaslAuthenticated => Ok(self.permit_sasl_authenticated()),
            // No client certificate information reaches the policy engine.
            Restriction::PermitTlsClientcerts => Ok(Status::Dunno),
            // Tables and the policy service.
            Restriction::Access(target, arg) => self.check_access_restriction(*target, arg).await,
            Restriction::ServerAccess(name, target, kind, arg) => {
                self.check_server_access_restriction(name, *target, *kind, arg)
                    .await
            }
            Restriction::BareTable(t) => self.check_bare_table(t, class, def_acl).await,
            Restriction::UnsupportedMap(name) => self.unsupported_map(name),
            Restriction::CheckPolicyService(arg) => {
                self.check_policy_service(arg.as_deref(), rn, class, def_acl)
                    .await
            }
            // DNS block and allow lists.
            Restriction::RblClient(d) => self.reject_rbl_client(d.as_deref()).await,
            Restriction::DnswlClient(d) => self.permit_dnswl_client(d.as_deref()).await,
            Restriction::Rhsbl(target, d) => self.reject_rhsbl(*target, d.as_deref()).await,
            Restriction::RhswlClient(d) => self.permit_rhswl_client(d.as_deref()).await,
            // HELO.
            Restriction::RejectInvalidHelo => Ok(self.reject_invalid_helo_hostname()),
            Restriction::RejectUnknownHelo => Ok(self.reject_unknown_helo_hostname().await),
            Restriction::RejectNonFqdnHelo => Ok(self.reject_non_fqdn_helo_hostname()),
            Restriction::PermitNakedIp => Ok(self.permit_naked_ip_address()),
            // Sender.
            Restriction::RejectUnknownSenderDomain => match self.nonempty_sender() {
                Some(snd) => self.reject_unknown_address(&snd, SENDER).await,
                None => Ok(Status::Dunno),
            },
            Restriction::RejectUnverifiedSender => match self.nonempty_sender() {
                Some(snd) => Ok(self.reject_unverified(&snd, SENDER)),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectNonFqdnSender => match self.nonempty_sender() {
                Some(snd) => Ok(self.reject_non_fqdn_address(&snd, SENDER)),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectAuthSenderLoginMismatch
            | Restriction::RejectKnownSenderLoginMismatch
            | Restriction::RejectUnauthSenderLoginMismatch => self.login_mismatch(r),
            Restriction::RejectUnlistedSender => match self.nonempty_sender() {
                Some(snd) => self.check_sender_rcpt_maps(&snd),
                None => Ok(Status::Dunno),
            },
            // Recipient.
            Restriction::PermitMxBackup => match self.recipient.clone() {
                Some(rcpt) => self.permit_mx_backup(&rcpt).await,
                None => Ok(Status::Dunno),
            },
            Restriction::PermitAuthDestination => match self.recipient.clone() {
                Some(rcpt) => self.permit_auth_destination(&rcpt),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectUnauthDestination => self.unauth_destination(false),
            Restriction::DeferUnauthDestination => self.unauth_destination(true),
            Restriction::CheckRelayDomains => self.check_relay_domains_restriction(next),
            Restriction::RejectUnknownRecipientDomain => match self.recipient.clone() {
                Some(rcpt) => self.reject_unknown_address(&rcpt, RECIPIENT).await,
                None => Ok(Status::Dunno),
            },
            Restriction::RejectNonFqdnRecipient => match self.recipient.clone() {
                Some(rcpt) => Ok(self.reject_non_fqdn_address(&rcpt, RECIPIENT)),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectUnlistedRecipient => match self.recipient.clone() {
                Some(rcpt) if !rcpt.is_empty() => self.check_recipient_rcpt_maps(&rcpt),
                _ => Ok(Status::Dunno),
            },
            Restriction::RejectMultiRecipientBounce => {
                Ok(self.reject_multi_recipient_bounce(rn, class))
            }
            Restriction::Spf(rule) => Ok(self.spf_restriction(*rule).await),
            Restriction::RejectUnverifiedRecipient => match self.recipient.clone() {
                Some(rcpt) if !rcpt.is_empty() => Ok(self.reject_unverified(&rcpt, RECIPIENT)),
                _ => Ok(Status::Dunno),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_dot;

    #[test]
    fn trailing_dot() {
        assert_eq!(truncate_dot("a.example."), "a.example");
        assert_eq!(truncate_dot("a.."), "a..");
        assert_eq!(truncate_dot("."), ".");
        assert_eq!(truncate_dot("a"), "a");
    }
}
