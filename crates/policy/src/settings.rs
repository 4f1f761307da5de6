//! The scalar `main.cf` parameters the restriction engine reads (reply
//! codes, switches, keys), read once through their typed handles (defaults
//! and value checks live in the configuration registry).

use std::collections::BTreeSet;
use std::net::IpAddr;

use gatepost_config::{params, Config, Param};

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
    /// `receive_override_options = no_unknown_recipient_checks`: the
    /// unlisted sender/recipient checks answer DUNNO.
    pub no_unknown_recipient_checks: bool,
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
    /// The addresses of `inet_interfaces` / `proxy_interfaces`.
    pub interface_addrs: BTreeSet<IpAddr>,
}

/// Parse a tempfail action (`defer_if_permit` → true, `defer` → false).
/// Loading checks the value; one set afterwards is checked here.
fn defer_if_permit(cfg: &Config, param: &Param<String>) -> Result<bool, PolicyError> {
    match cfg.get(param).as_str() {
        "defer_if_permit" => Ok(true),
        "defer" => Ok(false),
        other => Err(PolicyError::Fatal(format!(
            "bad configuration: {} = {other}",
            param.name()
        ))),
    }
}

impl Settings {
    pub(crate) fn read(cfg: &Config) -> Result<Settings, PolicyError> {
        let interface_addrs = cfg
            .own_addresses()
            .map_err(|e| PolicyError::Fatal(e.to_string()))?;
        Ok(Settings {
            delay_reject: cfg.get(&params::SMTPD_DELAY_REJECT),
            relay_before_rcpt: cfg.get(&params::SMTPD_RELAY_BEFORE_RECIPIENT_RESTRICTIONS),
            reject_code: cfg.get(&params::REJECT_CODE),
            defer_code: cfg.get(&params::DEFER_CODE),
            access_map_reject_code: cfg.get(&params::ACCESS_MAP_REJECT_CODE),
            access_map_defer_code: cfg.get(&params::ACCESS_MAP_DEFER_CODE),
            relay_code: cfg.get(&params::RELAY_DOMAINS_REJECT_CODE),
            maps_rbl_code: cfg.get(&params::MAPS_RBL_REJECT_CODE),
            bad_name_code: cfg.get(&params::INVALID_HOSTNAME_REJECT_CODE),
            non_fqdn_code: cfg.get(&params::NON_FQDN_REJECT_CODE),
            unk_name_code: cfg.get(&params::UNKNOWN_HOSTNAME_REJECT_CODE),
            unk_addr_code: cfg.get(&params::UNKNOWN_ADDRESS_REJECT_CODE),
            unk_client_code: cfg.get(&params::UNKNOWN_CLIENT_REJECT_CODE),
            local_rcpt_code: cfg.get(&params::UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE),
            virt_alias_code: cfg.get(&params::UNKNOWN_VIRTUAL_ALIAS_REJECT_CODE),
            virt_mailbox_code: cfg.get(&params::UNKNOWN_VIRTUAL_MAILBOX_REJECT_CODE),
            relay_rcpt_code: cfg.get(&params::UNKNOWN_RELAY_RECIPIENT_REJECT_CODE),
            mul_rcpt_code: cfg.get(&params::MULTI_RECIPIENT_BOUNCE_REJECT_CODE),
            plaintext_code: cfg.get(&params::PLAINTEXT_REJECT_CODE),
            unv_rcpt_defer_code: cfg.get(&params::UNVERIFIED_RECIPIENT_DEFER_CODE),
            unv_from_defer_code: cfg.get(&params::UNVERIFIED_SENDER_DEFER_CODE),
            unk_name_tf_defer_if_permit: defer_if_permit(
                cfg,
                &params::UNKNOWN_HELO_HOSTNAME_TEMPFAIL_ACTION,
            )?,
            unk_addr_tf_defer_if_permit: defer_if_permit(
                cfg,
                &params::UNKNOWN_ADDRESS_TEMPFAIL_ACTION,
            )?,
            unv_rcpt_tf_defer_if_permit: defer_if_permit(
                cfg,
                &params::UNVERIFIED_RECIPIENT_TEMPFAIL_ACTION,
            )?,
            unv_from_tf_defer_if_permit: defer_if_permit(
                cfg,
                &params::UNVERIFIED_SENDER_TEMPFAIL_ACTION,
            )?,
            soft_bounce: cfg.get(&params::SOFT_BOUNCE),
            reject_unlisted_rcpt: cfg.get(&params::SMTPD_REJECT_UNLISTED_RECIPIENT),
            reject_unlisted_sender: cfg.get(&params::SMTPD_REJECT_UNLISTED_SENDER),
            no_unknown_recipient_checks: cfg
                .get(&params::RECEIVE_OVERRIDE_OPTIONS)
                .iter()
                .any(|o| o.eq_ignore_ascii_case("no_unknown_recipient_checks")),
            null_access_key: cfg.get(&params::SMTPD_NULL_ACCESS_LOOKUP_KEY),
            allow_untrusted_routing: cfg.get(&params::ALLOW_UNTRUSTED_ROUTING),
            show_unk_rcpt_table: cfg.get(&params::SHOW_USER_UNKNOWN_TABLE_NAME),
            double_bounce_sender: cfg.get(&params::DOUBLE_BOUNCE_SENDER),
            recipient_delimiter: cfg.get(&params::RECIPIENT_DELIMITER),
            access_parent_match: cfg.parent_domain_matches("smtpd_access_maps"),
            mynetworks_parent_match: cfg.parent_domain_matches(params::MYNETWORKS.name()),
            relay_domains_parent_match: cfg.parent_domain_matches(params::RELAY_DOMAINS.name()),
            sasl_enable: cfg.get(&params::SMTPD_SASL_AUTH_ENABLE),
            default_rbl_reply: cfg.raw_value(&params::DEFAULT_RBL_REPLY),
            policy_default_action: cfg.get(&params::SMTPD_POLICY_SERVICE_DEFAULT_ACTION),
            policy_defaults: crate::policy_client::PolicyDefaults {
                timeout: cfg.get(&params::SMTPD_POLICY_SERVICE_TIMEOUT),
                try_limit: cfg.get(&params::SMTPD_POLICY_SERVICE_TRY_LIMIT),
                retry_delay: cfg.get(&params::SMTPD_POLICY_SERVICE_RETRY_DELAY),
                max_idle: cfg.get(&params::SMTPD_POLICY_SERVICE_MAX_IDLE),
                policy_context: cfg.get(&params::SMTPD_POLICY_SERVICE_POLICY_CONTEXT),
            },
            queue_directory: cfg.get(&params::QUEUE_DIRECTORY),
            interface_addrs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(main_cf: &str) -> Settings {
        let cfg = Config::parse_main_cf(main_cf, "main.cf").expect("valid main.cf");
        Settings::read(&cfg).expect("settings")
    }

    #[test]
    fn defaults_and_overrides() {
        let s = read("");
        assert!(s.delay_reject && s.relay_before_rcpt && s.reject_unlisted_rcpt);
        assert_eq!((s.reject_code, s.defer_code, s.relay_code), (554, 450, 554));
        assert_eq!(s.null_access_key, "<>");
        assert!(s.access_parent_match && s.mynetworks_parent_match);
        assert!(s.unk_name_tf_defer_if_permit);
        let s = read(
            "relay_domains_reject_code = 550\nsmtpd_delay_reject = no\n\
             unknown_address_tempfail_action = defer\n\
             parent_domain_matches_subdomains = mynetworks\n\
             inet_interfaces = 127.0.0.1, [::1]\n",
        );
        assert_eq!(s.relay_code, 550);
        assert!(!s.delay_reject);
        assert!(!s.unk_addr_tf_defer_if_permit);
        assert!(!s.access_parent_match && s.mynetworks_parent_match);
        assert_eq!(s.interface_addrs.len(), 2);
        let e = Config::parse_main_cf(
            "unknown_helo_hostname_tempfail_action = reject\n",
            "main.cf",
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .contains("bad value for parameter unknown_helo_hostname_tempfail_action"));
    }
}
