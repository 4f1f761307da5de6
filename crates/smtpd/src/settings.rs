//! The smtpd parameters, read once per service from the configuration
//! (after master.cf `-o` overrides) into typed values.
//!
//! Parameters: myhostname, smtpd_banner, mail_name, message_size_limit,
//! line_length_limit, smtpd_timeout, smtpd_recipient_limit,
//! smtpd_recipient_overshoot_limit, smtpd_soft_error_limit,
//! smtpd_hard_error_limit, smtpd_error_sleep_time, smtpd_junk_command_limit,
//! smtpd_helo_required, smtpd_delay_reject, disable_vrfy_command,
//! strict_rfc821_envelopes, smtputf8_enable, soft_bounce,
//! smtpd_forbid_bare_newline(+_exclusions, _reject_code),
//! smtpd_forbid_unauth_pipelining, smtpd_client_connection_count_limit,
//! smtpd_noop_commands, smtpd_forbidden_commands, smtpd_discard_ehlo_keywords,
//! hopcount_limit, smtpd_peername_lookup, smtpd_client_port_logging.

use std::time::Duration;

use gatepost_config::Config;
use gatepost_proto::BareNewlineMode;

#[derive(Debug, Clone)]
pub struct SmtpdSettings {
    pub myhostname: String,
    pub banner: String,
    pub mail_name: String,
    pub message_size_limit: u64,
    pub line_length_limit: usize,
    pub timeout: Duration,
    pub recipient_limit: usize,
    pub recipient_overshoot_limit: usize,
    pub soft_error_limit: u32,
    pub hard_error_limit: u32,
    pub error_sleep_time: Duration,
    pub junk_command_limit: u32,
    pub helo_required: bool,
    pub delay_reject: bool,
    pub disable_vrfy: bool,
    pub strict_rfc821: bool,
    pub smtputf8: bool,
    pub soft_bounce: bool,
    pub bare_newline: BareNewlineMode,
    pub bare_newline_reject_code: u16,
    pub forbid_unauth_pipelining: bool,
    pub client_connection_count_limit: usize,
    pub noop_commands: Vec<String>,
    pub forbidden_commands: Vec<String>,
    pub discard_ehlo_keywords: Vec<String>,
    pub hopcount_limit: usize,
    pub peername_lookup: bool,
    pub client_port_logging: bool,
}

impl SmtpdSettings {
    pub fn from_config(cfg: &Config) -> SmtpdSettings {
        let forbidden = cfg
            .get_list("smtpd_forbidden_commands")
            .into_iter()
            .filter(|w| !w.contains(':'))
            .collect();
        SmtpdSettings {
            myhostname: cfg.get("myhostname"),
            banner: cfg.get("smtpd_banner"),
            mail_name: cfg.get("mail_name"),
            message_size_limit: cfg.get_int("message_size_limit").max(0) as u64,
            line_length_limit: cfg.get_int("line_length_limit").max(512) as usize,
            timeout: cfg.get_time("smtpd_timeout"),
            recipient_limit: cfg.get_int("smtpd_recipient_limit").max(1) as usize,
            recipient_overshoot_limit: cfg.get_int("smtpd_recipient_overshoot_limit").max(0)
                as usize,
            soft_error_limit: cfg.get_int("smtpd_soft_error_limit").max(0) as u32,
            hard_error_limit: cfg.get_int("smtpd_hard_error_limit").max(1) as u32,
            error_sleep_time: cfg.get_time("smtpd_error_sleep_time"),
            junk_command_limit: cfg.get_int("smtpd_junk_command_limit").max(1) as u32,
            helo_required: cfg.get_bool("smtpd_helo_required"),
            delay_reject: cfg.get_bool("smtpd_delay_reject"),
            disable_vrfy: cfg.get_bool("disable_vrfy_command"),
            strict_rfc821: cfg.get_bool("strict_rfc821_envelopes"),
            smtputf8: cfg.get_bool("smtputf8_enable"),
            soft_bounce: cfg.get_bool("soft_bounce"),
            bare_newline: BareNewlineMode::parse(&cfg.get("smtpd_forbid_bare_newline"))
                .unwrap_or(BareNewlineMode::Normalize),
            bare_newline_reject_code: cfg
                .get_int("smtpd_forbid_bare_newline_reject_code")
                .clamp(400, 599) as u16,
            forbid_unauth_pipelining: cfg.get_bool("smtpd_forbid_unauth_pipelining"),
            client_connection_count_limit: cfg.get_int("smtpd_client_connection_count_limit").max(0)
                as usize,
            noop_commands: cfg.get_list("smtpd_noop_commands"),
            forbidden_commands: forbidden,
            discard_ehlo_keywords: cfg
                .get_list("smtpd_discard_ehlo_keywords")
                .into_iter()
                .map(|k| k.to_ascii_uppercase())
                .collect(),
            hopcount_limit: cfg.get_int("hopcount_limit").max(1) as usize,
            peername_lookup: cfg.get_bool("smtpd_peername_lookup"),
            client_port_logging: cfg.get_bool("smtpd_client_port_logging"),
        }
    }

    /// Whether an EHLO keyword survives `smtpd_discard_ehlo_keywords`.
    pub fn offers(&self, keyword: &str) -> bool {
        !self.discard_ehlo_keywords.iter().any(|k| k == keyword)
    }
}
