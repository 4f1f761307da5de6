//! The delivery agents' view of `main.cf`, read once when the agent is
//! built. Parameters: `myhostname`, `mail_name`, `recipient_delimiter`,
//! `home_mailbox`, `mail_spool_directory`, `allow_mail_to_commands`,
//! `allow_mail_to_files`, `prepend_delivered_header`, `command_time_limit`,
//! `mailbox_size_limit`, `virtual_mailbox_limit`, `virtual_mailbox_base`,
//! `stale_lock_time`, `deliver_lock_attempts`, `deliver_lock_delay`,
//! `default_privs`, `local_command_shell`.
//!
//! When the configuration registry does not know a parameter (it answers
//! with an empty string), the Postfix 3.7 default below is used; a value set
//! explicitly, even to empty, always wins.

use std::path::PathBuf;
use std::time::Duration;

use gatepost_config::Config;

use crate::DeliveryError;

/// Which deliveries get a `Delivered-To:` header (`prepend_delivered_header`;
/// mailbox and maildir deliveries count as `file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeliveredHeaderMask {
    pub command: bool,
    pub file: bool,
    pub forward: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub myhostname: String,
    pub mail_name: String,
    pub recipient_delimiter: String,
    pub home_mailbox: String,
    pub mail_spool_directory: String,
    pub allow_mail_to_commands: bool,
    pub allow_mail_to_files: bool,
    pub delivered_header: DeliveredHeaderMask,
    pub command_time_limit: Duration,
    pub mailbox_size_limit: u64,
    pub virtual_mailbox_limit: u64,
    pub virtual_mailbox_base: String,
    pub stale_lock_time: Duration,
    pub deliver_lock_attempts: u32,
    pub deliver_lock_delay: Duration,
    pub default_privs: String,
    pub local_command_shell: String,
    /// The password file consulted for local users (always `/etc/passwd`
    /// in production; tests point it elsewhere).
    pub passwd_file: PathBuf,
    /// gatepost-only `local_mailbox_for_unknown_users`: a local name with
    /// no passwd entry and no alias still gets a mailbox under
    /// mail_spool_directory when local_recipient_maps is empty or lists it
    /// (the embedded mode); `no` bounces it as Postfix's local(8) does.
    pub mailbox_for_unknown_users: bool,
}

/// The expanded value of `name`, or `default` when the registry does not
/// know the parameter and it was not set explicitly.
pub(crate) fn param(cfg: &Config, name: &str, default: &str) -> String {
    let value = cfg.get(name);
    if value.is_empty() && cfg.raw(name).is_none() {
        default.to_string()
    } else {
        value
    }
}

/// A parameter as a Postfix list.
pub(crate) fn param_list(cfg: &Config, name: &str, default: &str) -> Vec<String> {
    if cfg.get(name).is_empty() && cfg.raw(name).is_none() {
        split_items(default)
    } else {
        cfg.get_list(name)
    }
}

fn split_items(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse a Postfix time value (`10s`, `5m`, `1h`, `2d`, `1w`; a bare number
/// uses `default_unit`).
pub(crate) fn parse_time(value: &str, default_unit: char) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&value[..i], c),
        Some(_) => (value, default_unit),
        None => return None,
    };
    let n: u64 = number.parse().ok()?;
    let secs = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    Some(Duration::from_secs(n.saturating_mul(secs)))
}

fn time_param(cfg: &Config, name: &str, default: &str) -> Result<Duration, DeliveryError> {
    let value = param(cfg, name, default);
    parse_time(&value, 's')
        .ok_or_else(|| bad_value(name, &value, "expected a time value such as 10s"))
}

fn int_param(cfg: &Config, name: &str, default: &str) -> Result<u64, DeliveryError> {
    let value = param(cfg, name, default);
    value
        .trim()
        .parse()
        .map_err(|_| bad_value(name, &value, "expected a non-negative number"))
}

fn bad_value(name: &str, value: &str, why: &str) -> DeliveryError {
    DeliveryError::Config(format!("bad value for parameter {name}: {value:?}: {why}"))
}

/// Whether the Postfix list parameter `name` contains `item` (case-insensitive).
fn list_has(cfg: &Config, name: &str, default: &str, item: &str) -> bool {
    param_list(cfg, name, default)
        .iter()
        .any(|v| v.eq_ignore_ascii_case(item))
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, DeliveryError> {
        let myhostname = param(cfg, "myhostname", "");
        let myhostname = if myhostname.is_empty() {
            "localhost".to_string()
        } else {
            myhostname
        };
        let virtual_mailbox_base = param(cfg, "virtual_mailbox_base", "");
        if !virtual_mailbox_base.is_empty() && !virtual_mailbox_base.starts_with('/') {
            return Err(bad_value(
                "virtual_mailbox_base",
                &virtual_mailbox_base,
                "absolute pathname required",
            ));
        }
        Ok(Settings {
            myhostname,
            mail_name: param(cfg, "mail_name", "Postfix"),
            recipient_delimiter: param(cfg, "recipient_delimiter", ""),
            home_mailbox: param(cfg, "home_mailbox", ""),
            mail_spool_directory: param(cfg, "mail_spool_directory", "/var/mail"),
            allow_mail_to_commands: list_has(
                cfg,
                "allow_mail_to_commands",
                "alias, forward",
                "alias",
            ),
            allow_mail_to_files: list_has(cfg, "allow_mail_to_files", "alias, forward", "alias"),
            delivered_header: DeliveredHeaderMask {
                command: list_has(
                    cfg,
                    "prepend_delivered_header",
                    "command, file, forward",
                    "command",
                ),
                file: list_has(
                    cfg,
                    "prepend_delivered_header",
                    "command, file, forward",
                    "file",
                ),
                forward: list_has(
                    cfg,
                    "prepend_delivered_header",
                    "command, file, forward",
                    "forward",
                ),
            },
            command_time_limit: time_param(cfg, "command_time_limit", "1000s")?,
            mailbox_size_limit: int_param(cfg, "mailbox_size_limit", "51200000")?,
            virtual_mailbox_limit: int_param(cfg, "virtual_mailbox_limit", "51200000")?,
            virtual_mailbox_base,
            stale_lock_time: time_param(cfg, "stale_lock_time", "500s")?,
            deliver_lock_attempts: u32::try_from(int_param(cfg, "deliver_lock_attempts", "20")?)
                .unwrap_or(u32::MAX),
            deliver_lock_delay: time_param(cfg, "deliver_lock_delay", "1s")?,
            default_privs: param(cfg, "default_privs", "nobody"),
            local_command_shell: param(cfg, "local_command_shell", ""),
            passwd_file: PathBuf::from("/etc/passwd"),
            mailbox_for_unknown_users: cfg.get_bool("local_mailbox_for_unknown_users"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values() {
        for (text, secs) in [
            ("10s", Some(10)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
            ("2d", Some(172_800)),
            ("1w", Some(604_800)),
            ("30", Some(30)),
            ("", None),
            ("x", None),
            ("5y", None),
        ] {
            assert_eq!(
                parse_time(text, 's'),
                secs.map(Duration::from_secs),
                "{text}"
            );
        }
    }

    #[test]
    fn list_items() {
        assert_eq!(
            split_items("alias, forward\tinclude"),
            vec!["alias", "forward", "include"]
        );
    }
}
