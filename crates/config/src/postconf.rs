//! `postconf` output: `name = value` lines (`name =` when empty) with raw,
//! unexpanded values, sorted by name, or in the order asked for. Modes:
//! current values (explicit, else default), `-n` (explicit only) and `-d`
//! (registry defaults, computed ones computed). `-h` prints values only.
//!
//! A name that cannot be shown gives the line
//! `postconf: warning: NAME: unknown parameter` in the returned text, in
//! place of its value (Postfix prints that line to stderr); callers that
//! separate the streams can split on that prefix.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::error::ConfigError;
use crate::registry::{is_postfix_parameter, REGISTRY};

/// Where postconf output should come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostconfMode {
    /// All parameters: explicit values, else defaults (plain `postconf`).
    Current,
    /// `-n`: only explicitly set parameters.
    NonDefault,
    /// `-d`: defaults only.
    Defaults,
}

/// Prefix of the lines that stand for Postfix's stderr warnings.
pub const WARNING_PREFIX: &str = "postconf: warning: ";

/// What to print for one name: `Some(Some(v))` a value, `Some(None)` nothing
/// (known but not set, `-n`), `None` unknown.
fn lookup(cfg: &Config, mode: PostconfMode, name: &str) -> Option<Option<String>> {
    match mode {
        PostconfMode::Current => cfg
            .raw(name)
            .map(str::to_string)
            .or_else(|| cfg.default_raw(name))
            .map(Some),
        PostconfMode::NonDefault => match cfg.raw(name) {
            Some(value) => Some(Some(value.to_string())),
            None if cfg.default_raw(name).is_some() || is_postfix_parameter(name) => Some(None),
            None => None,
        },
        PostconfMode::Defaults => cfg.default_raw(name).map(Some),
    }
}

fn format_line(name: &str, value: &str, values_only: bool) -> String {
    if values_only {
        value.to_string()
    } else if value.is_empty() {
        format!("{name} =")
    } else {
        format!("{name} = {value}")
    }
}

/// `postconf` output, one `name = value` line each (`-h`: values only).
/// Every line ends with a newline. See the module doc for unknown names.
pub fn postconf(
    cfg: &Config,
    mode: PostconfMode,
    names: &[String],
    values_only: bool,
) -> Result<String, ConfigError> {
    let selected: Vec<String> = if names.is_empty() {
        let mut all: BTreeSet<String> = BTreeSet::new();
        if mode != PostconfMode::NonDefault {
            all.extend(REGISTRY.iter().map(|p| p.name.to_string()));
        }
        if mode != PostconfMode::Defaults {
            all.extend(cfg.explicit().into_iter().map(|(name, _)| name));
        }
        all.into_iter().collect()
    } else {
        names.to_vec()
    };
    let mut out = String::new();
    for name in &selected {
        match lookup(cfg, mode, name) {
            Some(Some(value)) => out.push_str(&format_line(name, &value, values_only)),
            Some(None) => continue,
            None => out.push_str(&format!("{WARNING_PREFIX}{name}: unknown parameter")),
        }
        out.push('\n');
    }
    Ok(out)
}
