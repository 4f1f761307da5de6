//! Postfix-compatible configuration: `main.cf` / `master.cf` reading,
//! `$name` expansion, the parameter registry (every parameter gatepost
//! implements, declared once with its Postfix default, kind and doc), and
//! `postconf` output.
#![forbid(unsafe_code)]

mod config;
mod error;
mod expand;
mod kind;
mod lex;
mod list;
mod master_cf;
mod postconf;
mod registry;
mod service;
mod system;

pub use config::{Config, DEFAULT_CONFIG_DIR, EMBEDDED_SOURCE};
pub use error::ConfigError;
pub use kind::Kind;
pub use list::split_list;
pub use postconf::{postconf, PostconfMode, WARNING_PREFIX};
pub use registry::{is_postfix_parameter, param, registry, Computed, DefaultValue, ParamSpec};
pub use service::SmtpdService;

/// The embedded defaults with `./gatepost.d/main.cf` (and `master.cf`)
/// layered on top when present; see [`Config::load_default`].
pub fn load_default() -> Result<Config, ConfigError> {
    Config::load_default()
}
