//! The SMTP client's view of `main.cf`, read once when the agent is built
//! (Postfix `smtp_params.c`). Parameters: `smtp_helo_name`,
//! `smtp_bind_address`, `smtp_bind_address6`, `smtp_tcp_port`,
//! `smtp_connect_timeout`, `smtp_helo_timeout`, `smtp_mail_timeout`,
//! `smtp_rcpt_timeout`, `smtp_data_init_timeout`, `smtp_data_xfer_timeout`,
//! `smtp_data_done_timeout`, `smtp_quit_timeout`, `smtp_line_length_limit`,
//! `smtp_skip_5xx_greeting`, `smtp_mx_address_limit`,
//! `smtp_mx_session_limit`, `smtp_randomize_addresses`,
//! `smtp_address_preference`, `smtp_balance_inet_protocols`,
//! `ignore_mx_lookup_error`, `relayhost` (to tell a relayhost
//! configuration problem), `smtp_fallback_relay`, the TLS settings of [`TlsSettings`] and the
//! SASL settings of [`SaslSettings`], `inet_protocols`, and the connection
//! cache's `smtp_connection_cache_*`, `smtp_connection_reuse_*` and
//! `smtp_rset_timeout`. All are read through their typed handles. The LMTP
//! client ([`SmtpParams::lmtp_from_config`]) reads the `lmtp_*`
//! counterparts: `lmtp_lhlo_name`, `lmtp_tcp_port`, `lmtp_*_timeout`,
//! `lmtp_line_length_limit`, `lmtp_skip_5xx_greeting`, `lmtp_bind_address*`,
//! `lmtp_mx_*_limit`, `lmtp_randomize_addresses`, `lmtp_address_preference`,
//! `lmtp_balance_inet_protocols`, the `lmtp_connection_*` cache settings,
//! and its TLS and SASL settings from `lmtp_tls_*` / `lmtp_sasl_*` (a view
//! of the configuration where the `smtp_` names hold the `lmtp_` values,
//! as Postfix's `VAR_LMTP_SMTP()`), plus `queue_directory` for relative
//! `unix:` socket paths.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use gatepost_config::{params, Config, InetProtocols, Param};

use crate::smtp::addr_family::AddressPreference;
use crate::smtp::conn_cache::{CacheParams, CacheSettings};
use crate::smtp::destination::default_port;
use crate::smtp::sasl_client::SaslSettings;
use crate::smtp::tls_policy::TlsSettings;
use crate::DeliveryError;

/// Per-stage timeouts (each a Postfix `smtp_*_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub helo: Duration,
    pub mail: Duration,
    pub rcpt: Duration,
    pub data_init: Duration,
    pub data_xfer: Duration,
    pub data_done: Duration,
    pub quit: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct SmtpParams {
    /// LMTP (RFC 2033) instead of SMTP: LHLO, one reply per recipient
    /// after the content, `unix:` next hops, no MX lookups.
    pub lmtp: bool,
    /// Program name in log lines and outcomes: `smtp` or `lmtp`.
    pub agent: &'static str,
    /// Where relative `unix:` socket paths start (Postfix's daemons run
    /// in the queue directory).
    pub queue_directory: PathBuf,
    pub helo_name: String,
    pub bind_address: Option<IpAddr>,
    pub bind_address6: Option<IpAddr>,
    pub default_port: u16,
    pub timeouts: Timeouts,
    /// 0 disables folding.
    pub line_length_limit: usize,
    pub skip_5xx_greeting: bool,
    /// 0 = no limit.
    pub mx_address_limit: usize,
    /// 0 = no limit.
    pub mx_session_limit: usize,
    pub randomize_addresses: bool,
    /// `inet_protocols`: the address families the client uses.
    pub families: InetProtocols,
    /// `smtp_address_preference`.
    pub address_preference: AddressPreference,
    /// `smtp_balance_inet_protocols`.
    pub balance_inet_protocols: bool,
    pub ignore_mx_lookup_error: bool,
    pub relayhost: String,
    /// `smtp_fallback_relay`: next hops for what the first one defers.
    pub fallback_relay: Vec<String>,
    pub tls: TlsSettings,
    pub sasl: SaslSettings,
    /// Connection caching (`*_connection_cache_*`, `*_connection_reuse_*`).
    pub cache: CacheSettings,
}

const SMTP_CACHE: CacheParams = CacheParams {
    on_demand: params::SMTP_CONNECTION_CACHE_ON_DEMAND,
    destinations: params::SMTP_CONNECTION_CACHE_DESTINATIONS,
    idle_limit: params::SMTP_CONNECTION_CACHE_TIME_LIMIT,
    reuse_time_limit: params::SMTP_CONNECTION_REUSE_TIME_LIMIT,
    reuse_count_limit: params::SMTP_CONNECTION_REUSE_COUNT_LIMIT,
    rset_timeout: params::SMTP_RSET_TIMEOUT,
};

const LMTP_CACHE: CacheParams = CacheParams {
    on_demand: params::LMTP_CONNECTION_CACHE_ON_DEMAND,
    destinations: params::LMTP_CONNECTION_CACHE_DESTINATIONS,
    idle_limit: params::LMTP_CONNECTION_CACHE_TIME_LIMIT,
    reuse_time_limit: params::LMTP_CONNECTION_REUSE_TIME_LIMIT,
    reuse_count_limit: params::LMTP_CONNECTION_REUSE_COUNT_LIMIT,
    rset_timeout: params::LMTP_RSET_TIMEOUT,
};

/// The `lmtp_*` parameters that stand for `smtp_*` ones in the TLS and
/// SASL settings, as Postfix's `VAR_LMTP_SMTP()` names them: the LMTP
/// client reads its TLS and AUTH settings through a view of the
/// configuration where each `smtp_` name has the `lmtp_` value.
fn lmtp_view(cfg: &Config) -> Config {
    let names = [
        (
            params::LMTP_TLS_SECURITY_LEVEL.name(),
            params::SMTP_TLS_SECURITY_LEVEL.name(),
        ),
        (
            params::LMTP_TLS_CAFILE.name(),
            params::SMTP_TLS_CAFILE.name(),
        ),
        (
            params::LMTP_TLS_CAPATH.name(),
            params::SMTP_TLS_CAPATH.name(),
        ),
        (
            params::LMTP_TLS_VERIFY_CERT_MATCH.name(),
            params::SMTP_TLS_VERIFY_CERT_MATCH.name(),
        ),
        (
            params::LMTP_TLS_SECURE_CERT_MATCH.name(),
            params::SMTP_TLS_SECURE_CERT_MATCH.name(),
        ),
        (
            params::LMTP_TLS_PROTOCOLS.name(),
            params::SMTP_TLS_PROTOCOLS.name(),
        ),
        (
            params::LMTP_TLS_MANDATORY_PROTOCOLS.name(),
            params::SMTP_TLS_MANDATORY_PROTOCOLS.name(),
        ),
        (
            params::LMTP_TLS_POLICY_MAPS.name(),
            params::SMTP_TLS_POLICY_MAPS.name(),
        ),
        (
            params::LMTP_TLS_LOGLEVEL.name(),
            params::SMTP_TLS_LOGLEVEL.name(),
        ),
        (params::LMTP_USE_TLS.name(), params::SMTP_USE_TLS.name()),
        (
            params::LMTP_ENFORCE_TLS.name(),
            params::SMTP_ENFORCE_TLS.name(),
        ),
        (
            params::LMTP_SASL_AUTH_ENABLE.name(),
            params::SMTP_SASL_AUTH_ENABLE.name(),
        ),
        (
            params::LMTP_SASL_PASSWORD_MAPS.name(),
            params::SMTP_SASL_PASSWORD_MAPS.name(),
        ),
        (params::LMTP_SASL_TYPE.name(), params::SMTP_SASL_TYPE.name()),
        (
            params::LMTP_SASL_SECURITY_OPTIONS.name(),
            params::SMTP_SASL_SECURITY_OPTIONS.name(),
        ),
        (
            params::LMTP_SASL_TLS_SECURITY_OPTIONS.name(),
            params::SMTP_SASL_TLS_SECURITY_OPTIONS.name(),
        ),
        (
            params::LMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS.name(),
            params::SMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS.name(),
        ),
        (
            params::LMTP_SASL_MECHANISM_FILTER.name(),
            params::SMTP_SASL_MECHANISM_FILTER.name(),
        ),
        (
            params::LMTP_SENDER_DEPENDENT_AUTHENTICATION.name(),
            params::SMTP_SENDER_DEPENDENT_AUTHENTICATION.name(),
        ),
        (
            params::LMTP_SASL_AUTH_SOFT_BOUNCE.name(),
            params::SMTP_SASL_AUTH_SOFT_BOUNCE.name(),
        ),
        (
            params::LMTP_SEND_DUMMY_MAIL_AUTH.name(),
            params::SMTP_SEND_DUMMY_MAIL_AUTH.name(),
        ),
    ];
    let pairs: Vec<(String, String)> = names
        .iter()
        .map(|(lmtp, smtp)| (smtp.to_string(), cfg.expanded(lmtp)))
        .collect();
    cfg.with_overrides(&pairs)
}

#[cfg(test)]
impl Default for SmtpParams {
    /// The registry defaults with `myhostname = localhost` (for tests).
    fn default() -> SmtpParams {
        let mut cfg = Config::defaults();
        cfg.set("myhostname", "localhost");
        SmtpParams::from_config(&cfg).expect("registry defaults are valid")
    }
}

fn bad_value(name: &str, value: &str, why: &str) -> DeliveryError {
    DeliveryError::Config(format!("bad value for parameter {name}: {value:?}: {why}"))
}

fn address(cfg: &Config, param: &Param<String>) -> Result<Option<IpAddr>, DeliveryError> {
    let name = param.name();
    let value = cfg.get(param);
    let value = value.as_str();
    if value.is_empty() {
        return Ok(None);
    }
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    bare.parse()
        .map(Some)
        .map_err(|_| bad_value(name, value, "expected a numeric IP address"))
}

fn families(cfg: &Config) -> Result<InetProtocols, DeliveryError> {
    cfg.inet_protocols()
        .map_err(|e| DeliveryError::Config(e.to_string()))
}

fn preference(cfg: &Config, param: &Param<String>) -> Result<AddressPreference, DeliveryError> {
    let value = cfg.get(param);
    AddressPreference::parse(&value)
        .ok_or_else(|| bad_value(param.name(), &value, "expected ipv6, ipv4 or any"))
}

impl SmtpParams {
    pub(crate) fn from_config(cfg: &Config) -> Result<SmtpParams, DeliveryError> {
        let helo_name = match cfg.get(&params::SMTP_HELO_NAME) {
            name if name.is_empty() => cfg.get(&params::MYHOSTNAME),
            name => name,
        };
        let port_text = cfg.get(&params::SMTP_TCP_PORT);
        let default_port = default_port(&port_text).ok_or_else(|| {
            bad_value(params::SMTP_TCP_PORT.name(), &port_text, "unknown service")
        })?;
        Ok(SmtpParams {
            lmtp: false,
            agent: "smtp",
            queue_directory: PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY)),
            helo_name,
            bind_address: address(cfg, &params::SMTP_BIND_ADDRESS)?,
            bind_address6: address(cfg, &params::SMTP_BIND_ADDRESS6)?,
            default_port,
            timeouts: Timeouts {
                connect: cfg.get(&params::SMTP_CONNECT_TIMEOUT),
                helo: cfg.get(&params::SMTP_HELO_TIMEOUT),
                mail: cfg.get(&params::SMTP_MAIL_TIMEOUT),
                rcpt: cfg.get(&params::SMTP_RCPT_TIMEOUT),
                data_init: cfg.get(&params::SMTP_DATA_INIT_TIMEOUT),
                data_xfer: cfg.get(&params::SMTP_DATA_XFER_TIMEOUT),
                data_done: cfg.get(&params::SMTP_DATA_DONE_TIMEOUT),
                quit: cfg.get(&params::SMTP_QUIT_TIMEOUT),
            },
            line_length_limit: cfg.get(&params::SMTP_LINE_LENGTH_LIMIT),
            skip_5xx_greeting: cfg.get(&params::SMTP_SKIP_5XX_GREETING),
            mx_address_limit: cfg.get(&params::SMTP_MX_ADDRESS_LIMIT),
            mx_session_limit: cfg.get(&params::SMTP_MX_SESSION_LIMIT),
            randomize_addresses: cfg.get(&params::SMTP_RANDOMIZE_ADDRESSES),
            families: families(cfg)?,
            address_preference: preference(cfg, &params::SMTP_ADDRESS_PREFERENCE)?,
            balance_inet_protocols: cfg.get(&params::SMTP_BALANCE_INET_PROTOCOLS),
            ignore_mx_lookup_error: cfg.get(&params::IGNORE_MX_LOOKUP_ERROR),
            relayhost: cfg.get(&params::RELAYHOST),
            fallback_relay: cfg.get(&params::SMTP_FALLBACK_RELAY),
            tls: TlsSettings::from_config(cfg)?,
            sasl: SaslSettings::from_config(cfg)?,
            cache: CacheSettings::from_config(cfg, &SMTP_CACHE)?,
        })
    }
}

impl SmtpParams {
    /// The LMTP client's settings (Postfix's `lmtp_*` parameters).
    pub(crate) fn lmtp_from_config(cfg: &Config) -> Result<SmtpParams, DeliveryError> {
        let helo_name = match cfg.get(&params::LMTP_LHLO_NAME) {
            name if name.is_empty() => cfg.get(&params::MYHOSTNAME),
            name => name,
        };
        let port_text = cfg.get(&params::LMTP_TCP_PORT);
        let default_port = default_port(&port_text).ok_or_else(|| {
            bad_value(params::LMTP_TCP_PORT.name(), &port_text, "unknown service")
        })?;
        let view = lmtp_view(cfg);
        Ok(SmtpParams {
            lmtp: true,
            agent: "lmtp",
            queue_directory: PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY)),
            helo_name,
            bind_address: address(cfg, &params::LMTP_BIND_ADDRESS)?,
            bind_address6: address(cfg, &params::LMTP_BIND_ADDRESS6)?,
            default_port,
            timeouts: Timeouts {
                connect: cfg.get(&params::LMTP_CONNECT_TIMEOUT),
                helo: cfg.get(&params::LMTP_LHLO_TIMEOUT),
                mail: cfg.get(&params::LMTP_MAIL_TIMEOUT),
                rcpt: cfg.get(&params::LMTP_RCPT_TIMEOUT),
                data_init: cfg.get(&params::LMTP_DATA_INIT_TIMEOUT),
                data_xfer: cfg.get(&params::LMTP_DATA_XFER_TIMEOUT),
                data_done: cfg.get(&params::LMTP_DATA_DONE_TIMEOUT),
                quit: cfg.get(&params::LMTP_QUIT_TIMEOUT),
            },
            line_length_limit: cfg.get(&params::LMTP_LINE_LENGTH_LIMIT),
            skip_5xx_greeting: cfg.get(&params::LMTP_SKIP_5XX_GREETING),
            // The addresses of one host name (LMTP does no MX lookups).
            mx_address_limit: cfg.get(&params::LMTP_MX_ADDRESS_LIMIT),
            mx_session_limit: cfg.get(&params::LMTP_MX_SESSION_LIMIT),
            randomize_addresses: cfg.get(&params::LMTP_RANDOMIZE_ADDRESSES),
            families: families(cfg)?,
            address_preference: preference(cfg, &params::LMTP_ADDRESS_PREFERENCE)?,
            balance_inet_protocols: cfg.get(&params::LMTP_BALANCE_INET_PROTOCOLS),
            ignore_mx_lookup_error: false,
            relayhost: String::new(),
            fallback_relay: Vec::new(),
            tls: TlsSettings::from_config(&view)?,
            sasl: SaslSettings::from_config(&view)?,
            cache: CacheSettings::from_config(cfg, &LMTP_CACHE)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let cfg = Config::parse_main_cf("myhostname = mx.spec.test\n", "main.cf").unwrap();
        let p = SmtpParams::from_config(&cfg).unwrap();
        assert_eq!(p.helo_name, "mx.spec.test");
        assert_eq!(p.default_port, 25);
        assert_eq!(p.timeouts.connect, Duration::from_secs(30));
        assert_eq!(p.timeouts.data_done, Duration::from_secs(600));
        assert_eq!(p.line_length_limit, 998);
        assert!(p.skip_5xx_greeting);
        let cfg = Config::parse_main_cf(
            "myhostname = mx.spec.test\nsmtp_helo_name = out.spec.test\n\
             smtp_connect_timeout = 2s\nsmtp_bind_address = 127.0.0.5\n\
             smtp_tcp_port = 2525\nsmtp_data_done_timeout = 1m\n",
            "main.cf",
        )
        .unwrap();
        let p = SmtpParams::from_config(&cfg).unwrap();
        assert_eq!(p.helo_name, "out.spec.test");
        assert_eq!(p.timeouts.connect, Duration::from_secs(2));
        assert_eq!(p.timeouts.data_done, Duration::from_secs(60));
        assert_eq!(p.bind_address, Some("127.0.0.5".parse().unwrap()));
        assert_eq!(p.default_port, 2525);
    }

    #[test]
    fn bad_values_are_errors() {
        for line in [
            "smtp_connect_timeout = soon",
            "smtp_bind_address = not-an-ip",
            "smtp_tcp_port = nosuch",
            "smtp_skip_5xx_greeting = maybe",
        ] {
            // The registry may already refuse the value; otherwise we do.
            if let Ok(cfg) = Config::parse_main_cf(&format!("{line}\n"), "main.cf") {
                assert!(SmtpParams::from_config(&cfg).is_err(), "{line}");
            }
        }
    }
}
