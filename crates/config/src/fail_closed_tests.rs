//! The fail-closed check, table-driven: a main.cf (and master.cf) → refused
//! with which text, or accepted with which warnings.

use std::path::Path;

use super::FAIL_CLOSED;
use crate::registry::{is_postfix_parameter, param};
use crate::Config;

fn check(main_cf: &str) -> Result<Vec<String>, String> {
    let cfg = Config::parse_main_cf(main_cf, "/etc/postfix/main.cf").expect("loads");
    cfg.check_fail_closed().map_err(|e| e.to_string())
}

const REFUSE: &str =
    "refusing to run without it (name it in gatepost_accept_unimplemented to run anyway)";

#[test]
fn values_that_ask_for_a_missing_feature_are_refused() {
    let refused = [
        ("smtp_tls_security_level = dane", "smtp_tls_security_level = dane: not implemented by gatepost: mail would be sent without verifying the server"),
        ("smtp_tls_security_level = dane-only", "smtp_tls_security_level = dane-only"),
        ("smtp_tls_security_level = Fingerprint", "smtp_tls_security_level = Fingerprint"),
        ("smtpd_proxy_filter = 127.0.0.1:10025", "/etc/postfix/main.cf, line 1: smtpd_proxy_filter = 127.0.0.1:10025: not implemented by gatepost: mail would pass unfiltered; "),
        ("filter = 127.0.0.1:10024\nsmtpd_proxy_filter = $filter", "line 2: smtpd_proxy_filter = $filter"),
        ("smtp_header_checks = regexp:/etc/postfix/header_checks", "smtp_header_checks = regexp:/etc/postfix/header_checks: not implemented by gatepost: message content would not be inspected"),
        ("smtp_mime_header_checks = pcre:/x", "smtp_mime_header_checks"),
        ("smtp_nested_header_checks = pcre:/x", "smtp_nested_header_checks"),
        ("smtp_body_checks = pcre:/x", "smtp_body_checks"),
        ("permit_mx_backup_networks = 192.0.2.0/24", "permit_mx_backup_networks"),
        ("authorized_submit_users = root", "authorized_submit_users = root"),
        ("authorized_mailq_users = static:anyone, root", "authorized_mailq_users"),
        ("local_login_sender_maps = hash:/etc/postfix/senders", "local_login_sender_maps"),
    ];
    for (main_cf, want) in refused {
        let err = check(main_cf).expect_err(main_cf);
        assert!(err.contains(want), "{main_cf}: {err}");
        assert!(err.ends_with(REFUSE), "{main_cf}: {err}");
    }
}

#[test]
fn values_that_ask_for_nothing_are_accepted() {
    let accepted = [
        "",
        "content_filter =",
        "header_checks =\nbody_checks =\nsmtpd_milters =",
        // cleanup's header and body checks are implemented.
        "header_checks = regexp:/x\nmime_header_checks = pcre:/x\nnested_header_checks = pcre:/x\nbody_checks = pcre:/x",
        "smtpd_tls_security_level = may\nsmtp_tls_security_level = none",
        "smtpd_tls_security_level =\nsmtp_tls_security_level = MAY",
        // The SMTP client's STARTTLS without verification is implemented.
        "smtp_tls_security_level = encrypt\nsmtp_enforce_tls = yes\nsmtp_use_tls = yes",
        // ... and so are certificate verification, the policy table and AUTH.
        "smtp_tls_security_level = verify\nsmtp_tls_policy_maps = hash:/etc/postfix/tls_policy",
        "smtp_tls_security_level = Secure\nsmtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd",
        "smtpd_sasl_auth_enable = no\nsmtpd_tls_auth_only = yes",
        "smtpd_enforce_tls = no\nsmtpd_tls_wrappermode = no",
        // The SMTP server's TLS and AUTH are implemented.
        "smtpd_tls_security_level = encrypt\nsmtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = yes",
        "smtpd_enforce_tls = yes\nsmtpd_tls_wrappermode = yes\nsmtpd_sender_login_maps = hash:/etc/postfix/logins",
        "smtpd_client_connection_rate_limit = 0\nsmtpd_client_auth_rate_limit = 0",
        // The anvil(8) rate limits are implemented.
        "smtpd_client_connection_rate_limit = 30\nsmtpd_client_message_rate_limit = 100",
        "smtpd_client_recipient_rate_limit = 100\nsmtpd_client_new_tls_session_rate_limit = 5\nsmtpd_client_auth_rate_limit = 5",
        "authorized_submit_users = static:anyone\nlocal_login_sender_maps = static:*",
        "nofilter =\ncontent_filter = $nofilter",
        // Milters and the after-queue content filter are implemented.
        "smtpd_milters = inet:127.0.0.1:8891\nnon_smtpd_milters = inet:127.0.0.1:8891\ncontent_filter = smtp:[127.0.0.1]:10025\nreceive_override_options = no_address_mappings",
    ];
    for main_cf in accepted {
        assert_eq!(check(main_cf), Ok(Vec::new()), "{main_cf}");
    }
}

#[test]
fn every_refused_setting_is_named() {
    let err =
        check("smtpd_proxy_filter = 127.0.0.1:10025\nrelayhost =\nsmtp_body_checks = pcre:/x\n")
            .expect_err("refused");
    assert_eq!(
        err,
        "/etc/postfix/main.cf, line 1: smtpd_proxy_filter = 127.0.0.1:10025: not implemented by gatepost: mail would pass unfiltered; \
         /etc/postfix/main.cf, line 3: smtp_body_checks = pcre:/x: not implemented by gatepost: message content would not be inspected; \
         refusing to run without them (name them in gatepost_accept_unimplemented to run anyway)"
    );
}

#[test]
fn the_operator_accepts_the_risk_by_name() {
    let warnings = check(
        "smtpd_proxy_filter = 127.0.0.1:10025\nsmtp_header_checks = pcre:/x\n\
         gatepost_accept_unimplemented = smtpd_proxy_filter, smtp_header_checks, relayhost\n",
    )
    .expect("accepted");
    assert_eq!(
        warnings,
        [
            "/etc/postfix/main.cf, line 1: smtpd_proxy_filter = 127.0.0.1:10025: not implemented by gatepost: mail would pass unfiltered; running anyway as gatepost_accept_unimplemented allows",
            "/etc/postfix/main.cf, line 2: smtp_header_checks = pcre:/x: not implemented by gatepost: message content would not be inspected; running anyway as gatepost_accept_unimplemented allows",
            "gatepost_accept_unimplemented: relayhost is not a parameter gatepost refuses; ignored",
        ]
    );
    let err = check("smtpd_proxy_filter = 127.0.0.1:10025\nsmtp_header_checks = pcre:/x\ngatepost_accept_unimplemented = smtp_header_checks\n")
        .expect_err("smtpd_proxy_filter not accepted");
    assert!(
        err.starts_with("/etc/postfix/main.cf, line 1: smtpd_proxy_filter"),
        "{err}"
    );
    assert!(!err.contains("smtp_header_checks"), "{err}");
}

#[test]
fn master_cf_options_are_checked_per_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write =
        |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    write("main.cf", "smtp_header_checks = regexp:/x\n");
    write(
        "master.cf",
        "smtp inet n - n - - smtpd -o smtpd_proxy_filter=\n\
         submission inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n  -o smtpd_proxy_filter=127.0.0.1:10025\n\
         relay unix - - n - - smtp -o smtp_tls_security_level=verify\n",
    );
    let cfg = Config::load_dir(Path::new(dir.path())).expect("loads");
    let err = cfg.check_fail_closed().expect_err("refused").to_string();
    let master_cf = dir.path().join("master.cf").display().to_string();
    let main_cf = dir.path().join("main.cf").display().to_string();
    assert_eq!(
        err,
        format!(
            "{main_cf}, line 1: smtp_header_checks = regexp:/x: not implemented by gatepost: message content would not be inspected; \
             {master_cf}, line 2: service submission: smtpd_proxy_filter = 127.0.0.1:10025: not implemented by gatepost: mail would pass unfiltered; \
             refusing to run without them (name them in gatepost_accept_unimplemented to run anyway)"
        )
    );
}

#[test]
fn the_table_names_postfix_parameters_gatepost_does_not_implement() {
    for entry in FAIL_CLOSED {
        assert!(is_postfix_parameter(entry.name), "{}", entry.name);
        assert_eq!(
            FAIL_CLOSED.iter().filter(|e| e.name == entry.name).count(),
            1,
            "{}",
            entry.name
        );
        // A registered one is registered as unimplemented, or is implemented
        // for some values only (the SMTP client's TLS level): its default
        // value asks for nothing missing.
        if let Some(spec) = param(entry.name) {
            let defaults = Config::defaults();
            assert!(
                spec.unimplemented || !(entry.asks)(&defaults.expanded(entry.name), &defaults),
                "{} is registered as implemented",
                entry.name
            );
        }
    }
}
