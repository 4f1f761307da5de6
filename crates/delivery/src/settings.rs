//! The delivery agents' view of `main.cf`, read once when the agent is
//! built. Parameters: `myhostname`, `mail_name`, `recipient_delimiter`,
//! `home_mailbox`, `mail_spool_directory`, `allow_mail_to_commands`,
//! `allow_mail_to_files`, `forward_path`, `luser_relay`, `prepend_delivered_header`, `command_time_limit`,
//! `mailbox_size_limit`, `virtual_mailbox_limit`, `virtual_mailbox_base`,
//! `stale_lock_time`, `deliver_lock_attempts`, `deliver_lock_delay`,
//! `mailbox_delivery_lock`, `virtual_mailbox_lock` (unknown lock names are
//! a configuration error), `mailbox_transport`, `fallback_transport`,
//! `default_privs`, `mail_owner`, `local_command_shell`, `max_idle` (store
//! processes of the privileged helper), `mailbox_command` and
//! `command_execution_directory` (kept unexpanded: their `$user`, `$home`
//! ... are expanded per delivery), all read through their typed handles
//! (defaults and ranges live in the configuration registry).

use std::path::PathBuf;
use std::time::Duration;

use gatepost_config::{params, Config, Param};

use crate::mbox_lock::LockKinds;
use crate::DeliveryError;

/// Which deliveries get a `Delivered-To:` header (`prepend_delivered_header`;
/// mailbox and maildir deliveries count as `file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeliveredHeaderMask {
    pub command: bool,
    pub file: bool,
    pub forward: bool,
}

/// Where deliveries to commands or files may come from
/// (`allow_mail_to_commands`, `allow_mail_to_files`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllowMask {
    pub alias: bool,
    pub forward: bool,
    pub include: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub myhostname: String,
    pub mail_name: String,
    pub recipient_delimiter: String,
    pub home_mailbox: String,
    pub mail_spool_directory: String,
    pub allow_mail_to_commands: AllowMask,
    pub allow_mail_to_files: AllowMask,
    /// `forward_path`, unexpanded.
    pub forward_path: String,
    /// `luser_relay`, unexpanded.
    pub luser_relay: String,
    /// `mail_owner` (never a pipe(8) `user=`).
    pub mail_owner: String,
    pub delivered_header: DeliveredHeaderMask,
    pub command_time_limit: Duration,
    pub mailbox_size_limit: u64,
    pub virtual_mailbox_limit: u64,
    pub virtual_mailbox_base: String,
    pub stale_lock_time: Duration,
    pub deliver_lock_attempts: u32,
    pub deliver_lock_delay: Duration,
    pub mailbox_delivery_lock: LockKinds,
    pub virtual_mailbox_lock: LockKinds,
    /// `mailbox_transport` (`transport[:nexthop]`; empty: none).
    pub mailbox_transport: String,
    /// `fallback_transport` (`transport[:nexthop]`; empty: none).
    pub fallback_transport: String,
    pub default_privs: String,
    pub local_command_shell: String,
    /// `mailbox_command`, unexpanded.
    pub mailbox_command: String,
    /// `command_execution_directory`, unexpanded.
    pub command_execution_directory: String,
    /// The password file consulted for local users (always `/etc/passwd`
    /// in production; tests point it elsewhere).
    pub passwd_file: PathBuf,
    /// gatepost-only `local_mailbox_for_unknown_users`: a local name with
    /// no passwd entry and no alias still gets a mailbox under
    /// mail_spool_directory when local_recipient_maps is empty or lists it
    /// (the embedded mode); `no` bounces it as Postfix's local(8) does.
    pub mailbox_for_unknown_users: bool,
    /// In the privileged helper: the gatepost executable, started once per
    /// store with the rights of the user (`store_process`); `None` stores
    /// in this process.
    pub store_program: Option<PathBuf>,
    /// `max_idle`: how long a store process of the helper waits for the
    /// next job of its owner before it is closed (`store_pool`).
    pub max_idle: Duration,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, DeliveryError> {
        let virtual_mailbox_base = cfg.get(&params::VIRTUAL_MAILBOX_BASE);
        if !virtual_mailbox_base.is_empty() && !virtual_mailbox_base.starts_with('/') {
            return Err(DeliveryError::Config(format!(
                "bad value for parameter {}: {virtual_mailbox_base:?}: absolute pathname required",
                params::VIRTUAL_MAILBOX_BASE.name()
            )));
        }
        let has = |param: &Param<Vec<String>>, item: &str| {
            cfg.get(param).iter().any(|v| v.eq_ignore_ascii_case(item))
        };
        let delivered = &params::PREPEND_DELIVERED_HEADER;
        let locks = |param: &Param<Vec<String>>| {
            LockKinds::parse(param.name(), &cfg.get(param)).map_err(DeliveryError::Config)
        };
        Ok(Settings {
            myhostname: cfg.get(&params::MYHOSTNAME),
            mail_name: cfg.get(&params::MAIL_NAME),
            recipient_delimiter: cfg.get(&params::RECIPIENT_DELIMITER),
            home_mailbox: cfg.get(&params::HOME_MAILBOX),
            mail_spool_directory: cfg.get(&params::MAIL_SPOOL_DIRECTORY),
            allow_mail_to_commands: AllowMask {
                alias: has(&params::ALLOW_MAIL_TO_COMMANDS, "alias"),
                forward: has(&params::ALLOW_MAIL_TO_COMMANDS, "forward"),
                include: has(&params::ALLOW_MAIL_TO_COMMANDS, "include"),
            },
            allow_mail_to_files: AllowMask {
                alias: has(&params::ALLOW_MAIL_TO_FILES, "alias"),
                forward: has(&params::ALLOW_MAIL_TO_FILES, "forward"),
                include: has(&params::ALLOW_MAIL_TO_FILES, "include"),
            },
            forward_path: cfg.raw_value(&params::FORWARD_PATH),
            luser_relay: cfg.raw_value(&params::LUSER_RELAY),
            mail_owner: cfg.get(&params::MAIL_OWNER),
            delivered_header: DeliveredHeaderMask {
                command: has(delivered, "command"),
                file: has(delivered, "file"),
                forward: has(delivered, "forward"),
            },
            command_time_limit: cfg.get(&params::COMMAND_TIME_LIMIT),
            mailbox_size_limit: cfg.get(&params::MAILBOX_SIZE_LIMIT),
            virtual_mailbox_limit: cfg.get(&params::VIRTUAL_MAILBOX_LIMIT),
            virtual_mailbox_base,
            stale_lock_time: cfg.get(&params::STALE_LOCK_TIME),
            deliver_lock_attempts: cfg.get(&params::DELIVER_LOCK_ATTEMPTS),
            deliver_lock_delay: cfg.get(&params::DELIVER_LOCK_DELAY),
            mailbox_delivery_lock: locks(&params::MAILBOX_DELIVERY_LOCK)?,
            virtual_mailbox_lock: locks(&params::VIRTUAL_MAILBOX_LOCK)?,
            mailbox_transport: cfg.get(&params::MAILBOX_TRANSPORT).trim().to_string(),
            fallback_transport: cfg.get(&params::FALLBACK_TRANSPORT).trim().to_string(),
            default_privs: cfg.get(&params::DEFAULT_PRIVS),
            local_command_shell: cfg.get(&params::LOCAL_COMMAND_SHELL),
            mailbox_command: cfg.raw_value(&params::MAILBOX_COMMAND),
            command_execution_directory: cfg.raw_value(&params::COMMAND_EXECUTION_DIRECTORY),
            passwd_file: PathBuf::from("/etc/passwd"),
            mailbox_for_unknown_users: cfg.get(&params::LOCAL_MAILBOX_FOR_UNKNOWN_USERS),
            store_program: None,
            max_idle: cfg.get(&params::MAX_IDLE),
        })
    }
}
