//! Unknown restriction names (Postfix reports them only when a client
//! reaches them, with `451 4.3.5 Server configuration error`), each with a
//! "did you mean" by edit distance among the known names and classes.

use super::{Finding, Severity};
use crate::restriction::Restriction;
use crate::Policy;

/// Every restriction name the parser knows (restriction.rs), for suggestions.
pub(crate) const KNOWN: &[&str] = &[
    "warn_if_reject",
    "permit",
    "reject",
    "defer",
    "dunno",
    "defer_if_permit",
    "defer_if_reject",
    "sleep",
    "reject_unauth_pipelining",
    "reject_plaintext_session",
    "check_policy_service",
    "reject_unknown_client_hostname",
    "reject_unknown_reverse_client_hostname",
    "permit_inet_interfaces",
    "permit_mynetworks",
    "permit_sasl_authenticated",
    "permit_tls_clientcerts",
    "permit_tls_all_clientcerts",
    "check_client_access",
    "check_reverse_client_hostname_access",
    "check_helo_access",
    "check_sender_access",
    "check_recipient_access",
    "check_etrn_access",
    "check_client_mx_access",
    "check_client_ns_access",
    "check_client_a_access",
    "check_helo_mx_access",
    "check_helo_ns_access",
    "check_helo_a_access",
    "check_sender_mx_access",
    "check_sender_ns_access",
    "check_sender_a_access",
    "check_recipient_mx_access",
    "check_recipient_ns_access",
    "check_recipient_a_access",
    "check_ccert_access",
    "check_sasl_access",
    "reject_rbl_client",
    "permit_dnswl_client",
    "reject_rhsbl_client",
    "reject_rhsbl_reverse_client",
    "reject_rhsbl_helo",
    "reject_rhsbl_sender",
    "reject_rhsbl_recipient",
    "permit_rhswl_client",
    "reject_invalid_helo_hostname",
    "reject_unknown_helo_hostname",
    "reject_non_fqdn_helo_hostname",
    "permit_naked_ip_address",
    "reject_unknown_sender_domain",
    "reject_unverified_sender",
    "reject_non_fqdn_sender",
    "reject_authenticated_sender_login_mismatch",
    "reject_known_sender_login_mismatch",
    "reject_unauthenticated_sender_login_mismatch",
    "reject_sender_login_mismatch",
    "reject_unlisted_sender",
    "permit_mx_backup",
    "permit_auth_destination",
    "reject_unauth_destination",
    "defer_unauth_destination",
    "reject_unknown_recipient_domain",
    "reject_non_fqdn_recipient",
    "reject_unlisted_recipient",
    "reject_multi_recipient_bounce",
    "reject_unverified_recipient",
    // gatepost-only (docs/mail-auth.md).
    "reject_spf_fail",
    "reject_spf_softfail",
    "reject_spf_permerror",
    "defer_spf_temperror",
];

/// One finding per unknown name, at the line of the list holding it.
pub(crate) fn unknown_restrictions(policy: &Policy) -> Vec<Finding> {
    let classes: Vec<&str> = policy.classes.keys().map(String::as_str).collect();
    let mut out = Vec::new();
    for list in policy.named_lists() {
        for item in &list.items {
            let Restriction::Unknown(name) = &item.restriction else {
                continue;
            };
            let hint = suggest(name, KNOWN.iter().copied().chain(classes.iter().copied()))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            out.push(Finding::new(
                Severity::Warning,
                policy.origin_of(&list.name),
                format!(
                    "unknown restriction \"{name}\" in {}: every client that reaches it gets 451 4.3.5 Server configuration error{hint}",
                    list.name
                ),
            ));
        }
    }
    out
}

/// The closest candidate within an edit distance of a third of the
/// word's length (at least 1, at most 3).
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (insert, delete, substitute, each cost 1).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restriction::Parser;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn suggestions_by_edit_distance() {
        let known = || KNOWN.iter().copied();
        assert_eq!(
            suggest("reject_unauth_destinaton", known()),
            Some("reject_unauth_destination")
        );
        assert_eq!(
            suggest("permit_mynetwork", known()),
            Some("permit_mynetworks")
        );
        assert_eq!(suggest("reject_spf_fial", known()), Some("reject_spf_fail"));
        assert_eq!(suggest("frobnicate", known()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn every_known_name_parses() {
        let classes: HashSet<String> = ["reject_sender_login_mismatch".to_string()].into();
        let open = |spec: &str| -> Result<std::sync::Arc<dyn gatepost_table::Table>, String> {
            Err(spec.to_string())
        };
        let mut parser = Parser {
            classes: &classes,
            open: &open,
            cache: HashMap::new(),
        };
        for name in KNOWN {
            let list = parser.parse("x", &[name.to_string()]);
            assert!(
                !matches!(list.items[0].restriction, Restriction::Unknown(_)),
                "{name}"
            );
        }
    }
}
