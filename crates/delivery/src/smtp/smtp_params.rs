//! The SMTP client's view of `main.cf`, read once when the agent is built
//! (Postfix `smtp_params.c`). Parameters: `smtp_helo_name`,
//! `smtp_bind_address`, `smtp_bind_address6`, `smtp_tcp_port`,
//! `smtp_connect_timeout`, `smtp_helo_timeout`, `smtp_mail_timeout`,
//! `smtp_rcpt_timeout`, `smtp_data_init_timeout`, `smtp_data_xfer_timeout`,
//! `smtp_data_done_timeout`, `smtp_quit_timeout`, `smtp_line_length_limit`,
//! `smtp_skip_5xx_greeting`, `smtp_mx_address_limit`,
//! `smtp_mx_session_limit`, `smtp_randomize_addresses`,
//! `ignore_mx_lookup_error`, `relayhost` (to tell a relayhost
//! configuration problem), `inet_interfaces` and `proxy_interfaces` (to
//! recognise ourselves among the MX hosts).

use std::net::IpAddr;
use std::time::Duration;

use gatepost_config::Config;

use crate::settings::{param, param_list, parse_time};
use crate::smtp::destination::default_port;
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

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(30),
            helo: Duration::from_secs(300),
            mail: Duration::from_secs(300),
            rcpt: Duration::from_secs(300),
            data_init: Duration::from_secs(120),
            data_xfer: Duration::from_secs(180),
            data_done: Duration::from_secs(600),
            quit: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SmtpParams {
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
    pub ignore_mx_lookup_error: bool,
    pub relayhost: String,
    pub inet_interfaces: Vec<String>,
    pub proxy_interfaces: Vec<String>,
}

impl Default for SmtpParams {
    fn default() -> SmtpParams {
        SmtpParams {
            helo_name: "localhost".to_string(),
            bind_address: None,
            bind_address6: None,
            default_port: 25,
            timeouts: Timeouts::default(),
            line_length_limit: 998,
            skip_5xx_greeting: true,
            mx_address_limit: 5,
            mx_session_limit: 2,
            randomize_addresses: true,
            ignore_mx_lookup_error: false,
            relayhost: String::new(),
            inet_interfaces: vec!["all".to_string()],
            proxy_interfaces: Vec::new(),
        }
    }
}

fn bad_value(name: &str, value: &str, why: &str) -> DeliveryError {
    DeliveryError::Config(format!("bad value for parameter {name}: {value:?}: {why}"))
}

fn time(cfg: &Config, name: &str, default: &str) -> Result<Duration, DeliveryError> {
    let value = param(cfg, name, default);
    parse_time(&value, 's')
        .ok_or_else(|| bad_value(name, &value, "expected a time value such as 10s"))
}

fn count(cfg: &Config, name: &str, default: &str) -> Result<usize, DeliveryError> {
    let value = param(cfg, name, default);
    value
        .trim()
        .parse()
        .map_err(|_| bad_value(name, &value, "expected a non-negative number"))
}

fn boolean(cfg: &Config, name: &str, default: &str) -> Result<bool, DeliveryError> {
    let value = param(cfg, name, default);
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(bad_value(name, &value, "expected yes or no")),
    }
}

fn address(cfg: &Config, name: &str) -> Result<Option<IpAddr>, DeliveryError> {
    let value = param(cfg, name, "");
    let value = value.trim();
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

impl SmtpParams {
    pub(crate) fn from_config(cfg: &Config) -> Result<SmtpParams, DeliveryError> {
        let myhostname = param(cfg, "myhostname", "localhost");
        let helo_name = param(cfg, "smtp_helo_name", &myhostname);
        let helo_name = if helo_name.trim().is_empty() {
            myhostname
        } else {
            helo_name.trim().to_string()
        };
        let port_text = param(cfg, "smtp_tcp_port", "smtp");
        let default_port = default_port(&port_text)
            .ok_or_else(|| bad_value("smtp_tcp_port", &port_text, "unknown service"))?;
        Ok(SmtpParams {
            helo_name,
            bind_address: address(cfg, "smtp_bind_address")?,
            bind_address6: address(cfg, "smtp_bind_address6")?,
            default_port,
            timeouts: Timeouts {
                connect: time(cfg, "smtp_connect_timeout", "30s")?,
                helo: time(cfg, "smtp_helo_timeout", "300s")?,
                mail: time(cfg, "smtp_mail_timeout", "300s")?,
                rcpt: time(cfg, "smtp_rcpt_timeout", "300s")?,
                data_init: time(cfg, "smtp_data_init_timeout", "120s")?,
                data_xfer: time(cfg, "smtp_data_xfer_timeout", "180s")?,
                data_done: time(cfg, "smtp_data_done_timeout", "600s")?,
                quit: time(cfg, "smtp_quit_timeout", "300s")?,
            },
            line_length_limit: count(cfg, "smtp_line_length_limit", "998")?,
            skip_5xx_greeting: boolean(cfg, "smtp_skip_5xx_greeting", "yes")?,
            mx_address_limit: count(cfg, "smtp_mx_address_limit", "5")?,
            mx_session_limit: count(cfg, "smtp_mx_session_limit", "2")?,
            randomize_addresses: boolean(cfg, "smtp_randomize_addresses", "yes")?,
            ignore_mx_lookup_error: boolean(cfg, "ignore_mx_lookup_error", "no")?,
            relayhost: param(cfg, "relayhost", "").trim().to_string(),
            inet_interfaces: param_list(cfg, "inet_interfaces", "all"),
            proxy_interfaces: param_list(cfg, "proxy_interfaces", ""),
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
        assert_eq!(p.timeouts, Timeouts::default());
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
