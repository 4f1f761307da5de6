//! Postfix-compatible configuration: `main.cf` / `master.cf` reading,
//! `$name` expansion, the parameter registry (every parameter gatepost
//! implements, declared once with its Postfix default, kind and doc), and
//! `postconf` output.
//!
//! API CONTRACT (other crates are written against these signatures; extend,
//! do not change).
#![forbid(unsafe_code)]

use std::path::Path;
use std::time::Duration;

/// Errors with file and line context.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}, line {line}: {msg}")]
    Syntax { file: String, line: usize, msg: String },
    #[error("{location}: bad value for parameter {name}: {value:?}: {why}")]
    BadValue { location: String, name: String, value: String, why: String },
    #[error("{path}: {source}")]
    Io { path: String, #[source] source: std::io::Error },
}

/// One `inet` service of type `smtpd` (from master.cf or the embedded default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpdService {
    /// The service field as written: `smtp`, `submission`, `2525`, `127.0.0.1:2525`.
    pub name: String,
    /// Host part when given as `host:port`; `None` means every `inet_interfaces` address.
    pub host: Option<String>,
    pub port: u16,
    /// `-o name=value` overrides, in order.
    pub overrides: Vec<(String, String)>,
}

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

/// A loaded configuration. Values are stored raw and expanded on read.
#[derive(Debug, Clone)]
pub struct Config {}

impl Config {
    /// gatepost's embedded defaults (no config file): Postfix defaults plus the
    /// explicit embedded settings (listen 127.0.0.1:2525, spool under ./var ...).
    pub fn embedded() -> Config { todo!() }
    /// Read `DIR/main.cf` and, when present, `DIR/master.cf`; validates values.
    pub fn load_dir(dir: &Path) -> Result<Config, ConfigError> { let _ = dir; todo!() }
    /// Parse main.cf text (file name used in messages); validates values.
    pub fn parse_main_cf(text: &str, file: &str) -> Result<Config, ConfigError> { let _ = (text, file); todo!() }
    /// Human description of where the config came from.
    pub fn source(&self) -> &str { todo!() }
    /// Set a value (e.g. `-o` override or test setting). Not validated.
    pub fn set(&mut self, name: &str, value: &str) { let _ = (name, value); todo!() }
    /// A copy with master.cf `-o` overrides applied.
    pub fn with_overrides(&self, overrides: &[(String, String)]) -> Config { let _ = overrides; todo!() }
    /// Re-validate all implemented parameters (after `set`).
    pub fn validate(&self) -> Result<(), ConfigError> { todo!() }
    /// Raw explicit value, if set.
    pub fn raw(&self, name: &str) -> Option<&str> { let _ = name; todo!() }
    /// `(file, line)` where the parameter was set, if it came from a file.
    pub fn origin(&self, name: &str) -> Option<(String, usize)> { let _ = name; todo!() }
    /// Expanded value; the default when unset; empty when unknown.
    pub fn get(&self, name: &str) -> String { let _ = name; todo!() }
    pub fn get_bool(&self, name: &str) -> bool { let _ = name; todo!() }
    pub fn get_int(&self, name: &str) -> i64 { let _ = name; todo!() }
    /// Time value using the parameter's default unit.
    pub fn get_time(&self, name: &str) -> Duration { let _ = name; todo!() }
    /// Expanded value split as a Postfix list (commas/whitespace, braces kept).
    pub fn get_list(&self, name: &str) -> Vec<String> { let _ = name; todo!() }
    /// Warnings collected while loading (unimplemented parameters, overrides...).
    pub fn warnings(&self) -> &[String] { todo!() }
    /// Explicitly set parameters, sorted by name, raw values.
    pub fn explicit(&self) -> Vec<(String, String)> { todo!() }
    /// The smtpd services to listen on.
    pub fn services(&self) -> Vec<SmtpdService> { todo!() }
}

/// Split a Postfix list value: items separated by commas and/or whitespace;
/// `{ ... }` keeps one item whole (braces kept in the item).
pub fn split_list(value: &str) -> Vec<String> { let _ = value; todo!() }

/// `postconf` output, one `name = value` line each (`-h`: values only).
pub fn postconf(cfg: &Config, mode: PostconfMode, names: &[String], values_only: bool) -> Result<String, ConfigError> {
    let _ = (cfg, mode, names, values_only);
    todo!()
}
