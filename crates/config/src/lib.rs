//! Postfix-compatible configuration: `main.cf` / `master.cf` reading,
//! `$name` expansion, the parameter registry (every parameter gatepost
//! implements, declared once as a typed handle in [`params`] with its
//! Postfix default, kind, start-up range and doc, read with
//! [`Config::get`]), the computed values (`myhostname`, `mydomain`,
//! `mynetworks`, the meaning of `inet_interfaces`), `postconf` output, the
//! load-time report of settings gatepost does not act on and the
//! fail-closed check ([`Config::check_fail_closed`]) the server runs.
//!
//! Modules: `config` (the loaded `Config`), `error`, `lex` (logical lines
//! of `main.cf`), `expand` (`$name` expansion), `list` (list splitting),
//! `kind` (value kinds and parsers), `param` (typed handles), `registry`
//! (every parameter, declared once), `master_cf`, `service` (smtpd services
//! from `master.cf`), `interfaces` (`inet_interfaces`/`proxy_interfaces`),
//! `inet_protocols` (the address families in use),
//! `system` (host name and interface addresses), `postconf` (output),
//! `load_report` (settings reported at load: unimplemented, unused),
//! `fail_closed` (settings refused until their feature exists).
#![forbid(unsafe_code)]

mod config;
mod error;
mod expand;
mod fail_closed;
mod inet_protocols;
mod interfaces;
mod kind;
mod lex;
mod list;
mod load_report;
mod master_cf;
mod param;
mod pipe_service;
mod postconf;
mod registry;
mod service;
mod system;

pub use config::{Config, DEFAULT_CONFIG_DIR, EMBEDDED_SOURCE};

/// Expand `$name` macros of `text` with names from `lookup` (undefined
/// names expand to nothing): the per-delivery expansion of values such as
/// `mailbox_command` and `forward_path` (Postfix's `local_expand()`).
pub fn expand_macros(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    expand::expand(text, lookup).value
}
pub use error::ConfigError;
pub use fail_closed::Unimplemented;
pub use inet_protocols::InetProtocols;
pub use interfaces::{Interface, LOOPBACK};
pub use kind::{parse_time, Kind};
pub use list::split_list;
pub use param::{Computed, DefaultValue, Param, ParamSpec, ParamValue};
pub use pipe_service::PipeService;
pub use postconf::{postconf, PostconfMode, WARNING_PREFIX};
pub use registry::{is_postfix_parameter, param, registry};

/// The typed handles, one per parameter: `cfg.get(&params::SMTPD_TIMEOUT)`.
pub mod params {
    pub use crate::registry::*;
}
pub use service::SmtpdService;

/// The embedded defaults with `./gatepost.d/main.cf` (and `master.cf`)
/// layered on top when present; see [`Config::load_default`].
pub fn load_default() -> Result<Config, ConfigError> {
    Config::load_default()
}
