//! Restriction lists parsed once into typed values (smtpd_check.c
//! `smtpd_check_parse()` plus the name dispatch of `generic_checks()`).
//!
//! Parsing never fails: as in Postfix, an unknown name or a missing argument
//! is only reported when the restriction is evaluated (`unknown smtpd
//! restriction: "X"` and `451 4.3.5 Server configuration error`). Tables
//! named in a list are opened here, once; an open failure is kept and
//! reported as a table failure at evaluation time.

use crate::dns::ServerKind;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gatepost_table::Table;

/// What a `check_*_access` restriction looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessTarget {
    Client,
    ReverseClient,
    Helo,
    Sender,
    Recipient,
    Etrn,
}

impl AccessTarget {
    /// The restriction name, e.g. `check_client_access`.
    pub(crate) fn command(self) -> &'static str {
        match self {
            AccessTarget::Client => "check_client_access",
            AccessTarget::ReverseClient => "check_reverse_client_hostname_access",
            AccessTarget::Helo => "check_helo_access",
            AccessTarget::Sender => "check_sender_access",
            AccessTarget::Recipient => "check_recipient_access",
            AccessTarget::Etrn => "check_etrn_access",
        }
    }
}

/// Whose domain a `reject_rhsbl_*` restriction looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RhsTarget {
    Client,
    ReverseClient,
    Helo,
    Sender,
    Recipient,
}

/// Opens a `type:name` table spec (normally `gatepost_table::open_table`).
pub(crate) type TableOpener = dyn Fn(&str) -> Result<Arc<dyn Table>, String>;

/// A table named in a restriction list, opened at start-up.
#[derive(Debug, Clone)]
pub(crate) struct TableRef {
    pub spec: String,
    pub table: Result<Arc<dyn Table>, String>,
}

/// The argument of a `check_*_access` restriction.
#[derive(Debug, Clone)]
pub(crate) enum MapArg {
    /// No argument, or one without `:` (Postfix: `bad argument`, 451 4.3.5).
    Bad(String),
    Table(TableRef),
}

#[derive(Debug, Clone)]
pub(crate) enum Restriction {
    WarnIfReject,
    Permit,
    Reject,
    Defer,
    Dunno,
    DeferIfPermit,
    DeferIfReject,
    Sleep(Option<String>),
    RejectUnauthPipelining,
    RejectPlaintextSession,
    CheckPolicyService(Option<String>),
    // Client.
    RejectUnknownClientHostname,
    RejectUnknownReverseClientHostname,
    PermitInetInterfaces,
    PermitMynetworks,
    PermitSaslAuthenticated,
    PermitTlsClientcerts,
    Access(AccessTarget, MapArg),
    /// `check_{client,reverse_client,helo,sender,recipient}_{mx,ns,a}_access`:
    /// the restriction name, whose servers, which servers, the table.
    ServerAccess(String, AccessTarget, ServerKind, MapArg),
    /// A bare `type:table`: the stage's default `check_*_access`.
    BareTable(TableRef),
    /// A map command this server does not implement (`check_*_mx_access`,
    /// `check_ccert_access`, ...).
    UnsupportedMap(String),
    RblClient(Option<String>),
    DnswlClient(Option<String>),
    Rhsbl(RhsTarget, Option<String>),
    RhswlClient(Option<String>),
    // HELO.
    RejectInvalidHelo,
    RejectUnknownHelo,
    RejectNonFqdnHelo,
    PermitNakedIp,
    // Sender.
    RejectUnknownSenderDomain,
    RejectUnverifiedSender,
    RejectNonFqdnSender,
    RejectAuthSenderLoginMismatch,
    RejectKnownSenderLoginMismatch,
    RejectUnauthSenderLoginMismatch,
    RejectUnlistedSender,
    // Recipient.
    PermitMxBackup,
    PermitAuthDestination,
    RejectUnauthDestination,
    DeferUnauthDestination,
    CheckRelayDomains,
    RejectUnknownRecipientDomain,
    RejectNonFqdnRecipient,
    RejectUnlistedRecipient,
    RejectMultiRecipientBounce,
    RejectUnverifiedRecipient,
    /// `reject_spf_fail`, `reject_spf_softfail`, `reject_spf_permerror`,
    /// `defer_spf_temperror` (docs/mail-auth.md): the SPF result acted on.
    Spf(crate::dispatch::SpfRule),
    /// A restriction class (user-defined or built-in).
    Class(String),
    Unknown(String),
}

/// One parsed list element, with its text as written (for traces).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub text: String,
    pub restriction: Restriction,
}

/// A parsed restriction list.
#[derive(Debug, Clone, Default)]
pub(crate) struct RestrictionList {
    /// The parameter (or class, or table) the list came from.
    pub name: String,
    pub items: Vec<Item>,
    /// The raw tokens, for the start-up "required restriction" check.
    pub tokens: Vec<String>,
}

/// Opens tables during parsing; caches by spec so each is opened once.
pub(crate) struct Parser<'a> {
    pub classes: &'a HashSet<String>,
    pub open: &'a TableOpener,
    pub cache: HashMap<String, TableRef>,
}

impl Parser<'_> {
    fn table(&mut self, spec: &str) -> TableRef {
        if let Some(t) = self.cache.get(spec) {
            return t.clone();
        }
        let t = TableRef {
            spec: spec.to_string(),
            table: (self.open)(spec),
        };
        self.cache.insert(spec.to_string(), t.clone());
        t
    }

    /// Parse already split list tokens.
    pub fn parse(&mut self, name: &str, tokens: &[String]) -> RestrictionList {
        let mut items = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let tok = tokens[i].as_str();
            let next = tokens.get(i + 1).cloned();
            let lower = tok.to_ascii_lowercase();
            let mut consumed = 1;
            let take_arg = |consumed: &mut usize| {
                if next.is_some() {
                    *consumed = 2;
                }
                next.clone()
            };
            let restriction = match lower.as_str() {
                "warn_if_reject" => Restriction::WarnIfReject,
                "permit" => Restriction::Permit,
                "reject" => Restriction::Reject,
                "defer" => Restriction::Defer,
                "dunno" => Restriction::Dunno,
                "defer_if_permit" => Restriction::DeferIfPermit,
                "defer_if_reject" => Restriction::DeferIfReject,
                "sleep" => Restriction::Sleep(take_arg(&mut consumed)),
                "reject_unauth_pipelining" => Restriction::RejectUnauthPipelining,
                "reject_plaintext_session" => Restriction::RejectPlaintextSession,
                "check_policy_service" => Restriction::CheckPolicyService(take_arg(&mut consumed)),
                "reject_unknown_client_hostname" | "reject_unknown_client" => {
                    Restriction::RejectUnknownClientHostname
                }
                "reject_unknown_reverse_client_hostname" => {
                    Restriction::RejectUnknownReverseClientHostname
                }
                "permit_inet_interfaces" => Restriction::PermitInetInterfaces,
                "permit_mynetworks" => Restriction::PermitMynetworks,
                "permit_sasl_authenticated" => Restriction::PermitSaslAuthenticated,
                "permit_tls_clientcerts" | "permit_tls_all_clientcerts" => {
                    Restriction::PermitTlsClientcerts
                }
                "check_client_access"
                | "check_reverse_client_hostname_access"
                | "check_helo_access"
                | "check_sender_access"
                | "check_recipient_access"
                | "check_etrn_access" => {
                    let target = match lower.as_str() {
                        "check_client_access" => AccessTarget::Client,
                        "check_reverse_client_hostname_access" => AccessTarget::ReverseClient,
                        "check_helo_access" => AccessTarget::Helo,
                        "check_sender_access" => AccessTarget::Sender,
                        "check_recipient_access" => AccessTarget::Recipient,
                        _ => AccessTarget::Etrn,
                    };
                    let arg = take_arg(&mut consumed);
                    let map = match arg {
                        Some(a) if a.contains(':') => MapArg::Table(self.table(&a)),
                        Some(a) => MapArg::Bad(a),
                        None => MapArg::Bad(String::new()),
                    };
                    Restriction::Access(target, map)
                }
                "check_client_mx_access"
                | "check_client_ns_access"
                | "check_client_a_access"
                | "check_reverse_client_mx_access"
                | "check_reverse_client_ns_access"
                | "check_reverse_client_a_access"
                | "check_helo_mx_access"
                | "check_helo_ns_access"
                | "check_helo_a_access"
                | "check_sender_mx_access"
                | "check_sender_ns_access"
                | "check_sender_a_access"
                | "check_recipient_mx_access"
                | "check_recipient_ns_access"
                | "check_recipient_a_access" => {
                    let target = match lower.split('_').nth(1) {
                        Some("client") => AccessTarget::Client,
                        Some("reverse") => AccessTarget::ReverseClient,
                        Some("helo") => AccessTarget::Helo,
                        Some("sender") => AccessTarget::Sender,
                        _ => AccessTarget::Recipient,
                    };
                    let kind = if lower.ends_with("_mx_access") {
                        ServerKind::Mx
                    } else if lower.ends_with("_ns_access") {
                        ServerKind::Ns
                    } else {
                        ServerKind::A
                    };
                    let map = match take_arg(&mut consumed) {
                        Some(a) if a.contains(':') => MapArg::Table(self.table(&a)),
                        Some(a) => MapArg::Bad(a),
                        None => MapArg::Bad(String::new()),
                    };
                    Restriction::ServerAccess(lower.clone(), target, kind, map)
                }
                "check_ccert_access" | "check_sasl_access" => {
                    take_arg(&mut consumed);
                    Restriction::UnsupportedMap(lower.clone())
                }
                "reject_rbl_client" | "reject_rbl" => {
                    Restriction::RblClient(take_arg(&mut consumed))
                }
                "permit_dnswl_client" => Restriction::DnswlClient(take_arg(&mut consumed)),
                "reject_rhsbl_client" => {
                    Restriction::Rhsbl(RhsTarget::Client, take_arg(&mut consumed))
                }
                "reject_rhsbl_reverse_client" => {
                    Restriction::Rhsbl(RhsTarget::ReverseClient, take_arg(&mut consumed))
                }
                "reject_rhsbl_helo" => Restriction::Rhsbl(RhsTarget::Helo, take_arg(&mut consumed)),
                "reject_rhsbl_sender" => {
                    Restriction::Rhsbl(RhsTarget::Sender, take_arg(&mut consumed))
                }
                "reject_rhsbl_recipient" => {
                    Restriction::Rhsbl(RhsTarget::Recipient, take_arg(&mut consumed))
                }
                "permit_rhswl_client" => Restriction::RhswlClient(take_arg(&mut consumed)),
                "reject_invalid_helo_hostname" | "reject_invalid_hostname" => {
                    Restriction::RejectInvalidHelo
                }
                "reject_unknown_helo_hostname" | "reject_unknown_hostname" => {
                    Restriction::RejectUnknownHelo
                }
                "reject_non_fqdn_helo_hostname" | "reject_non_fqdn_hostname" => {
                    Restriction::RejectNonFqdnHelo
                }
                "permit_naked_ip_address" => Restriction::PermitNakedIp,
                "reject_unknown_sender_domain" | "reject_unknown_address" => {
                    Restriction::RejectUnknownSenderDomain
                }
                "reject_unverified_sender" => Restriction::RejectUnverifiedSender,
                "reject_non_fqdn_sender" => Restriction::RejectNonFqdnSender,
                "reject_authenticated_sender_login_mismatch" => {
                    Restriction::RejectAuthSenderLoginMismatch
                }
                "reject_known_sender_login_mismatch" => Restriction::RejectKnownSenderLoginMismatch,
                "reject_unauthenticated_sender_login_mismatch" => {
                    Restriction::RejectUnauthSenderLoginMismatch
                }
                "reject_unlisted_sender" => Restriction::RejectUnlistedSender,
                "permit_mx_backup" => Restriction::PermitMxBackup,
                "permit_auth_destination" => Restriction::PermitAuthDestination,
                "reject_unauth_destination" => Restriction::RejectUnauthDestination,
                "defer_unauth_destination" => Restriction::DeferUnauthDestination,
                "check_relay_domains" => Restriction::CheckRelayDomains,
                "reject_unknown_recipient_domain" => Restriction::RejectUnknownRecipientDomain,
                "reject_non_fqdn_recipient" => Restriction::RejectNonFqdnRecipient,
                "reject_unlisted_recipient" | "check_recipient_maps" => {
                    Restriction::RejectUnlistedRecipient
                }
                "reject_multi_recipient_bounce" => Restriction::RejectMultiRecipientBounce,
                "reject_unverified_recipient" => Restriction::RejectUnverifiedRecipient,
                "reject_spf_fail" => Restriction::Spf(crate::dispatch::SpfRule::RejectFail),
                "reject_spf_softfail" => Restriction::Spf(crate::dispatch::SpfRule::RejectSoftfail),
                "reject_spf_permerror" => {
                    Restriction::Spf(crate::dispatch::SpfRule::RejectPermerror)
                }
                "defer_spf_temperror" => Restriction::Spf(crate::dispatch::SpfRule::DeferTemperror),
                _ if tok.starts_with('{') => Restriction::Unknown(tok.to_string()),
                _ if tok.contains(':') => Restriction::BareTable(self.table(tok)),
                _ if self.classes.contains(tok) => Restriction::Class(tok.to_string()),
                _ => Restriction::Unknown(tok.to_string()),
            };
            let text = tokens[i..i + consumed].join(" ");
            items.push(Item { text, restriction });
            i += consumed;
        }
        RestrictionList {
            name: name.to_string(),
            items,
            tokens: tokens.to_vec(),
        }
    }
}

/// The restrictions of which smtpd requires at least one in the relay or
/// recipient restrictions (smtpd_check.c `rcpt_required`).
pub(crate) const RCPT_REQUIRED: &[&str] = &[
    "reject_unauth_destination",
    "defer_unauth_destination",
    "reject",
    "defer",
    "defer_if_permit",
    "check_relay_domains",
];

/// Postfix `has_required()`: looks inside classes, skips the restriction
/// after `warn_if_reject`, stops at `permit`. Returns warnings about
/// restrictions after `permit` through `warnings`.
pub(crate) fn has_required(
    tokens: &[String],
    classes: &HashMap<String, RestrictionList>,
    warnings: &mut Vec<String>,
    depth: usize,
) -> bool {
    if depth > 100 {
        return false;
    }
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.eq_ignore_ascii_case("warn_if_reject") && i + 1 < tokens.len() {
            i += 2;
            continue;
        }
        if t.eq_ignore_ascii_case("permit") {
            if let Some(next) = tokens.get(i + 1) {
                warnings.push(format!("restriction `{next}' after `{t}' is ignored"));
            }
            return false;
        }
        if RCPT_REQUIRED.iter().any(|r| t.eq_ignore_ascii_case(r)) {
            return true;
        }
        if let Some(class) = classes.get(t.as_str()) {
            if has_required(&class.tokens, classes, warnings, depth + 1) {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// The fatal start-up text when [`has_required`] fails for both lists.
pub(crate) fn fail_required_text() -> String {
    let n = RCPT_REQUIRED.len();
    let mut example = String::new();
    for (i, r) in RCPT_REQUIRED.iter().enumerate() {
        example.push_str(r);
        if i + 2 == n {
            example.push_str(" or ");
        } else if i + 1 < n {
            example.push_str(", ");
        }
    }
    format!(
        "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: {example}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split([',', ' '])
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn parser_parse(list: &str, classes: &[&str]) -> RestrictionList {
        let classes: HashSet<String> = classes.iter().map(|s| s.to_string()).collect();
        let open = |spec: &str| -> Result<Arc<dyn Table>, String> {
            Err(format!("{spec}: not opened in tests"))
        };
        let mut p = Parser {
            classes: &classes,
            open: &open,
            cache: HashMap::new(),
        };
        p.parse("smtpd_recipient_restrictions", &toks(list))
    }

    #[test]
    fn parses_names_and_arguments() {
        let l = parser_parse(
            "permit_mynetworks, check_client_access hash:/x, reject_rbl_client bl.example, sleep 2, \
             hash:/y, myclass, bogus, check_helo_access nomap, Reject_Unauth_Destination, reject_rbl_client",
            &["myclass"],
        );
        let texts: Vec<&str> = l.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "permit_mynetworks",
                "check_client_access hash:/x",
                "reject_rbl_client bl.example",
                "sleep 2",
                "hash:/y",
                "myclass",
                "bogus",
                "check_helo_access nomap",
                "Reject_Unauth_Destination",
                "reject_rbl_client",
            ]
        );
        assert!(matches!(
            l.items[1].restriction,
            Restriction::Access(AccessTarget::Client, MapArg::Table(_))
        ));
        assert!(matches!(l.items[4].restriction, Restriction::BareTable(_)));
        assert!(matches!(l.items[5].restriction, Restriction::Class(_)));
        assert!(matches!(l.items[6].restriction, Restriction::Unknown(_)));
        assert!(matches!(
            l.items[7].restriction,
            Restriction::Access(AccessTarget::Helo, MapArg::Bad(_))
        ));
        assert!(matches!(
            l.items[8].restriction,
            Restriction::RejectUnauthDestination
        ));
        assert!(matches!(
            l.items[9].restriction,
            Restriction::RblClient(None)
        ));
    }

    #[test]
    fn old_names_are_aliases() {
        let l = parser_parse(
            "reject_unknown_client reject_invalid_hostname reject_non_fqdn_hostname reject_unknown_hostname check_recipient_maps reject_rbl x",
            &[],
        );
        assert!(matches!(
            l.items[0].restriction,
            Restriction::RejectUnknownClientHostname
        ));
        assert!(matches!(
            l.items[1].restriction,
            Restriction::RejectInvalidHelo
        ));
        assert!(matches!(
            l.items[2].restriction,
            Restriction::RejectNonFqdnHelo
        ));
        assert!(matches!(
            l.items[3].restriction,
            Restriction::RejectUnknownHelo
        ));
        assert!(matches!(
            l.items[4].restriction,
            Restriction::RejectUnlistedRecipient
        ));
        assert!(matches!(
            l.items[5].restriction,
            Restriction::RblClient(Some(_))
        ));
    }

    #[test]
    fn required_check() {
        let mut classes = HashMap::new();
        classes.insert(
            "c".to_string(),
            parser_parse("permit_mynetworks reject_unauth_destination", &[]),
        );
        let mut w = Vec::new();
        for (list, want) in [
            ("permit_mynetworks, reject_unauth_destination", true),
            ("permit_mynetworks, defer_if_permit", true),
            ("permit_mynetworks", false),
            ("", false),
            ("permit, reject", false),
            ("warn_if_reject reject_unauth_destination", false),
            ("c", true),
            ("check_relay_domains", true),
        ] {
            assert_eq!(
                has_required(&toks(list), &classes, &mut w, 0),
                want,
                "{list}"
            );
        }
        assert_eq!(w, vec!["restriction `reject' after `permit' is ignored"]);
        assert_eq!(
            fail_required_text(),
            "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains"
        );
    }
}
