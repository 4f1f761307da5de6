//! `Config`: a loaded configuration. Explicit settings are stored raw with
//! their origin (`FILE, line N`) and expanded on read; unset parameters fall
//! back to the registry default (text or computed). Owns loading (`main.cf`,
//! `master.cf`, the embedded defaults), validation of implemented
//! parameters by kind and start-up range, the load-time warnings (see
//! `load_report`), and the one typed accessor [`Config::get`] (which never fails:
//! an invalid value set after loading falls back to the default).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::ConfigError;
use crate::expand::expand;
use crate::kind::{parse_int, parse_time, Kind};
use crate::lex::parse_settings;
use crate::load_report;
use crate::master_cf::{parse_master_cf, MasterOption};
use crate::param::{Computed, DefaultValue, Param, ParamSpec, ParamValue};
use crate::pipe_service::PipeService;
use crate::registry::{
    is_postfix_parameter, param, MYDOMAIN, MYHOSTNAME, MYNETWORKS_STYLE,
    PARENT_DOMAIN_MATCHES_SUBDOMAINS, REGISTRY,
};
use crate::service::SmtpdService;
use crate::system;

/// Source name of [`Config::embedded`].
pub const EMBEDDED_SOURCE: &str = "embedded defaults";

/// Directory that [`Config::load_default`] layers over the embedded defaults.
pub const DEFAULT_CONFIG_DIR: &str = "./gatepost.d";

/// Explicit settings of the embedded defaults (shown by `postconf -n`).
const EMBEDDED_SETTINGS: &[(&str, &str)] = &[
    ("queue_directory", "./var/spool"),
    ("data_directory", "./var/lib"),
    ("mail_spool_directory", "./var/mail/"),
    ("home_mailbox", ""),
    ("local_recipient_maps", ""),
    ("local_mailbox_for_unknown_users", "yes"),
    ("alias_maps", ""),
    ("alias_database", ""),
    ("inet_interfaces", "127.0.0.1"),
    ("mynetworks", "127.0.0.1/32 [::1]/128"),
    ("maillog_file", ""),
    ("smtpd_tls_security_level", "may"),
    ("smtpd_tls_cert_file", "$queue_directory/tls/cert.pem"),
    ("smtpd_tls_key_file", "$queue_directory/tls/key.pem"),
    ("gatepost_tls_self_signed", "yes"),
    ("smtpd_tls_auth_only", "yes"),
    ("gatepost_sasl_passwd_file", "./gatepost.d/sasl_passwd"),
];

/// One explicit setting.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    value: String,
    origin: Option<(String, usize)>,
}

/// A loaded configuration. Values are stored raw and expanded on read.
#[derive(Debug, Clone)]
pub struct Config {
    source: String,
    explicit: BTreeMap<String, Entry>,
    warnings: Vec<String>,
    services: Vec<SmtpdService>,
    /// Unimplemented Postfix parameters already warned about.
    warned: BTreeSet<String>,
    /// Every master.cf service name (delivery transports too).
    service_names: Vec<String>,
    /// Every master.cf `-o` option, where it was written.
    master_options: Vec<MasterOption>,
    /// master.cf `unix` services whose command is `smtp`.
    smtp_transports: Vec<String>,
    /// master.cf `unix` services whose command is `lmtp`.
    lmtp_transports: Vec<String>,
    /// master.cf pipe(8) services.
    pipes: Vec<PipeService>,
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl Config {
    /// Postfix's built-in defaults only: nothing set, `smtp inet ... smtpd`.
    pub(crate) fn postfix_defaults(source: &str) -> Config {
        Config {
            source: source.to_string(),
            explicit: BTreeMap::new(),
            warnings: Vec::new(),
            services: vec![SmtpdService::postfix_default()],
            warned: BTreeSet::new(),
            service_names: Vec::new(),
            master_options: Vec::new(),
            smtp_transports: Vec::new(),
            lmtp_transports: Vec::new(),
            pipes: Vec::new(),
        }
    }

    /// Postfix's built-in defaults only (nothing set), for values that
    /// stand in when there is no configuration at hand.
    pub fn defaults() -> Config {
        Config::postfix_defaults("postfix defaults")
    }

    /// gatepost's embedded defaults (no config file): Postfix defaults plus the
    /// explicit embedded settings (listen 127.0.0.1:2525, spool under ./var ...).
    pub fn embedded() -> Config {
        let mut cfg = Config::postfix_defaults(EMBEDDED_SOURCE);
        for (name, value) in EMBEDDED_SETTINGS {
            cfg.set(name, value);
        }
        cfg.services = vec![SmtpdService {
            name: "127.0.0.1:2525".to_string(),
            host: Some("127.0.0.1".to_string()),
            port: 2525,
            overrides: Vec::new(),
            process_limit: None,
        }];
        cfg
    }

    /// The embedded defaults, then `./gatepost.d/main.cf` (and `master.cf`)
    /// layered on top when that file exists; validates values.
    pub fn load_default() -> Result<Config, ConfigError> {
        Config::load_layered(Path::new(DEFAULT_CONFIG_DIR))
    }

    /// The embedded defaults with `DIR/main.cf` and `DIR/master.cf` layered
    /// on top, each only when it exists; validates values.
    pub fn load_layered(dir: &Path) -> Result<Config, ConfigError> {
        let mut cfg = Config::embedded();
        let main_cf = dir.join("main.cf");
        if main_cf.is_file() {
            let name = main_cf.display().to_string();
            cfg.apply_main_cf(&read_file(&main_cf)?, &name)?;
            cfg.source = format!("{EMBEDDED_SOURCE} + {name}");
        }
        cfg.apply_master_cf_if_present(dir)?;
        cfg.report_load();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read `DIR/main.cf` and, when present, `DIR/master.cf`; validates values.
    pub fn load_dir(dir: &Path) -> Result<Config, ConfigError> {
        let main_cf = dir.join("main.cf");
        let name = main_cf.display().to_string();
        let mut cfg = Config::postfix_defaults(&name);
        cfg.apply_main_cf(&read_file(&main_cf)?, &name)?;
        cfg.apply_master_cf_if_present(dir)?;
        cfg.report_load();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse main.cf text (file name used in messages); validates values.
    pub fn parse_main_cf(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut cfg = Config::postfix_defaults(file);
        cfg.apply_main_cf(text, file)?;
        cfg.report_load();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Layer main.cf text over the current settings.
    fn apply_main_cf(&mut self, text: &str, file: &str) -> Result<(), ConfigError> {
        let settings = parse_settings(text, file, &mut self.warnings)?;
        let mut seen_here: BTreeSet<String> = BTreeSet::new();
        for setting in settings {
            if !seen_here.insert(setting.name.clone()) {
                if let Some(old) = self.explicit.get(&setting.name) {
                    if old.value != setting.value {
                        self.warnings.push(format!(
                            "{file}, line {}: overriding earlier entry: {}={}",
                            setting.line, setting.name, old.value
                        ));
                    }
                }
            }
            if param(&setting.name).is_none()
                && is_postfix_parameter(&setting.name)
                && self.warned.insert(setting.name.clone())
            {
                self.warnings
                    .push(load_report::not_implemented(&setting.name));
            }
            self.explicit.insert(
                setting.name,
                Entry {
                    value: setting.value,
                    origin: Some((file.to_string(), setting.line)),
                },
            );
        }
        Ok(())
    }

    /// Replace the services with those of `DIR/master.cf` when it exists.
    fn apply_master_cf_if_present(&mut self, dir: &Path) -> Result<(), ConfigError> {
        let master_cf = dir.join("master.cf");
        if !master_cf.is_file() {
            return Ok(());
        }
        self.apply_master_cf_text(&read_file(&master_cf)?, &master_cf.display().to_string())
    }

    /// Replace the services with those of master.cf text `text`.
    pub fn apply_master_cf_text(&mut self, text: &str, file: &str) -> Result<(), ConfigError> {
        let parsed = parse_master_cf(text, file)?;
        self.pipes = parsed.pipes;
        self.services = parsed.services;
        self.warnings.extend(parsed.warnings);
        self.service_names = parsed.service_names;
        self.master_options = parsed.options;
        self.smtp_transports = parsed.smtp_transports;
        self.lmtp_transports = parsed.lmtp_transports;
        Ok(())
    }

    /// Add the load-time report of settings gatepost does not act on.
    fn report_load(&mut self) {
        let report = load_report::warnings(self, &self.warned);
        self.warnings.extend(report);
    }

    /// Every master.cf service name, delivery transports included.
    pub(crate) fn service_names(&self) -> &[String] {
        &self.service_names
    }

    /// master.cf `unix` services whose command is `smtp` (transports such
    /// as `amavis` or `relay` that are the SMTP client under another name).
    pub fn smtp_transports(&self) -> &[String] {
        &self.smtp_transports
    }

    /// master.cf `unix` services whose command is `lmtp` (`lmtp` itself,
    /// `dovecot-lmtp` ...): the LMTP client under that name.
    pub fn lmtp_transports(&self) -> &[String] {
        &self.lmtp_transports
    }

    /// Every master.cf `-o` option, where it was written.
    pub(crate) fn master_options(&self) -> &[MasterOption] {
        &self.master_options
    }

    /// Human description of where the config came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Set a value (e.g. `-o` override or test setting). Not validated.
    pub fn set(&mut self, name: &str, value: &str) {
        self.explicit.insert(
            name.to_string(),
            Entry {
                value: value.to_string(),
                origin: None,
            },
        );
    }

    /// A copy with master.cf `-o` overrides applied.
    pub fn with_overrides(&self, overrides: &[(String, String)]) -> Config {
        let mut cfg = self.clone();
        for (name, value) in overrides {
            cfg.set(name, value);
        }
        cfg
    }

    /// Where a setting came from, for error messages.
    pub(crate) fn location(&self, name: &str) -> String {
        match self.origin(name) {
            Some((file, line)) => format!("{file}, line {line}"),
            None => self.source.clone(),
        }
    }

    /// Re-validate all implemented parameters (after `set`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for spec in REGISTRY {
            if matches!(spec.default, DefaultValue::Computed(_)) && self.raw(spec.name).is_none() {
                continue;
            }
            let raw = self.lookup_raw(spec.name, true).unwrap_or_default();
            let expansion = expand(&raw, &|n| self.lookup_raw(n, true));
            let bad = |why: String| ConfigError::BadValue {
                location: self.location(spec.name),
                name: spec.name.to_string(),
                value: raw.clone(),
                why,
            };
            if let Some(error) = expansion.errors.first() {
                return Err(bad(error.clone()));
            }
            spec.kind.check(&expansion.value).map_err(bad)?;
            if let Some(why) = out_of_range(spec, &expansion.value) {
                return Err(bad(why));
            }
        }
        Ok(())
    }

    /// Raw explicit value, if set.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.explicit.get(name).map(|e| e.value.as_str())
    }

    /// `(file, line)` where the parameter was set, if it came from a file.
    pub fn origin(&self, name: &str) -> Option<(String, usize)> {
        self.explicit.get(name).and_then(|e| e.origin.clone())
    }

    /// The registry default of an implemented parameter, raw (as `postconf
    /// -d` prints it); computed defaults are computed. `None` for names that
    /// are not implemented.
    pub(crate) fn default_raw(&self, name: &str) -> Option<String> {
        self.default_value(name, true)
    }

    fn default_value(&self, name: &str, allow_computed: bool) -> Option<String> {
        match param(name)?.default {
            DefaultValue::Text(text) => Some(text.to_string()),
            DefaultValue::Computed(which) if allow_computed => Some(self.compute(which)),
            DefaultValue::Computed(_) => None,
        }
    }

    /// Explicit value, else default. Computed defaults are skipped when
    /// `allow_computed` is false, which breaks `myhostname`/`mydomain` loops.
    fn lookup_raw(&self, name: &str, allow_computed: bool) -> Option<String> {
        match self.raw(name) {
            Some(value) => Some(value.to_string()),
            None => self.default_value(name, allow_computed),
        }
    }

    /// The raw value in force of a parameter: explicit, else the registry
    /// default (computed ones computed). For values holding per-delivery
    /// macros such as `forward_path` (`$home`, `${extension}`), which `get`
    /// would expand to empty.
    pub fn raw_value<T>(&self, param: &Param<T>) -> String {
        self.lookup_raw(param.name(), true).unwrap_or_default()
    }

    fn expand_plain(&self, text: &str) -> String {
        expand(text, &|n| self.lookup_raw(n, false)).value
    }

    fn compute(&self, which: Computed) -> String {
        match which {
            Computed::MyHostname => {
                let domain = self.raw(MYDOMAIN.name()).map(|d| self.expand_plain(d));
                system::fqdn(system::system_hostname(), domain.as_deref())
            }
            Computed::MyDomain => {
                let host = match self.raw(MYHOSTNAME.name()) {
                    Some(h) => self.expand_plain(h),
                    None => system::fqdn(system::system_hostname(), None),
                };
                system::domain_of(&host)
            }
            Computed::MyNetworks => {
                let style = self
                    .lookup_raw(MYNETWORKS_STYLE.name(), false)
                    .map(|s| self.expand_plain(&s))
                    .unwrap_or_default();
                system::mynetworks(style.trim(), system::system_interfaces())
            }
        }
    }

    /// Expand arbitrary text against this configuration (`$name` etc.).
    pub(crate) fn expand(&self, text: &str) -> String {
        expand(text, &|n| self.lookup_raw(n, true)).value
    }

    /// The expanded value of any parameter by name, the default when unset,
    /// empty when unknown. For names only known at run time (restriction
    /// classes); read registered parameters with [`Config::get`].
    pub fn expanded(&self, name: &str) -> String {
        match self.lookup_raw(name, true) {
            Some(raw) => self.expand(&raw),
            None => String::new(),
        }
    }

    /// The value of a registered parameter as its type: the explicit value,
    /// else the default, expanded and parsed. A value that does not parse
    /// (only possible for one set after loading) yields the default.
    pub fn get<T: ParamValue + Default>(&self, param: &Param<T>) -> T {
        let kind = param.spec.kind;
        T::from_text(self.expanded(param.name()).trim(), kind)
            .unwrap_or_else(|_| self.default_of(param))
    }

    /// Whether `feature` (e.g. `relay_domains`, `smtpd_access_maps`) is named
    /// in `parent_domain_matches_subdomains`.
    pub fn parent_domain_matches(&self, feature: &str) -> bool {
        self.get(&PARENT_DOMAIN_MATCHES_SUBDOMAINS)
            .iter()
            .any(|item| item.eq_ignore_ascii_case(feature))
    }

    /// The registry default of a parameter as its type (expanded against this
    /// configuration), for a value that means "use the default" (e.g. 0).
    pub fn default_of<T: ParamValue + Default>(&self, param: &Param<T>) -> T {
        let default = self.default_raw(param.name()).unwrap_or_default();
        T::from_text(self.expand(&default).trim(), param.spec.kind).unwrap_or_default()
    }

    /// Warnings collected while loading (unimplemented parameters, overrides...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Explicitly set parameters, sorted by name, raw values.
    pub fn explicit(&self) -> Vec<(String, String)> {
        self.explicit
            .iter()
            .map(|(name, entry)| (name.clone(), entry.value.clone()))
            .collect()
    }

    /// The master.cf pipe(8) service named `name`.
    pub fn pipe_service(&self, name: &str) -> Option<&PipeService> {
        self.pipes.iter().find(|p| p.name == name)
    }

    /// Every master.cf pipe(8) service.
    pub fn pipe_services(&self) -> &[PipeService] {
        &self.pipes
    }

    /// The smtpd services to listen on.
    pub fn services(&self) -> Vec<SmtpdService> {
        self.services.clone()
    }
}

/// Why an expanded value is outside the parameter's start-up range, if it is:
/// integers by value, times in seconds, text by length.
fn out_of_range(spec: &ParamSpec, value: &str) -> Option<String> {
    if spec.min.is_none() && spec.max.is_none() {
        return None;
    }
    let measured = match spec.kind {
        Kind::Time(unit) => parse_time(value, unit)
            .ok()
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        Kind::Int | Kind::Size => parse_int(value).ok(),
        Kind::Bool => None,
        Kind::Str | Kind::List | Kind::Enum(_) => {
            Some(i64::try_from(value.chars().count()).unwrap_or(i64::MAX))
        }
    }?;
    if let Some(min) = spec.min.filter(|min| measured < *min) {
        return Some(format!("min {min}"));
    }
    spec.max
        .filter(|max| measured > *max)
        .map(|max| format!("max {max}"))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
