//! The scalar `main.cf` parameters the restriction engine reads (reply
//! codes, switches, keys), read once with Postfix 3.7 defaults
//! (`compatibility_level = 3.6`, docs/README.md, docs/restrictions.md#default-codes). A value
//! that is unset or does not parse falls back to Postfix's default.

use std::net::IpAddr;

use crate::PolicyError;

/// Parameter values the engine needs, already parsed.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub delay_reject: bool,
    pub relay_before_rcpt: bool,
    pub reject_code: u16,
    pub defer_code: u16,
    pub access_map_reject_code: u16,
    pub access_map_defer_code: u16,
    pub relay_code: u16,
    pub maps_rbl_code: u16,
    pub bad_name_code: u16,
    pub non_fqdn_code: u16,
    pub unk_name_code: u16,
    pub unk_addr_code: u16,
    pub unk_client_code: u16,
    pub local_rcpt_code: u16,
    pub virt_alias_code: u16,
    pub virt_mailbox_code: u16,
    pub relay_rcpt_code: u16,
    pub mul_rcpt_code: u16,
    pub plaintext_code: u16,
    pub unv_rcpt_defer_code: u16,
    pub unv_from_defer_code: u16,
    /// `unknown_helo_hostname_tempfail_action = defer_if_permit` (else `defer`).
    pub unk_name_tf_defer_if_permit: bool,
    pub unk_addr_tf_defer_if_permit: bool,
    pub unv_rcpt_tf_defer_if_permit: bool,
    pub unv_from_tf_defer_if_permit: bool,
    pub soft_bounce: bool,
    pub reject_unlisted_rcpt: bool,
    pub reject_unlisted_sender: bool,
    pub null_access_key: String,
    pub allow_untrusted_routing: bool,
    pub show_unk_rcpt_table: bool,
    pub double_bounce_sender: String,
    pub recipient_delimiter: String,
    /// `smtpd_access_maps` listed in `parent_domain_matches_subdomains`.
    pub access_parent_match: bool,
    pub mynetworks_parent_match: bool,
    pub relay_domains_parent_match: bool,
    pub sasl_enable: bool,
    pub default_rbl_reply: String,
    pub policy_default_action: String,
    pub policy_defaults: crate::policy_client::PolicyDefaults,
    /// For `unix:name` policy endpoints (relative to the queue directory).
    pub queue_directory: String,
    /// Literal addresses of `inet_interfaces` / `proxy_interfaces`.
    pub interface_addrs: Vec<IpAddr>,
}

/// Parameter source: expanded value (default when unset), raw value, the
/// value split as a Postfix list, and where it was set.
pub(crate) trait Params {
    fn get(&self, name: &str) -> String;
    fn raw(&self, name: &str) -> Option<String>;
    fn list(&self, name: &str) -> Vec<String>;
    fn origin(&self, name: &str) -> Option<(String, usize)>;
}

impl Params for gatepost_config::Config {
    fn get(&self, name: &str) -> String {
        gatepost_config::Config::get(self, name)
    }
    fn raw(&self, name: &str) -> Option<String> {
        gatepost_config::Config::raw(self, name).map(str::to_string)
    }
    fn list(&self, name: &str) -> Vec<String> {
        gatepost_config::Config::get_list(self, name)
    }
    fn origin(&self, name: &str) -> Option<(String, usize)> {
        gatepost_config::Config::origin(self, name)
    }
}

fn code(p: &dyn Params, name: &str, default: u16) -> u16 {
    p.get(name).trim().parse().unwrap_or(default)
}

fn boolean(p: &dyn Params, name: &str, default: bool) -> bool {
    match p.get(name).trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => true,
        "no" | "false" | "0" => false,
        _ => default,
    }
}

/// A time parameter (default unit: seconds), falling back to `default`.
fn seconds(p: &dyn Params, name: &str, default: u64) -> std::time::Duration {
    let v = p.get(name);
    crate::policy_client::parse_time(&v).unwrap_or_else(|_| std::time::Duration::from_secs(default))
}

fn string(p: &dyn Params, name: &str, default: &str) -> String {
    let v = p.get(name);
    if v.trim().is_empty() {
        default.to_string()
    } else {
        v.trim().to_string()
    }
}

/// Parse a tempfail action (`defer_if_permit` → true, `defer` → false).
fn tempfail(p: &dyn Params, name: &str, fallback: &str) -> Result<bool, PolicyError> {
    let v = string(p, name, fallback);
    match v.as_str() {
        "defer_if_permit" => Ok(true),
        "defer" => Ok(false),
        _ => Err(PolicyError::Fatal(format!(
            "bad configuration: {name} = {v}"
        ))),
    }
}

impl Settings {
    pub(crate) fn read(p: &dyn Params) -> Result<Settings, PolicyError> {
        let parent = p.get("parent_domain_matches_subdomains");
        let parent_items: Vec<String> = parent
            .split([',', ' ', '\t', '\n'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let parent_has = |n: &str| {
            if p.raw("parent_domain_matches_subdomains").is_none() && parent.trim().is_empty() {
                // Postfix default list.
                matches!(
                    n,
                    "mynetworks"
                        | "relay_domains"
                        | "smtpd_access_maps"
                        | "permit_mx_backup_networks"
                )
            } else {
                parent_items.iter().any(|i| i == n)
            }
        };
        let reject_tf = string(p, "reject_tempfail_action", "defer_if_permit");
        let mut interface_addrs = Vec::new();
        for name in ["inet_interfaces", "proxy_interfaces"] {
            for item in p.get(name).split([',', ' ', '\t', '\n']) {
                let item = item.trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = item.parse::<IpAddr>() {
                    interface_addrs.push(ip);
                }
            }
        }
        Ok(Settings {
            delay_reject: boolean(p, "smtpd_delay_reject", true),
            relay_before_rcpt: boolean(p, "smtpd_relay_before_recipient_restrictions", true),
            reject_code: code(p, "reject_code", 554),
            defer_code: code(p, "defer_code", 450),
            access_map_reject_code: code(p, "access_map_reject_code", 554),
            access_map_defer_code: code(p, "access_map_defer_code", 450),
            relay_code: code(p, "relay_domains_reject_code", 554),
            maps_rbl_code: code(p, "maps_rbl_reject_code", 554),
            bad_name_code: code(p, "invalid_hostname_reject_code", 501),
            non_fqdn_code: code(p, "non_fqdn_reject_code", 504),
            unk_name_code: code(p, "unknown_hostname_reject_code", 450),
            unk_addr_code: code(p, "unknown_address_reject_code", 450),
            unk_client_code: code(p, "unknown_client_reject_code", 450),
            local_rcpt_code: code(p, "unknown_local_recipient_reject_code", 550),
            virt_alias_code: code(p, "unknown_virtual_alias_reject_code", 550),
            virt_mailbox_code: code(p, "unknown_virtual_mailbox_reject_code", 550),
            relay_rcpt_code: code(p, "unknown_relay_recipient_reject_code", 550),
            mul_rcpt_code: code(p, "multi_recipient_bounce_reject_code", 550),
            plaintext_code: code(p, "plaintext_reject_code", 450),
            unv_rcpt_defer_code: code(p, "unverified_recipient_defer_code", 450),
            unv_from_defer_code: code(p, "unverified_sender_defer_code", 450),
            unk_name_tf_defer_if_permit: tempfail(
                p,
                "unknown_helo_hostname_tempfail_action",
                &reject_tf,
            )?,
            unk_addr_tf_defer_if_permit: tempfail(
                p,
                "unknown_address_tempfail_action",
                &reject_tf,
            )?,
            unv_rcpt_tf_defer_if_permit: tempfail(
                p,
                "unverified_recipient_tempfail_action",
                &reject_tf,
            )?,
            unv_from_tf_defer_if_permit: tempfail(
                p,
                "unverified_sender_tempfail_action",
                &reject_tf,
            )?,
            soft_bounce: boolean(p, "soft_bounce", false),
            reject_unlisted_rcpt: boolean(p, "smtpd_reject_unlisted_recipient", true),
            reject_unlisted_sender: boolean(p, "smtpd_reject_unlisted_sender", false),
            null_access_key: string(p, "smtpd_null_access_lookup_key", "<>"),
            allow_untrusted_routing: boolean(p, "allow_untrusted_routing", false),
            show_unk_rcpt_table: boolean(p, "show_user_unknown_table_name", true),
            double_bounce_sender: string(p, "double_bounce_sender", "double-bounce"),
            recipient_delimiter: p.get("recipient_delimiter").trim().to_string(),
            access_parent_match: parent_has("smtpd_access_maps"),
            mynetworks_parent_match: parent_has("mynetworks"),
            relay_domains_parent_match: parent_has("relay_domains"),
            sasl_enable: boolean(p, "smtpd_sasl_auth_enable", false),
            default_rbl_reply: p
                .raw("default_rbl_reply")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| crate::rbl::DEFAULT_RBL_REPLY.to_string()),
            policy_default_action: string(
                p,
                "smtpd_policy_service_default_action",
                "451 4.3.5 Server configuration problem",
            ),
            policy_defaults: crate::policy_client::PolicyDefaults {
                timeout: seconds(p, "smtpd_policy_service_timeout", 100),
                try_limit: string(p, "smtpd_policy_service_try_limit", "2")
                    .parse()
                    .unwrap_or(2),
                retry_delay: seconds(p, "smtpd_policy_service_retry_delay", 1),
                max_idle: seconds(p, "smtpd_policy_service_max_idle", 300),
                policy_context: p
                    .get("smtpd_policy_service_policy_context")
                    .trim()
                    .to_string(),
            },
            queue_directory: string(p, "queue_directory", "/var/spool/postfix"),
            interface_addrs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl Params for Map {
        fn get(&self, name: &str) -> String {
            self.0.get(name).map(|s| s.to_string()).unwrap_or_default()
        }
        fn raw(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
        fn list(&self, name: &str) -> Vec<String> {
            self.get(name)
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
        fn origin(&self, _name: &str) -> Option<(String, usize)> {
            None
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let s = Settings::read(&Map(HashMap::new())).unwrap();
        assert!(s.delay_reject && s.relay_before_rcpt && s.reject_unlisted_rcpt);
        assert_eq!((s.reject_code, s.defer_code, s.relay_code), (554, 450, 554));
        assert_eq!(s.null_access_key, "<>");
        assert!(s.access_parent_match && s.mynetworks_parent_match);
        assert!(s.unk_name_tf_defer_if_permit);
        let s = Settings::read(&Map(HashMap::from([
            ("relay_domains_reject_code", "550"),
            ("smtpd_delay_reject", "no"),
            ("unknown_address_tempfail_action", "defer"),
            ("parent_domain_matches_subdomains", "mynetworks"),
            ("inet_interfaces", "127.0.0.1, [::1]"),
        ])))
        .unwrap();
        assert_eq!(s.relay_code, 550);
        assert!(!s.delay_reject);
        assert!(!s.unk_addr_tf_defer_if_permit);
        assert!(!s.access_parent_match && s.mynetworks_parent_match);
        assert_eq!(s.interface_addrs.len(), 2);
        let e = Settings::read(&Map(HashMap::from([(
            "unknown_helo_hostname_tempfail_action",
            "reject",
        )])))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad configuration: unknown_helo_hostname_tempfail_action = reject"
        );
    }
}
