//! The load-time report of settings gatepost does not act on, once each:
//! a registered `[unimplemented]` parameter set to a value other than its
//! default (`NAME: parameter is not implemented by gatepost; ignored`, as
//! for Postfix parameters gatepost does not register, which `main.cf`
//! reading reports itself), and a name that is no parameter at all, as
//! postconf(1) and master(8) say it: `FILE: unused parameter: NAME=VALUE`
//! (main.cf settings and master.cf `-o` options alike).
//! A name is used when another setting or a master.cf `-o` value refers to
//! it as `$NAME`, when `smtpd_restriction_classes` lists it, or when it is a
//! per-service parameter of a master.cf service (`relay_destination_rate_delay`).

use std::collections::BTreeSet;

use crate::list::split_list;
use crate::registry::{is_postfix_parameter, param, SMTPD_RESTRICTION_CLASSES};
use crate::Config;

/// Suffixes of the parameters every master.cf service name defines
/// (postconf(5): `transport_destination_concurrency_limit` and friends).
const SERVICE_PARAMETER_SUFFIXES: &[&str] = &[
    "_delivery_slot_cost",
    "_delivery_slot_discount",
    "_delivery_slot_loan",
    "_destination_concurrency_failed_cohort_limit",
    "_destination_concurrency_limit",
    "_destination_concurrency_negative_feedback",
    "_destination_concurrency_positive_feedback",
    "_destination_rate_delay",
    "_destination_recipient_limit",
    "_extra_recipient_limit",
    "_initial_destination_concurrency",
    "_minimum_delivery_slots",
    "_recipient_limit",
    "_recipient_refill_delay",
    "_recipient_refill_limit",
    "_transport_rate_delay",
    "_time_limit",
];

/// The not-implemented warning, shared with `main.cf` reading.
pub(crate) fn not_implemented(name: &str) -> String {
    format!("{name}: parameter is not implemented by gatepost; ignored")
}

/// Every name referred to as `$name`, `${name...}` or `$(name...)` in `text`.
fn references(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
            continue;
        }
        let name_start = rest.strip_prefix(['{', '(']).unwrap_or(rest);
        let len = name_start
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(name_start.len());
        if len > 0 {
            out.insert(name_start[..len].to_string());
        }
    }
}

/// Whether `name` is a per-service parameter of a master.cf service.
fn is_service_parameter(cfg: &Config, name: &str) -> bool {
    cfg.service_names().iter().any(|service| {
        name.strip_prefix(service.as_str())
            .is_some_and(|suffix| SERVICE_PARAMETER_SUFFIXES.contains(&suffix))
    })
}

/// Whether a registered parameter's explicit value differs from its default.
fn differs_from_default(cfg: &Config, name: &str) -> bool {
    let normal = |text: &str| split_list(text.trim());
    let default = cfg.default_raw(name).unwrap_or_default();
    normal(&cfg.expanded(name)) != normal(&cfg.expand(&default))
}

/// The report for the settings that came from files; `warned` holds the
/// Postfix parameters already reported as not implemented.
pub(crate) fn warnings(cfg: &Config, warned: &BTreeSet<String>) -> Vec<String> {
    let explicit = cfg.explicit();
    let mut used = BTreeSet::new();
    for (_, value) in &explicit {
        references(value, &mut used);
    }
    for option in cfg.master_options() {
        references(&option.value, &mut used);
    }
    used.extend(cfg.get(&SMTPD_RESTRICTION_CLASSES));
    let mut out = Vec::new();
    for (name, value) in explicit {
        let Some((file, _)) = cfg.origin(&name) else {
            continue;
        };
        match param(&name) {
            Some(spec) if spec.unimplemented && differs_from_default(cfg, &name) => {
                out.push(not_implemented(&name));
            }
            Some(_) => {}
            None if is_postfix_parameter(&name) => {}
            None if is_service_parameter(cfg, &name) => {
                if !warned.contains(&name) {
                    out.push(not_implemented(&name));
                }
            }
            None if used.contains(&name) => {}
            None => out.push(format!("{file}: unused parameter: {name}={value}")),
        }
    }
    for option in cfg.master_options() {
        let name = option.name.as_str();
        if param(name).is_none()
            && !is_postfix_parameter(name)
            && !is_service_parameter(cfg, name)
            && !used.contains(name)
        {
            out.push(format!(
                "{}: unused parameter: {name}={}",
                option.file, option.value
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(main_cf: &str) -> Vec<String> {
        Config::parse_main_cf(main_cf, "/etc/postfix/main.cf")
            .expect("loads")
            .warnings()
            .to_vec()
    }

    #[test]
    fn each_setting_is_honoured_or_reported_once() {
        let unimplemented = |name: &str| not_implemented(name);
        let cases: Vec<(&str, Vec<String>)> =
            vec![
            ("", vec![]),
            // Truly informational: silent.
            (
                "compatibility_level = 2\nmail_owner = mailer\nbiff = no",
                vec![],
            ),
            // Unimplemented, at the default: silent; otherwise reported.
            ("expand_owner_alias = no\nheader_size_limit = 102400", vec![]),
            (
                "expand_owner_alias = yes\nmasquerade_domains = example.com\nsmtpd_proxy_timeout = 5m",
                vec![
                    unimplemented("expand_owner_alias"),
                    unimplemented("smtpd_proxy_timeout"),
                ],
            ),
            ("notify_classes = resource,software", vec![]),
            // Unregistered Postfix parameters: reported once.
            (
                "readme_directory = no\nreadme_directory = no",
                vec![unimplemented("readme_directory")],
            ),
            // Unknown names: unused unless referred to.
            (
                "mynetwork = 10.0.0.0/8",
                vec!["/etc/postfix/main.cf: unused parameter: mynetwork=10.0.0.0/8".to_string()],
            ),
            ("trusted = 10.0.0.0/8\nmynetworks = $trusted", vec![]),
            (
                "trusted = 10.0.0.0/8\nmynetworks = ${trusted}, 127.0.0.1",
                vec![],
            ),
            (
                "smtpd_restriction_classes = strict\nstrict = reject",
                vec![],
            ),
        ];
        for (main_cf, want) in cases {
            assert_eq!(report(main_cf), want, "{main_cf}");
        }
    }

    #[test]
    fn master_cf_uses_and_defines_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write =
            |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        write(
            "main.cf",
            "mua_restrictions = permit_mynetworks, reject\n\
             relay_destination_rate_delay = 1s\n\
             typo_parameter = 1\n",
        );
        write(
            "master.cf",
            "submission inet n - n - - smtpd -o smtpd_client_restrictions=$mua_restrictions\n\
             relay unix - - n - - smtp -o smtp_helo_nmae=relay.example\n",
        );
        let cfg = Config::load_dir(dir.path()).expect("loads");
        let main_cf = dir.path().join("main.cf").display().to_string();
        let master_cf = dir.path().join("master.cf").display().to_string();
        let report: Vec<&String> = cfg
            .warnings()
            .iter()
            .filter(|w| !w.contains("service relay/unix"))
            .collect();
        assert_eq!(
            report,
            [
                &not_implemented("relay_destination_rate_delay"),
                &format!("{main_cf}: unused parameter: typo_parameter=1"),
                &format!("{master_cf}: unused parameter: smtp_helo_nmae=relay.example"),
            ]
        );
    }

    #[test]
    fn references_of_every_form() {
        let mut found = BTreeSet::new();
        references(
            "$a, ${b}, $(c), ${d?x}, ${e:y}, $$literal, x$f_1.g, $",
            &mut found,
        );
        let want = ["a", "b", "c", "d", "e", "f_1"];
        assert_eq!(found, want.iter().map(|s| s.to_string()).collect());
    }
}
