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
/// `defaults` is an empty configuration, so that computed defaults ignore
/// explicit settings (as `postconf -d` ignores main.cf).
fn lookup(
    cfg: &Config,
    defaults: &Config,
    mode: PostconfMode,
    name: &str,
) -> Option<Option<String>> {
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
        PostconfMode::Defaults => defaults.default_raw(name).map(Some),
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
    let defaults = Config::postfix_defaults("postfix defaults");
    let mut out = String::new();
    for name in &selected {
        match lookup(cfg, &defaults, mode, name) {
            Some(Some(value)) => out.push_str(&format_line(name, &value, values_only)),
            Some(None) => continue,
            None => out.push_str(&format!("{WARNING_PREFIX}{name}: unknown parameter")),
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::parse_main_cf(
            "myhostname = mx.example.com\nrelayhost =\nmy_class = reject\nreadme_directory = no\n",
            "main.cf",
        )
        .expect("valid")
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn non_default_lists_explicit_settings_sorted() {
        let out = postconf(&cfg(), PostconfMode::NonDefault, &[], false).expect("ok");
        assert_eq!(
            out,
            "my_class = reject\nmyhostname = mx.example.com\nreadme_directory = no\nrelayhost =\n"
        );
    }

    #[test]
    fn named_parameters_table() {
        let cases: &[(PostconfMode, &[&str], bool, &str)] = &[
            (
                PostconfMode::Current,
                &["smtpd_banner", "relayhost", "myhostname"],
                false,
                "smtpd_banner = $myhostname ESMTP $mail_name\nrelayhost =\nmyhostname = mx.example.com\n",
            ),
            (
                PostconfMode::Current,
                &["smtpd_banner", "relayhost"],
                true,
                "$myhostname ESMTP $mail_name\n\n",
            ),
            (
                PostconfMode::Current,
                &["nosuch", "my_class"],
                false,
                "postconf: warning: nosuch: unknown parameter\nmy_class = reject\n",
            ),
            (
                PostconfMode::NonDefault,
                &["relayhost", "mydomain", "smtpd_tls_cert_file", "nosuch"],
                false,
                "relayhost =\npostconf: warning: nosuch: unknown parameter\n",
            ),
            (
                PostconfMode::Defaults,
                &["message_size_limit", "smtpd_forbid_bare_newline"],
                false,
                "message_size_limit = 10240000\nsmtpd_forbid_bare_newline = normalize\n",
            ),
            (
                PostconfMode::Defaults,
                &["relay_domains", "my_class"],
                false,
                "relay_domains = ${{$compatibility_level} <level {2} ? {$mydestination} : {}}\n\
                 postconf: warning: my_class: unknown parameter\n",
            ),
            (
                PostconfMode::Defaults,
                &["relayhost"],
                true,
                "\n",
            ),
        ];
        for (mode, list, values_only, want) in cases {
            let out = postconf(&cfg(), *mode, &names(list), *values_only).expect("ok");
            assert_eq!(out, *want, "{mode:?} {list:?}");
        }
    }

    #[test]
    fn current_and_defaults_cover_the_registry_sorted() {
        let c = cfg();
        let current = postconf(&c, PostconfMode::Current, &[], false).expect("ok");
        let defaults = postconf(&c, PostconfMode::Defaults, &[], false).expect("ok");
        let names_of = |text: &str| -> Vec<String> {
            text.lines()
                .map(|l| l.split(" =").next().unwrap_or_default().to_string())
                .collect()
        };
        let current_names = names_of(&current);
        let mut sorted = current_names.clone();
        sorted.sort();
        assert_eq!(current_names, sorted);
        assert_eq!(names_of(&defaults).len(), REGISTRY.len());
        assert_eq!(current_names.len(), REGISTRY.len() + 2);
        assert!(current.contains("\nmy_class = reject\n"));
        assert!(current.contains("\nrelayhost =\n"));
        assert!(current.contains("\nsmtpd_forbid_unauth_pipelining = yes\n"));
        let host = crate::system::fqdn(crate::system::system_hostname(), None);
        assert!(defaults.contains(&format!("\nmyhostname = {host}\n")));
        assert!(defaults.contains(&format!(
            "\nmydomain = {}\n",
            crate::system::domain_of(&host)
        )));
        assert!(!defaults.contains("my_class"));
    }
}
