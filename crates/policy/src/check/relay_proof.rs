//! The open-relay proof: evaluate the real restriction engine for an
//! outside, unauthenticated client (an address outside `mynetworks`, over
//! IPv4 and IPv6) sending to a foreign domain through every address form
//! of the relay battery, and report each path that lets the mail through
//! with the line that opens it.
//!
//! Nothing leaves the machine: DNS is answered locally and DNS-dependent
//! restrictions are given the outcome an attacker would arrange (his
//! names resolve, he is on no block list, he is on no allow list, this
//! host is no backup MX of his domain); `check_policy_service` and
//! `sleep` count as DUNNO. When `smtpd_sasl_auth_enable = yes` and
//! `smtpd_sasl_security_options` is set without `noanonymous`, the client
//! is also tried as an anonymous SASL login.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use gatepost_config::{params, Config};

use super::{Finding, Severity};
use crate::dns::{DnsChecks, DnsStatus, RblAnswer};
use crate::restriction::Restriction;
use crate::{Facts, Policy, SessionPolicy, Stage, TraceStep};

/// One recipient form of the battery: the trick's name and the address.
#[derive(Debug, Clone)]
pub struct RelayForm {
    pub trick: String,
    pub recipient: String,
}

/// The outside clients: documentation addresses (RFC 5737, RFC 3849).
const CLIENTS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
];
const CLIENT_NAME: &str = "mail.outside.example";
const SENDERS: [&str; 2] = ["probe@outside.example", ""];

/// The DNS answers an attacker would arrange.
#[derive(Debug)]
struct AttackerDns;

#[async_trait::async_trait]
impl DnsChecks for AttackerDns {
    async fn host_status(&self, _name: &str) -> DnsStatus {
        DnsStatus::Ok
    }
    async fn mail_domain_status(&self, _domain: &str) -> DnsStatus {
        DnsStatus::Ok
    }
    async fn rbl_lookup(&self, _query: &str) -> RblAnswer {
        RblAnswer::NotListed
    }
}

pub(crate) async fn prove(cfg: &Config, mut policy: Policy, forms: &[RelayForm]) -> Vec<Finding> {
    neutralize(&mut policy);
    let policy = policy.with_dns(Arc::new(AttackerDns));
    let mut logins: Vec<Option<String>> = vec![None];
    let security = cfg.get(&params::SMTPD_SASL_SECURITY_OPTIONS);
    if cfg.get(&params::SMTPD_SASL_AUTH_ENABLE)
        && cfg
            .origin(params::SMTPD_SASL_SECURITY_OPTIONS.name())
            .is_some()
        && !security.iter().any(|o| o == "noanonymous")
    {
        logins.push(Some("anonymous".to_string()));
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut tries = 0;
    for login in &logins {
        for client in CLIENTS {
            for sender in SENDERS {
                for form in forms {
                    tries += 1;
                    let Some(step) = relays(&policy, client, login, sender, form).await else {
                        continue;
                    };
                    let finding = explain(cfg, &policy, client, login, form, step);
                    if seen.insert((finding.location(), login.is_some())) {
                        out.push(finding);
                    }
                }
            }
        }
    }
    if out.is_empty() {
        out.push(Finding::new(
            Severity::Info,
            None,
            format!(
                "no open relay: {tries} tries ({} address forms to a foreign domain from 192.0.2.1 and 2001:db8::1, with a sender and with <>) were all refused",
                forms.len()
            ),
        ));
    }
    out
}

/// `check_policy_service` and `sleep` cannot be asked or waited for here.
fn neutralize(policy: &mut Policy) {
    let lists = [
        &mut policy.client,
        &mut policy.helo,
        &mut policy.sender,
        &mut policy.relay,
        &mut policy.recipient,
    ]
    .into_iter()
    .chain(policy.classes.values_mut());
    for list in lists {
        for item in &mut list.items {
            if matches!(
                item.restriction,
                Restriction::CheckPolicyService(_) | Restriction::Sleep(_)
            ) {
                item.restriction = Restriction::Dunno;
            }
        }
    }
}

/// Run one session up to RCPT; `Some(deciding step)` when the recipient
/// is accepted (`None` inside when no restriction said OK).
async fn relays(
    policy: &Policy,
    client: IpAddr,
    login: &Option<String>,
    sender: &str,
    form: &RelayForm,
) -> Option<Option<TraceStep>> {
    let server = match client {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    let mut facts = Facts::new(client, CLIENT_NAME, server);
    let mut session = SessionPolicy::default();
    facts.sasl_username = login.clone();
    let steps = [
        (Stage::Connect, None, None),
        (Stage::Ehlo, None, None),
        (Stage::Mail, Some(sender), None),
        (Stage::Rcpt, Some(sender), Some(form.recipient.as_str())),
    ];
    let mut last = None;
    for (stage, from, to) in steps {
        if stage == Stage::Ehlo {
            facts.helo = Some(CLIENT_NAME.to_string());
            facts.protocol = "ESMTP".to_string();
        }
        facts.sender = from.map(str::to_string);
        facts.recipient = to.map(str::to_string);
        let verdict = policy.check(stage, &facts, &mut session).await;
        if verdict.reply.is_some() || verdict.hangup {
            return None;
        }
        last = Some(verdict);
    }
    let verdict = last?;
    Some(
        verdict
            .trace
            .iter()
            .rev()
            .find(|s| s.result == "OK")
            .cloned(),
    )
}

fn explain(
    cfg: &Config,
    policy: &Policy,
    client: IpAddr,
    login: &Option<String>,
    form: &RelayForm,
    step: Option<TraceStep>,
) -> Finding {
    let who = match login {
        Some(name) => format!("an outside client ({client}, anonymous SASL login \"{name}\")"),
        None => format!("an outside client ({client}, no SASL login)"),
    };
    let head = format!(
        "open relay: {who} can send to <{}> ({})",
        form.recipient, form.trick
    );
    let Some(step) = step else {
        if let Some(origin) = cfg.origin(params::RELAY_DOMAINS.name()) {
            let text = format!(
                "{head}: reject_unauth_destination lets it pass because relay_domains = {} covers the foreign domain",
                cfg.get(&params::RELAY_DOMAINS).join(" ")
            );
            return open_relay(Finding::new(Severity::Fatal, Some(origin), text));
        }
        let text = format!(
            "{head}: no restriction in {} or {} rejects it",
            super::list_label(policy, "smtpd_relay_restrictions"),
            super::list_label(policy, "smtpd_recipient_restrictions")
        );
        let origin = policy
            .origin_of("smtpd_recipient_restrictions")
            .or_else(|| policy.origin_of("smtpd_relay_restrictions"));
        return open_relay(Finding::new(Severity::Fatal, origin, text));
    };
    let mut origin = step.origin.clone();
    let mut text = format!(
        "{head}: {} permits it with \"{}\"",
        super::list_label(policy, &step.list),
        step.restriction
    );
    let restriction = step.restriction.to_ascii_lowercase();
    if restriction == "permit_mynetworks" {
        let networks = cfg.mynetworks().join(" ");
        text.push_str(&format!(
            ", and mynetworks = {networks} includes the client"
        ));
        origin = cfg.origin(params::MYNETWORKS.name()).or(origin);
    } else if restriction == "permit_sasl_authenticated" {
        text.push_str(", and smtpd_sasl_security_options allows anonymous logins");
        origin = cfg
            .origin(params::SMTPD_SASL_SECURITY_OPTIONS.name())
            .or(origin);
    } else if restriction.contains(':') {
        text.push_str(" (the table answers OK for this client, sender or recipient)");
    }
    open_relay(Finding::new(Severity::Fatal, origin, text))
}

fn open_relay(mut finding: Finding) -> Finding {
    finding.open_relay = true;
    finding
}
