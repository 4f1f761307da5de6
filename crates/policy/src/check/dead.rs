//! Dead configuration: settings that look protective but never take
//! effect, each explained in one line.

use gatepost_config::{params, Config};

use super::{list_label, Finding, Severity};
use crate::restriction::{Restriction, RestrictionList};
use crate::Policy;

pub(crate) fn dead_configuration(cfg: &Config, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(relay_code_unused(cfg, policy));
    for list in policy.named_lists() {
        out.extend(after_unconditional(policy, list));
        out.extend(empty_mynetworks(cfg, policy, list));
    }
    out.extend(pipelining_outside_data(policy));
    out.extend(helo_checks_skipped(cfg, policy));
    out
}

fn has(list: &RestrictionList, want: fn(&Restriction) -> bool) -> bool {
    list.items.iter().any(|i| want(&i.restriction))
}

/// `relay_domains_reject_code` is the code of `reject_unauth_destination`;
/// when the relay restrictions, evaluated first, hold
/// `defer_unauth_destination`, a foreign recipient gets its 4XX before.
fn relay_code_unused(cfg: &Config, policy: &Policy) -> Option<Finding> {
    let origin = cfg.origin(params::RELAY_DOMAINS_REJECT_CODE.name())?;
    let defers = has(&policy.relay, |r| {
        matches!(r, Restriction::DeferUnauthDestination)
    });
    (defers && policy.s.relay_before_rcpt).then(|| {
        Finding::new(
            Severity::Warning,
            Some(origin),
            format!(
                "relay_domains_reject_code = {} never applies: {} answers unauthorized relaying with defer_unauth_destination (4XX) before reject_unauth_destination runs; set smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
                cfg.get(&params::RELAY_DOMAINS_REJECT_CODE),
                list_label(policy, "smtpd_relay_restrictions")
            ),
        )
    })
}

/// A restriction after an unconditional `permit`, `reject` or `defer`
/// (not one that follows `warn_if_reject`) is never evaluated.
fn after_unconditional(policy: &Policy, list: &RestrictionList) -> Option<Finding> {
    let mut warn_next = false;
    for (i, item) in list.items.iter().enumerate() {
        let final_word = matches!(
            item.restriction,
            Restriction::Permit | Restriction::Reject | Restriction::Defer
        );
        if final_word && !warn_next && i + 1 < list.items.len() {
            let ignored: Vec<&str> = list.items[i + 1..]
                .iter()
                .map(|i| i.text.as_str())
                .collect();
            return Some(Finding::new(
                Severity::Warning,
                policy.origin_of(&list.name),
                format!(
                    "in {}, \"{}\" after the unconditional \"{}\" is never evaluated",
                    list.name,
                    ignored.join(", "),
                    item.text
                ),
            ));
        }
        warn_next = matches!(item.restriction, Restriction::WarnIfReject);
    }
    None
}

fn empty_mynetworks(cfg: &Config, policy: &Policy, list: &RestrictionList) -> Option<Finding> {
    let set_at = cfg.origin(params::MYNETWORKS.name())?;
    if !cfg.get(&params::MYNETWORKS).is_empty()
        || !has(list, |r| matches!(r, Restriction::PermitMynetworks))
    {
        return None;
    }
    Some(Finding::new(
        Severity::Warning,
        policy.origin_of(&list.name),
        format!(
            "permit_mynetworks in {} has no networks of its own: mynetworks is empty ({}:{}), so the networks of mynetworks_style are trusted instead",
            list.name, set_at.0, set_at.1
        ),
    ))
}

/// postconf(5), reject_unauth_pipelining: "not useful outside
/// smtpd_data_restrictions when 1) the client uses ESMTP (EHLO instead of
/// HELO) and 2) with smtpd_delay_reject = yes (the default)".
fn pipelining_outside_data(policy: &Policy) -> Vec<Finding> {
    if !policy.s.delay_reject {
        return Vec::new();
    }
    [
        &policy.client,
        &policy.helo,
        &policy.sender,
        &policy.relay,
        &policy.recipient,
    ]
    .into_iter()
    .filter(|l| has(l, |r| matches!(r, Restriction::RejectUnauthPipelining)))
    .map(|l| {
        Finding::new(
            Severity::Warning,
            policy.origin_of(&l.name),
            format!(
                "reject_unauth_pipelining in {} runs at RCPT time (smtpd_delay_reject = yes) and misses ESMTP clients that send the message before the 354 reply; postconf(5) recommends it in smtpd_data_restrictions",
                l.name
            ),
        )
    })
    .collect()
}

/// Without `smtpd_helo_required`, the HELO restrictions run only for
/// clients that send HELO/EHLO: at the HELO command, or with
/// `smtpd_delay_reject = yes` at RCPT when a HELO name is known.
fn helo_checks_skipped(cfg: &Config, policy: &Policy) -> Option<Finding> {
    if policy.helo.items.is_empty() || cfg.get(&params::SMTPD_HELO_REQUIRED) {
        return None;
    }
    Some(Finding::new(
        Severity::Warning,
        policy.origin_of("smtpd_helo_restrictions"),
        "smtpd_helo_restrictions are skipped for clients that never send HELO/EHLO while smtpd_helo_required = no; set smtpd_helo_required = yes".to_string(),
    ))
}
