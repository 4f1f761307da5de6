//! The smtpd parameters, read once per service from the configuration
//! (after master.cf `-o` overrides) through their typed handles; ranges
//! (e.g. `line_length_limit` >= 512) are enforced when the configuration
//! is loaded.
//!
//! Parameters: myhostname, smtpd_banner, mail_name, message_size_limit,
//! line_length_limit, smtpd_timeout, smtpd_recipient_limit,
//! smtpd_recipient_overshoot_limit, smtpd_soft_error_limit,
//! smtpd_hard_error_limit, smtpd_error_sleep_time, smtpd_junk_command_limit,
//! smtpd_helo_required, smtpd_delay_reject, smtpd_delay_open_until_valid_rcpt,
//! disable_vrfy_command,
//! strict_rfc821_envelopes, smtputf8_enable, soft_bounce,
//! smtpd_forbid_bare_newline(+_exclusions, _reject_code),
//! smtpd_forbid_unauth_pipelining, smtpd_client_connection_count_limit,
//! smtpd_client_connection_rate_limit, smtpd_client_message_rate_limit,
//! smtpd_client_recipient_rate_limit, smtpd_client_new_tls_session_rate_limit,
//! smtpd_client_auth_rate_limit,
//! smtpd_noop_commands, smtpd_forbidden_commands, smtpd_discard_ehlo_keywords,
//! smtpd_reject_footer, smtpd_reject_footer_maps,
//! hopcount_limit, header_size_limit, queue_minfree, smtpd_peername_lookup, smtpd_client_port_logging.

use std::time::Duration;

use gatepost_config::{params, Config};
use gatepost_proto::BareNewlineMode;
use gatepost_table::MapList;

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
    /// `smtpd_delay_open_until_valid_rcpt`: `no` opens the queue file at
    /// MAIL FROM (so milters get `i` from the first RCPT on).
    pub delay_open_until_valid_rcpt: bool,
    pub disable_vrfy: bool,
    pub strict_rfc821: bool,
    pub smtputf8: bool,
    pub soft_bounce: bool,
    pub bare_newline: BareNewlineMode,
    pub bare_newline_reject_code: u16,
    pub forbid_unauth_pipelining: bool,
    pub client_connection_count_limit: usize,
    pub client_connection_rate_limit: u32,
    pub client_message_rate_limit: u32,
    pub client_recipient_rate_limit: u32,
    pub client_new_tls_session_rate_limit: u32,
    pub client_auth_rate_limit: u32,
    pub noop_commands: Vec<String>,
    pub forbidden_commands: Vec<String>,
    pub discard_ehlo_keywords: Vec<String>,
    /// `smtpd_reject_footer`, unexpanded: its `$name`s are session
    /// attributes, expanded per reply.
    pub reject_footer: String,
    /// `smtpd_reject_footer_maps`: footers looked up with the whole reply.
    pub reject_footer_maps: MapList,
    pub hopcount_limit: usize,
    pub header_size_limit: usize,
    pub queue_minfree: u64,
    pub peername_lookup: bool,
    pub client_port_logging: bool,
}

impl SmtpdSettings {
    pub fn from_config(cfg: &Config) -> SmtpdSettings {
        let forbidden = cfg
            .get(&params::SMTPD_FORBIDDEN_COMMANDS)
            .into_iter()
            .filter(|w| !w.contains(':'))
            .collect();
        SmtpdSettings {
            myhostname: cfg.get(&params::MYHOSTNAME),
            banner: cfg.get(&params::SMTPD_BANNER),
            mail_name: cfg.get(&params::MAIL_NAME),
            message_size_limit: cfg.get(&params::MESSAGE_SIZE_LIMIT),
            line_length_limit: cfg.get(&params::LINE_LENGTH_LIMIT),
            timeout: cfg.get(&params::SMTPD_TIMEOUT),
            recipient_limit: cfg.get(&params::SMTPD_RECIPIENT_LIMIT),
            recipient_overshoot_limit: cfg.get(&params::SMTPD_RECIPIENT_OVERSHOOT_LIMIT),
            soft_error_limit: cfg.get(&params::SMTPD_SOFT_ERROR_LIMIT),
            hard_error_limit: cfg.get(&params::SMTPD_HARD_ERROR_LIMIT),
            error_sleep_time: cfg.get(&params::SMTPD_ERROR_SLEEP_TIME),
            junk_command_limit: cfg.get(&params::SMTPD_JUNK_COMMAND_LIMIT),
            helo_required: cfg.get(&params::SMTPD_HELO_REQUIRED),
            delay_reject: cfg.get(&params::SMTPD_DELAY_REJECT),
            delay_open_until_valid_rcpt: cfg.get(&params::SMTPD_DELAY_OPEN_UNTIL_VALID_RCPT),
            disable_vrfy: cfg.get(&params::DISABLE_VRFY_COMMAND),
            strict_rfc821: cfg.get(&params::STRICT_RFC821_ENVELOPES),
            smtputf8: cfg.get(&params::SMTPUTF8_ENABLE),
            soft_bounce: cfg.get(&params::SOFT_BOUNCE),
            bare_newline: BareNewlineMode::parse(&cfg.get(&params::SMTPD_FORBID_BARE_NEWLINE))
                .unwrap_or(BareNewlineMode::Normalize),
            bare_newline_reject_code: cfg.get(&params::SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE),
            forbid_unauth_pipelining: cfg.get(&params::SMTPD_FORBID_UNAUTH_PIPELINING),
            client_connection_count_limit: cfg.get(&params::SMTPD_CLIENT_CONNECTION_COUNT_LIMIT),
            client_connection_rate_limit: cfg.get(&params::SMTPD_CLIENT_CONNECTION_RATE_LIMIT),
            client_message_rate_limit: cfg.get(&params::SMTPD_CLIENT_MESSAGE_RATE_LIMIT),
            client_recipient_rate_limit: cfg.get(&params::SMTPD_CLIENT_RECIPIENT_RATE_LIMIT),
            client_new_tls_session_rate_limit: cfg
                .get(&params::SMTPD_CLIENT_NEW_TLS_SESSION_RATE_LIMIT),
            client_auth_rate_limit: cfg.get(&params::SMTPD_CLIENT_AUTH_RATE_LIMIT),
            noop_commands: cfg.get(&params::SMTPD_NOOP_COMMANDS),
            forbidden_commands: forbidden,
            discard_ehlo_keywords: cfg
                .get(&params::SMTPD_DISCARD_EHLO_KEYWORDS)
                .into_iter()
                .map(|k| k.to_ascii_uppercase())
                .collect(),
            reject_footer: cfg.raw_value(&params::SMTPD_REJECT_FOOTER),
            reject_footer_maps: MapList::open(
                "smtpd",
                params::SMTPD_REJECT_FOOTER_MAPS.name(),
                &cfg.get(&params::SMTPD_REJECT_FOOTER_MAPS),
                gatepost_table::open_table,
            ),
            hopcount_limit: cfg.get(&params::HOPCOUNT_LIMIT),
            header_size_limit: cfg.get(&params::HEADER_SIZE_LIMIT),
            queue_minfree: cfg.get(&params::QUEUE_MINFREE),
            peername_lookup: cfg.get(&params::SMTPD_PEERNAME_LOOKUP),
            client_port_logging: cfg.get(&params::SMTPD_CLIENT_PORT_LOGGING),
        }
    }

    /// Whether an EHLO keyword survives `smtpd_discard_ehlo_keywords`.
    pub fn offers(&self, keyword: &str) -> bool {
        !self.discard_ehlo_keywords.iter().any(|k| k == keyword)
    }
}
