//! Fail closed: the parameters whose being ignored would weaken security or
//! filtering (TLS requirements, AUTH, content filters, header/body checks,
//! rate limits ...). While gatepost lacks the feature, a value that asks for
//! it makes `serve` (and a reload) refuse, naming the parameter, file and
//! line, unless `gatepost_accept_unimplemented` names the parameter: then
//! the server runs and says so at every start. One table, one entry per
//! parameter: delete the entry when its feature lands.

use std::fmt;

use crate::error::ConfigError;
use crate::master_cf::MasterOption;
use crate::registry::GATEPOST_ACCEPT_UNIMPLEMENTED;
use crate::Config;

/// One fail-closed parameter.
struct FailClosed {
    name: &'static str,
    /// Whether the (expanded, trimmed) value asks for the feature; the
    /// configuration in force (with a service's `-o` options) is at hand for
    /// parameters that only matter together with another one.
    asks: fn(&str, &Config) -> bool,
    /// What ignoring it would do.
    reason: &'static str,
}

/// Any non-empty value (a filter, a table, a milter).
fn set(value: &str, _: &Config) -> bool {
    !value.is_empty()
}

/// A TLS security level gatepost lacks (`dane`, `dane-only`,
/// `fingerprint`; empty is the default).
fn tls_level_missing(value: &str, _: &Config) -> bool {
    !matches!(
        value.to_ascii_lowercase().as_str(),
        "" | "none" | "may" | "encrypt" | "verify" | "secure"
    )
}

/// An `authorized_*_users` list other than the default `static:anyone`.
fn restricts_users(value: &str, _: &Config) -> bool {
    value != "static:anyone"
}

/// A `local_login_sender_maps` other than the default `static:*`.
fn restricts_senders(value: &str, _: &Config) -> bool {
    value != "static:*"
}

const PLAINTEXT_OUT: &str = "mail would be sent without verifying the server as this level asks";
const UNFILTERED: &str = "mail would pass unfiltered";
const UNINSPECTED: &str = "message content would not be inspected";

/// The fail-closed parameters.
#[rustfmt::skip]
const FAIL_CLOSED: &[FailClosed] = &[
    FailClosed { name: "smtp_tls_security_level", asks: tls_level_missing, reason: PLAINTEXT_OUT },
    FailClosed { name: "lmtp_tls_security_level", asks: tls_level_missing, reason: PLAINTEXT_OUT },
    FailClosed { name: "smtpd_proxy_filter", asks: set, reason: UNFILTERED },
    FailClosed { name: "smtp_header_checks", asks: set, reason: UNINSPECTED },
    FailClosed { name: "smtp_mime_header_checks", asks: set, reason: UNINSPECTED },
    FailClosed { name: "smtp_nested_header_checks", asks: set, reason: UNINSPECTED },
    FailClosed { name: "smtp_body_checks", asks: set, reason: UNINSPECTED },
    FailClosed { name: "permit_mx_backup_networks", asks: set, reason: "permit_mx_backup would accept mail for any domain that lists this host as MX" },
    FailClosed { name: "authorized_submit_users", asks: restricts_users, reason: "every local user could submit mail" },
    FailClosed { name: "authorized_mailq_users", asks: restricts_users, reason: "every local user could list the queue" },
    FailClosed { name: "local_login_sender_maps", asks: restricts_senders, reason: "local users could submit mail with any sender address" },
];

/// A setting that asks for a fail-closed feature gatepost lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unimplemented {
    /// `FILE, line N` (and the master.cf service for `-o` options).
    pub location: String,
    pub name: String,
    /// The value as written.
    pub value: String,
    pub reason: &'static str,
}

impl fmt::Display for Unimplemented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} = {}: not implemented by gatepost: {}",
            self.location, self.name, self.value, self.reason
        )
    }
}

/// The `-o` options of a service's master.cf line, in order.
fn service_options(cfg: &Config, service: &str) -> Vec<MasterOption> {
    cfg.master_options()
        .iter()
        .filter(|o| o.smtpd && o.service == service)
        .cloned()
        .collect()
}

/// Every setting that asks for a fail-closed feature: in main.cf, and in
/// each smtpd service as its `-o` options make it (an option is named by
/// its master.cf line, a main.cf setting that only asks for the feature
/// together with an option by its main.cf line).
fn find(cfg: &Config) -> Vec<Unimplemented> {
    let mut services: Vec<String> = cfg
        .master_options()
        .iter()
        .filter(|o| o.smtpd)
        .map(|o| o.service.clone())
        .collect();
    services.dedup();
    let mut contexts = vec![(cfg.clone(), Vec::new())];
    for service in services {
        let options = service_options(cfg, &service);
        let pairs: Vec<(String, String)> = options
            .iter()
            .map(|o| (o.name.clone(), o.value.clone()))
            .collect();
        contexts.push((cfg.with_overrides(&pairs), options));
    }
    let mut found: Vec<Unimplemented> = Vec::new();
    for (context, options) in &contexts {
        for entry in FAIL_CLOSED {
            if context.raw(entry.name).is_none()
                || !(entry.asks)(context.expanded(entry.name).trim(), context)
            {
                continue;
            }
            let setting = match options.iter().rev().find(|o| o.name == entry.name) {
                Some(o) => Unimplemented {
                    location: format!("{}, line {}: service {}", o.file, o.line, o.service),
                    name: entry.name.to_string(),
                    value: o.value.clone(),
                    reason: entry.reason,
                },
                None => Unimplemented {
                    location: cfg.location(entry.name),
                    name: entry.name.to_string(),
                    value: cfg.raw(entry.name).unwrap_or_default().to_string(),
                    reason: entry.reason,
                },
            };
            if !found.contains(&setting) {
                found.push(setting);
            }
        }
    }
    found
}

impl Config {
    /// The fail-closed check `serve` runs before it starts or switches to
    /// this configuration: `Err` lists every setting that asks for a
    /// feature gatepost lacks and that `gatepost_accept_unimplemented` does
    /// not name; `Ok` holds the warnings to log for those it names.
    pub fn check_fail_closed(&self) -> Result<Vec<String>, ConfigError> {
        let accepted = self.get(&GATEPOST_ACCEPT_UNIMPLEMENTED);
        let (allowed, refused): (Vec<_>, Vec<_>) = find(self)
            .into_iter()
            .partition(|u| accepted.contains(&u.name));
        if !refused.is_empty() {
            return Err(ConfigError::Unimplemented(refused));
        }
        let mut warnings: Vec<String> = allowed
            .iter()
            .map(|u| format!("{u}; running anyway as gatepost_accept_unimplemented allows"))
            .collect();
        for name in accepted {
            if !FAIL_CLOSED.iter().any(|e| e.name == name) {
                warnings.push(format!(
                    "gatepost_accept_unimplemented: {name} is not a parameter gatepost refuses; ignored"
                ));
            }
        }
        Ok(warnings)
    }
}

#[cfg(test)]
#[path = "fail_closed_tests.rs"]
mod tests;
