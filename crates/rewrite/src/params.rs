//! Reading this crate's `main.cf` parameters with Postfix's defaults as a
//! fallback, so that a parameter the registry does not (yet) know still gets
//! its Postfix 3.7 default. An explicitly set value is always taken as is.

use gatepost_config::Config;

/// String parameter: the configured value, else `default` when unset and
/// the registry yields nothing.
pub(crate) fn string(cfg: &Config, name: &str, default: &str) -> String {
    let value = cfg.get(name);
    if value.is_empty() && cfg.raw(name).is_none() {
        default.to_string()
    } else {
        value
    }
}

/// Boolean parameter (`yes`/`no`, also `true`/`false`, `on`/`off`, `1`/`0`).
pub(crate) fn boolean(cfg: &Config, name: &str, default: bool) -> bool {
    let value = cfg.get(name);
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => true,
        "no" | "false" | "off" | "0" => false,
        "" if cfg.raw(name).is_none() => default,
        _ => cfg.get_bool(name),
    }
}

/// Non-negative integer parameter.
pub(crate) fn count(cfg: &Config, name: &str, default: usize) -> usize {
    cfg.get(name).trim().parse().unwrap_or(default)
}

/// List parameter, split the Postfix way.
pub(crate) fn list(cfg: &Config, name: &str) -> Vec<String> {
    cfg.get_list(name)
}

/// Whether `feature` is named in `parent_domain_matches_subdomains`.
pub(crate) fn parent_matches(cfg: &Config, feature: &str) -> bool {
    let items = if cfg.raw("parent_domain_matches_subdomains").is_none()
        && cfg.get("parent_domain_matches_subdomains").is_empty()
    {
        // Postfix 3.7 default.
        [
            "debug_peer_list",
            "fast_flush_domains",
            "mynetworks",
            "permit_mx_backup_networks",
            "qmqpd_authorized_clients",
            "relay_domains",
            "smtpd_access_maps",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        list(cfg, "parent_domain_matches_subdomains")
    };
    items.iter().any(|item| item.eq_ignore_ascii_case(feature))
}
