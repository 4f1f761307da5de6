//! The name dispatch of `generic_checks()`: what each parsed restriction
//! does, with the generic, client, HELO and sender/recipient syntax checks
//! implemented here (postfix-compat §3.2-§3.5). Table, relay and DNS based
//! restrictions call into `access.rs`, `relay.rs` and `dnscheck.rs`.

use std::time::Duration;

use crate::eval::{Check, ErrorClass, Res, Status, CLIENT, HELO, RECIPIENT, REV_CLIENT, SENDER};
use crate::restriction::{AccessTarget, MapArg, Restriction, RhsTarget};
use crate::valid_hostname::{valid_hostaddr, valid_hostname, valid_mailhost_addr};
use crate::Stage;

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
        let s = &self.p.s;
        match r {
            Restriction::WarnIfReject | Restriction::Dunno => Ok(Status::Dunno),
            Restriction::Permit => {
                if let Some(n) = next {
                    self.warning(format!("restriction `{n}' after `permit' is ignored"));
                }
                Ok(Status::Ok)
            }
            Restriction::Defer => {
                let code = s.defer_code;
                let st = self.reject(
                    ErrorClass::Policy,
                    code,
                    "4.3.2",
                    &format!("<{rn}>: {class} rejected: Try again later"),
                );
                if let (Some(n), 0) = (next, self.warn_if_reject) {
                    self.warning(format!("restriction `{n}' after `defer' is ignored"));
                }
                Ok(st)
            }
            Restriction::Reject => {
                let code = s.reject_code;
                let st = self.reject(
                    ErrorClass::Policy,
                    code,
                    "5.7.1",
                    &format!("<{rn}>: {class} rejected: Access denied"),
                );
                if let (Some(n), 0) = (next, self.warn_if_reject) {
                    self.warning(format!("restriction `{n}' after `reject' is ignored"));
                }
                Ok(st)
            }
            Restriction::RejectUnauthPipelining => {
                if self.facts.improper_pipelining {
                    Ok(self.reject(
                        ErrorClass::Protocol,
                        503,
                        "5.5.0",
                        &format!(
                            "<{rn}>: {class} rejected: Improper use of SMTP command pipelining"
                        ),
                    ))
                } else {
                    Ok(Status::Dunno)
                }
            }
            Restriction::CheckPolicyService(arg) => match arg {
                Some(a) if a.contains(':') => {
                    let svc =
                        match crate::policy_client::PolicyService::parse(a, &s.policy_defaults) {
                            Ok(svc) => svc,
                            Err(why) => {
                                self.warning(format!("check_policy_service {a}: {why}"));
                                return Err(self.server_error());
                            }
                        };
                    let attrs = self.policy_attributes(&svc.policy_context);
                    let action = match Box::pin(self.p.policy_clients.query(
                        &svc,
                        &s.queue_directory,
                        &attrs,
                    ))
                    .await
                    {
                        Ok(action) => action,
                        Err(why) => {
                            let endpoint = svc.endpoint.split_once(':').map_or("", |(_, e)| e);
                            self.warning(format!("problem talking to server {endpoint}: {why}"));
                            svc.default_action
                                .clone()
                                .unwrap_or_else(|| s.policy_default_action.clone())
                        }
                    };
                    self.table_result(a, &action, "policy query", rn, class, def_acl)
                        .await
                }
                _ => {
                    self.warning(
                        "restriction check_policy_service must be followed by transport:server",
                    );
                    Err(self.server_error())
                }
            },
            Restriction::DeferIfPermit => Ok(self.defer_if_permit(
                true,
                ErrorClass::Policy,
                450,
                "4.7.0",
                format!("<{rn}>: {class} rejected: defer_if_permit requested"),
            )),
            Restriction::DeferIfReject => {
                self.defer_if_reject(
                    ErrorClass::Policy,
                    450,
                    "4.7.0",
                    format!("<{rn}>: {class} rejected: defer_if_reject requested"),
                );
                Ok(Status::Dunno)
            }
            Restriction::Sleep(arg) => match arg.as_deref().and_then(|a| {
                if !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) {
                    a.parse::<u64>().ok()
                } else {
                    None
                }
            }) {
                Some(secs) => {
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    Ok(Status::Dunno)
                }
                None => {
                    self.warning("restriction sleep must be followed by number");
                    Err(self.server_error())
                }
            },
            Restriction::RejectPlaintextSession => {
                if self.facts.encryption.is_some() {
                    Ok(Status::Dunno)
                } else {
                    let code = s.plaintext_code;
                    Ok(self.reject(
                        ErrorClass::Policy,
                        code,
                        "4.7.1",
                        "Session encryption is required",
                    ))
                }
            }
            Restriction::RejectUnknownClientHostname => {
                if self.facts.client_name.eq_ignore_ascii_case("unknown") {
                    // A temporary lookup failure is always 450 (smtpd_check.c).
                    let code = if self.facts.client_name_tempfail {
                        450
                    } else {
                        s.unk_client_code
                    };
                    let addr = self.facts.client_addr;
                    Ok(self.reject(
                        ErrorClass::Policy,
                        code,
                        "4.7.25",
                        &format!("Client host rejected: cannot find your hostname, [{addr}]"),
                    ))
                } else {
                    Ok(Status::Dunno)
                }
            }
            Restriction::RejectUnknownReverseClientHostname => {
                if self
                    .facts
                    .reverse_client_name
                    .eq_ignore_ascii_case("unknown")
                {
                    let code = if self.facts.reverse_name_tempfail {
                        450
                    } else {
                        s.unk_client_code
                    };
                    let addr = self.facts.client_addr;
                    Ok(self.reject(
                        ErrorClass::Policy,
                        code,
                        "4.7.1",
                        &format!(
                            "Client host rejected: cannot find your reverse hostname, [{addr}]"
                        ),
                    ))
                } else {
                    Ok(Status::Dunno)
                }
            }
            Restriction::PermitInetInterfaces => {
                let a = self.facts.client_addr;
                if a == self.facts.server_addr || s.interface_addrs.contains(&a) {
                    Ok(Status::Ok)
                } else {
                    Ok(Status::Dunno)
                }
            }
            Restriction::PermitMynetworks => {
                match self
                    .p
                    .env
                    .mynetworks(&self.facts.client_name, self.facts.client_addr)
                {
                    Ok(true) => Ok(Status::Ok),
                    Ok(false) => Ok(Status::Dunno),
                    Err(e) => self.list_failure("mynetworks", e, rn),
                }
            }
            Restriction::PermitSaslAuthenticated => Ok(if self.facts.sasl_username.is_some() {
                Status::Ok
            } else {
                Status::Dunno
            }),
            // No client certificate information reaches the policy engine.
            Restriction::PermitTlsClientcerts => Ok(Status::Dunno),
            Restriction::Access(target, arg) => match arg {
                MapArg::Bad(a) => {
                    self.warning(format!(
                        "restriction {}: bad argument \"{a}\": need maptype:mapname",
                        target.command()
                    ));
                    Err(self.server_error())
                }
                MapArg::Table(t) => self.check_access_target(*target, t).await,
            },
            Restriction::ServerAccess(name, target, kind, arg) => match arg {
                MapArg::Bad(a) => {
                    self.warning(format!(
                        "restriction {name}: bad argument \"{a}\": need maptype:mapname"
                    ));
                    Err(self.server_error())
                }
                // Boxed: keeps each level of class recursion small.
                MapArg::Table(t) => {
                    Box::pin(self.check_server_access_target(name, *target, *kind, t)).await
                }
            },
            Restriction::BareTable(t) => match def_acl {
                Some(target) => self.check_access_target(target, t).await,
                None => {
                    self.warning(format!(
                        "specify one of (check_client_access, check_reverse_client_hostname_access, check_helo_access, check_sender_access, check_recipient_access, check_etrn_access) before {class} restriction \"{}\"",
                        t.spec
                    ));
                    Err(self.server_error())
                }
            },
            Restriction::UnsupportedMap(name) => {
                self.warning(format!(
                    "restriction {name} is not supported by this server"
                ));
                Err(self.server_error())
            }
            Restriction::RblClient(d) => match d {
                None => {
                    self.warning("restriction reject_rbl_client requires domain name argument");
                    Ok(Status::Dunno)
                }
                Some(d) => self.reject_rbl_addr(d).await,
            },
            Restriction::DnswlClient(d) => match d {
                None => {
                    self.warning("restriction permit_dnswl_client requires domain name argument");
                    Ok(Status::Dunno)
                }
                Some(d) => self.permit_dnswl_addr(d).await,
            },
            Restriction::Rhsbl(target, d) => {
                let Some(d) = d else {
                    let name = match target {
                        RhsTarget::Client => "reject_rhsbl_client",
                        RhsTarget::ReverseClient => "reject_rhsbl_reverse_client",
                        RhsTarget::Helo => "reject_rhsbl_helo",
                        RhsTarget::Sender => "reject_rhsbl_sender",
                        RhsTarget::Recipient => "reject_rhsbl_recipient",
                    };
                    self.warning(format!("restriction {name} requires domain name argument"));
                    return Ok(Status::Dunno);
                };
                let what = match target {
                    RhsTarget::Client => Some(self.facts.client_name.clone())
                        .filter(|n| !n.eq_ignore_ascii_case("unknown"))
                        .map(|n| (n, CLIENT)),
                    RhsTarget::ReverseClient => Some(self.facts.reverse_client_name.clone())
                        .filter(|n| !n.eq_ignore_ascii_case("unknown"))
                        .map(|n| (n, REV_CLIENT)),
                    RhsTarget::Helo => self.helo.clone().map(|h| (h, HELO)),
                    RhsTarget::Sender => self
                        .sender
                        .clone()
                        .filter(|s| !s.is_empty())
                        .map(|s| (s, SENDER)),
                    RhsTarget::Recipient => self.recipient.clone().map(|r| (r, RECIPIENT)),
                };
                match what {
                    Some((what, class)) => self.reject_rbl_domain(d, &what, class).await,
                    None => Ok(Status::Dunno),
                }
            }
            Restriction::RhswlClient(d) => match d {
                None => {
                    self.warning("restriction permit_rhswl_client requires domain name argument");
                    Ok(Status::Dunno)
                }
                Some(d) => {
                    let name = self.facts.client_name.clone();
                    if name.eq_ignore_ascii_case("unknown") {
                        Ok(Status::Dunno)
                    } else {
                        self.permit_dnswl_domain(d, &name, CLIENT).await
                    }
                }
            },
            Restriction::RejectInvalidHelo => match self.helo.clone() {
                Some(h) if h.starts_with('[') => Ok(self.reject_invalid_hostaddr(&h, &h, HELO)),
                Some(h) => Ok(self.reject_invalid_hostname(&h, &h, HELO)),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectUnknownHelo => match self.helo.clone() {
                Some(h) if h.starts_with('[') => Ok(self.reject_invalid_hostaddr(&h, &h, HELO)),
                Some(h) => Ok(self.reject_unknown_hostname(&h, &h, HELO).await),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectNonFqdnHelo => match self.helo.clone() {
                Some(h) if h.starts_with('[') => Ok(self.reject_invalid_hostaddr(&h, &h, HELO)),
                Some(h) => Ok(self.reject_non_fqdn_hostname(&h, &h, HELO)),
                None => Ok(Status::Dunno),
            },
            Restriction::PermitNakedIp => {
                self.warning(
                    "restriction permit_naked_ip_address is deprecated. Use permit_mynetworks or permit_sasl_authenticated instead",
                );
                match self.helo.clone() {
                    Some(h)
                        if h.bytes()
                            .all(|c| c.is_ascii_digit() || c == b'.' || c == b':') =>
                    {
                        match self.reject_invalid_hostaddr(&h, &h, HELO) {
                            Status::Dunno => Ok(Status::Ok),
                            other => Ok(other),
                        }
                    }
                    _ => Ok(Status::Dunno),
                }
            }
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
            Restriction::PermitMxBackup => match self.recipient.clone() {
                Some(rcpt) => self.permit_mx_backup(&rcpt).await,
                None => Ok(Status::Dunno),
            },
            Restriction::PermitAuthDestination => match self.recipient.clone() {
                Some(rcpt) => self.permit_auth_destination(&rcpt),
                None => Ok(Status::Dunno),
            },
            Restriction::RejectUnauthDestination => match self.recipient.clone() {
                Some(rcpt) => {
                    let code = s.relay_code;
                    self.reject_unauth_destination(&rcpt, code, "5.7.1")
                }
                None => Ok(Status::Dunno),
            },
            Restriction::DeferUnauthDestination => match self.recipient.clone() {
                Some(rcpt) => {
                    let code = s.relay_code.saturating_sub(100);
                    self.reject_unauth_destination(&rcpt, code, "4.7.1")
                }
                None => Ok(Status::Dunno),
            },
            Restriction::CheckRelayDomains => {
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
                let threshold = if self.stage == Stage::Rcpt { 0 } else { 1 };
                if self.sender.as_deref() == Some("") && self.facts.recipient_count > threshold {
                    let code = s.mul_rcpt_code;
                    Ok(self.reject(
                        ErrorClass::Policy,
                        code,
                        "5.5.3",
                        &format!("<{rn}>: {class} rejected: Multi-recipient bounce"),
                    ))
                } else {
                    Ok(Status::Dunno)
                }
            }
            Restriction::RejectUnverifiedRecipient => match self.recipient.clone() {
                Some(rcpt) if !rcpt.is_empty() => Ok(self.reject_unverified(&rcpt, RECIPIENT)),
                _ => Ok(Status::Dunno),
            },
            Restriction::Class(name) => {
                let p = self.p;
                match p.classes.get(name) {
                    Some(list) => {
                        if self.recursion > crate::eval::MAX_RECURSION {
                            self.warning(format!(
                                "restriction class {name} causes unreasonable recursion"
                            ));
                            return Err(self.server_error());
                        }
                        self.generic_checks(list, rn, class, def_acl).await
                    }
                    None => {
                        self.warning(format!("unknown smtpd restriction: \"{name}\""));
                        Err(self.server_error())
                    }
                }
            }
            Restriction::Unknown(name) => {
                self.warning(format!("unknown smtpd restriction: \"{name}\""));
                Err(self.server_error())
            }
        }
    }

    fn nonempty_sender(&self) -> Option<String> {
        self.sender.clone().filter(|s| !s.is_empty())
    }

    /// A failing match list (`mynetworks`, `relay_domains`): temporary →
    /// 451 4.3.0, otherwise 451 4.3.5 (generic_checks `status < 0`).
    pub(crate) fn list_failure(
        &mut self,
        what: &str,
        e: gatepost_table::TableError,
        rn: &str,
    ) -> Res {
        self.warning(format!("{what}: {e}"));
        match e {
            gatepost_table::TableError::Temporary { .. } => Err(self.dict_retry(rn)),
            gatepost_table::TableError::Config { .. } => Err(self.server_error()),
        }
    }

    /// `reject_invalid_hostaddr()`: a `[...]` literal (or bare address) must
    /// be a valid mail host address.
    pub(crate) fn reject_invalid_hostaddr(&mut self, addr: &str, rn: &str, class: &str) -> Status {
        let test = if addr.len() > 2 && addr.starts_with('[') && addr.ends_with(']') {
            &addr[1..addr.len() - 1]
        } else {
            addr
        };
        if valid_mailhost_addr(test).is_none() {
            let code = self.p.s.bad_name_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.2",
                &format!("<{rn}>: {class} rejected: invalid ip address"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_invalid_hostname()`: fails `valid_hostname` and `valid_hostaddr`.
    pub(crate) fn reject_invalid_hostname(&mut self, name: &str, rn: &str, class: &str) -> Status {
        let test = truncate_dot(name);
        if !valid_hostname(test) && !valid_hostaddr(test) {
            let code = self.p.s.bad_name_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.2",
                &format!("<{rn}>: {class} rejected: Invalid name"),
            )
        } else {
            Status::Dunno
        }
    }

    /// `reject_non_fqdn_hostname()`: not a valid hostname, or no dot. Non-ASCII
    /// names are refused (SMTPUTF8 state is not part of the facts).
    pub(crate) fn reject_non_fqdn_hostname(&mut self, name: &str, rn: &str, class: &str) -> Status {
        let test = truncate_dot(name);
        if !valid_hostname(test) || !test.contains('.') {
            let code = self.p.s.non_fqdn_code;
            self.reject(
                ErrorClass::Policy,
                code,
                "5.5.2",
                &format!("<{rn}>: {class} rejected: need fully-qualified hostname"),
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
