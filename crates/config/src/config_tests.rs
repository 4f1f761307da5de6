//! Tests of `Config`: loading, layering, warnings, validation and getters.

use super::*;
use crate::postconf::{postconf, PostconfMode};
use crate::registry as params;
use std::time::Duration;

fn cfg(text: &str) -> Config {
    Config::parse_main_cf(text, "main.cf").expect("valid main.cf")
}

#[test]
fn live_expansion_example_through_main_cf() {
    let c = cfg("myvar = hello\nemptyvar =\n\
        test = [${myvar?yes}] [${undefined_thing:fallback}] [${myvar?{A}:{B}}] \
        [${emptyvar?{A}:{B}}] [$$literal] [${emptyvar:E}] [${myvar:E}] \
        [${{$myvar} == {hello} ? {EQ} : {NE}}]\n");
    assert_eq!(
        c.expanded("test"),
        "[yes] [fallback] [A] [B] [$literal] [E] [] [EQ]"
    );
    // myvar and emptyvar are used by test; test itself by nothing.
    assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    assert!(c.warnings()[0].starts_with("main.cf: unused parameter: test=[${myvar?yes}]"));
}

#[test]
fn defaults_are_expanded_at_compatibility_level_3_6() {
    let c = cfg("myhostname = mx.example.com\n");
    let cases = [
        ("smtpd_banner", "mx.example.com ESMTP Postfix"),
        ("mydomain", "example.com"),
        ("myorigin", "mx.example.com"),
        (
            "mydestination",
            "mx.example.com, localhost.example.com, localhost",
        ),
        (
            "smtpd_relay_restrictions",
            "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
        ),
        ("relay_domains", ""),
        ("mynetworks_style", "host"),
        ("append_dot_mydomain", "no"),
        ("smtputf8_enable", "yes"),
        ("smtpd_relay_before_recipient_restrictions", "yes"),
        ("smtpd_timeout", "300s"),
        ("smtpd_hard_error_limit", "20"),
        ("syslog_name", "postfix"),
        ("local_transport", "local:mx.example.com"),
        ("unknown_address_tempfail_action", "defer_if_permit"),
        ("smtpd_forbid_bare_newline", "normalize"),
        ("virtual_alias_domains", ""),
        ("no_such_parameter_at_all", ""),
    ];
    for (name, want) in cases {
        assert_eq!(c.expanded(name), want, "{name}");
    }
    assert_eq!(
        c.expanded("smtpd_forbid_bare_newline_exclusions"),
        c.expanded("mynetworks")
    );
}

#[test]
fn lower_compatibility_level_restores_old_defaults() {
    let c = cfg("compatibility_level = 0\nmydestination = example.org\n");
    assert_eq!(c.expanded("relay_domains"), "example.org");
    assert_eq!(c.expanded("smtpd_relay_restrictions"), "");
    assert_eq!(c.expanded("mynetworks_style"), "subnet");
    assert!(!c.get(&params::SMTPUTF8_ENABLE));
    assert!(c.get(&params::APPEND_DOT_MYDOMAIN));
}

#[test]
fn typed_getters() {
    let c = cfg(
        "delay_warning_time = 4\nsmtpd_error_sleep_time = 2m\nmaximal_queue_lifetime = 2\n\
         bounce_queue_lifetime = 1w\nsmtpd_helo_required = YES\nmessage_size_limit = 1024\n",
    );
    let times = [
        (&params::DELAY_WARNING_TIME, 4 * 3600),
        (&params::SMTPD_ERROR_SLEEP_TIME, 120),
        (&params::MAXIMAL_QUEUE_LIFETIME, 2 * 86_400),
        (&params::BOUNCE_QUEUE_LIFETIME, 604_800),
        (&params::SMTPD_TIMEOUT, 300),
        (&params::QUEUE_RUN_DELAY, 300),
        (&params::MAXIMAL_BACKOFF_TIME, 4000),
        (&params::MINIMAL_BACKOFF_TIME, 300),
    ];
    for (param, secs) in times {
        assert_eq!(c.get(param), Duration::from_secs(secs), "{}", param.name());
    }
    assert!(c.get(&params::SMTPD_HELO_REQUIRED));
    assert!(c.get(&params::SMTPD_FORBID_UNAUTH_PIPELINING));
    assert!(!c.get(&params::DISABLE_VRFY_COMMAND));
    assert_eq!(c.get(&params::MESSAGE_SIZE_LIMIT), 1024);
    assert_eq!(c.get(&params::LINE_LENGTH_LIMIT), 2048);
    assert_eq!(c.get(&params::SMTPD_CLIENT_CONNECTION_COUNT_LIMIT), 50);
    assert_eq!(c.get(&params::SMTPD_JUNK_COMMAND_LIMIT), 100);
    assert_eq!(c.get(&params::UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE), 550);
    assert_eq!(c.get(&params::RELAY_DOMAINS_REJECT_CODE), 554);
    assert_eq!(c.expanded("no_such_parameter"), "");
    assert_eq!(
        c.get(&params::SMTPD_RELAY_RESTRICTIONS),
        [
            "permit_mynetworks",
            "permit_sasl_authenticated",
            "defer_unauth_destination"
        ]
    );
    assert_eq!(
        c.get(&params::SMTPD_FORBIDDEN_COMMANDS),
        ["CONNECT", "GET", "POST", "regexp:{{/^[^A-Z]/ Bogus}}"]
    );
}

#[test]
fn typed_getters_fall_back_to_default_after_bad_set() {
    let mut c = cfg("");
    c.set("smtpd_timeout", "soon");
    c.set("smtpd_helo_required", "maybe");
    c.set("message_size_limit", "big");
    assert_eq!(c.get(&params::SMTPD_TIMEOUT), Duration::from_secs(300));
    assert!(!c.get(&params::SMTPD_HELO_REQUIRED));
    assert_eq!(c.get(&params::MESSAGE_SIZE_LIMIT), 10_240_000);
    let err = c.validate().expect_err("invalid");
    assert!(matches!(err, ConfigError::BadValue { .. }));
}

#[test]
fn validation_errors_name_file_and_line() {
    let cases = [
        (
            "myhostname = a.example\nsmtpd_helo_required = yess\n",
            "main.cf, line 2: bad value for parameter smtpd_helo_required: \"yess\": expected yes or no",
        ),
        (
            "# c\n\nsmtpd_timeout = 10x\n",
            "main.cf, line 3: bad value for parameter smtpd_timeout: \"10x\": \
             expected a time: a number with optional unit s, m, h, d or w",
        ),
        (
            "message_size_limit = 10MB\n",
            "main.cf, line 1: bad value for parameter message_size_limit: \"10MB\": expected a size in bytes",
        ),
        (
            "smtpd_recipient_limit =\n  abc\n",
            "main.cf, line 1: bad value for parameter smtpd_recipient_limit: \"abc\": expected an integer",
        ),
        (
            "smtpd_forbid_bare_newline = sometimes\n",
            "main.cf, line 1: bad value for parameter smtpd_forbid_bare_newline: \"sometimes\": \
             expected one of: no, yes, normalize, reject",
        ),
        (
            "reject_tempfail_action = reject\n",
            "main.cf, line 1: bad value for parameter reject_tempfail_action: \"reject\": \
             expected one of: defer_if_permit, defer",
        ),
        (
            "smtpd_banner = $smtpd_banner x\n",
            "main.cf, line 1: bad value for parameter smtpd_banner: \"$smtpd_banner x\": \
             unreasonable macro call nesting: \"smtpd_banner\"",
        ),
        (
            "my_flag = maybe\nsmtpd_helo_required = $my_flag\n",
            "main.cf, line 2: bad value for parameter smtpd_helo_required: \"$my_flag\": expected yes or no",
        ),
    ];
    for (text, want) in cases {
        let err = Config::parse_main_cf(text, "main.cf").expect_err(text);
        assert_eq!(err.to_string(), want);
    }
    let err = Config::parse_main_cf("a = 1\nnot a setting\n", "/etc/postfix/main.cf")
        .expect_err("syntax");
    assert_eq!(
        err.to_string(),
        "/etc/postfix/main.cf, line 2: missing '=' after attribute name: \"not a setting\""
    );
}

#[test]
fn values_are_accepted_by_kind() {
    let c = cfg(
        "smtpd_forbid_bare_newline = reject\nsmtpd_helo_required = $my_yes\nmy_yes = yes\n\
         smtpd_timeout = 1m\nunknown_address_tempfail_action = defer\n",
    );
    assert_eq!(c.expanded("smtpd_forbid_bare_newline"), "reject");
    assert!(c.get(&params::SMTPD_HELO_REQUIRED));
    assert_eq!(c.get(&params::SMTPD_TIMEOUT), Duration::from_secs(60));
}

#[test]
fn unimplemented_and_user_defined_parameters() {
    let c = cfg("readme_directory = no\nsmtp_tls_cert_file = /etc/ssl/x.pem\n\
         my_restriction_class = reject_unauth_destination\nsmtpd_restriction_classes = my_restriction_class\n\
         readme_directory = no\n");
    assert_eq!(
        c.warnings(),
        [
            "readme_directory: parameter is not implemented by gatepost; ignored",
            "smtp_tls_cert_file: parameter is not implemented by gatepost; ignored",
        ]
    );
    assert_eq!(
        c.expanded("my_restriction_class"),
        "reject_unauth_destination"
    );
    assert_eq!(c.expanded("smtp_tls_cert_file"), "/etc/ssl/x.pem");
}

#[test]
fn overriding_earlier_entry_warns_when_values_differ() {
    let c = cfg("relayhost = [a.example]\nbiff = no\nrelayhost = [b.example]\nbiff = no\n");
    assert_eq!(
        c.warnings(),
        ["main.cf, line 3: overriding earlier entry: relayhost=[a.example]"]
    );
    assert_eq!(c.raw("relayhost"), Some("[b.example]"));
    assert_eq!(c.origin("relayhost"), Some(("main.cf".to_string(), 3)));
    assert_eq!(c.origin("biff"), Some(("main.cf".to_string(), 4)));
    assert_eq!(c.origin("smtpd_banner"), None);
}

#[test]
fn myhostname_and_mydomain_derive_from_each_other() {
    let c = cfg("mydomain = example.net\n");
    let host = c.expanded("myhostname");
    assert!(host.contains('.'), "{host}");
    if !system::system_hostname().contains('.') {
        assert_eq!(host, format!("{}.example.net", system::system_hostname()));
    }
    let c = cfg("myhostname = $mydomain\n");
    assert_eq!(c.expanded("mydomain"), "localdomain");
    assert_eq!(c.expanded("myhostname"), "localdomain");
    let c = cfg("myhostname = host.a.example\n");
    assert_eq!(c.expanded("mydomain"), "a.example");
}

#[test]
fn mynetworks_default_follows_style() {
    let interfaces = system::system_interfaces();
    let host = cfg("");
    assert_eq!(
        host.expanded("mynetworks"),
        system::mynetworks("host", interfaces)
    );
    let subnet = cfg("mynetworks_style = subnet\n");
    assert_eq!(
        subnet.expanded("mynetworks"),
        system::mynetworks("subnet", interfaces)
    );
    let set = cfg("mynetworks = 127.0.0.0/8\n");
    assert_eq!(set.expanded("mynetworks"), "127.0.0.0/8");
}

#[test]
fn embedded_defaults() {
    let c = Config::embedded();
    assert_eq!(c.source(), "embedded defaults");
    assert!(c.warnings().is_empty());
    c.validate().expect("embedded defaults are valid");
    assert_eq!(c.expanded("queue_directory"), "./var/spool");
    assert_eq!(c.expanded("mail_spool_directory"), "./var/mail/");
    assert_eq!(c.expanded("inet_interfaces"), "127.0.0.1");
    assert_eq!(c.expanded("mynetworks"), "127.0.0.1/32 [::1]/128");
    assert_eq!(c.expanded("local_recipient_maps"), "");
    assert_eq!(
        c.services(),
        [SmtpdService {
            name: "127.0.0.1:2525".into(),
            host: Some("127.0.0.1".into()),
            port: 2525,
            overrides: vec![],
            process_limit: None,
        }]
    );
    let n = postconf(&c, PostconfMode::NonDefault, &[], false).expect("postconf");
    assert_eq!(
        n,
        "alias_database =\n\
         alias_maps =\n\
         data_directory = ./var/lib\n\
         gatepost_sasl_passwd_file = ./gatepost.d/sasl_passwd\n\
         gatepost_tls_self_signed = yes\n\
         home_mailbox =\n\
         inet_interfaces = 127.0.0.1\n\
         local_mailbox_for_unknown_users = yes\n\
         local_recipient_maps =\n\
         mail_spool_directory = ./var/mail/\n\
         maillog_file =\n\
         mynetworks = 127.0.0.1/32 [::1]/128\n\
         queue_directory = ./var/spool\n\
         smtpd_tls_auth_only = yes\n\
         smtpd_tls_cert_file = $queue_directory/tls/cert.pem\n\
         smtpd_tls_key_file = $queue_directory/tls/key.pem\n\
         smtpd_tls_security_level = may\n"
    );
}

#[test]
fn with_overrides_copies_and_sets() {
    let base = cfg("smtpd_helo_required = no\n");
    let over = base.with_overrides(&[
        ("smtpd_helo_required".to_string(), "yes".to_string()),
        ("syslog_name".to_string(), "postfix/submission".to_string()),
    ]);
    assert!(over.get(&params::SMTPD_HELO_REQUIRED));
    assert_eq!(over.expanded("syslog_name"), "postfix/submission");
    assert!(!base.get(&params::SMTPD_HELO_REQUIRED));
    assert_eq!(over.origin("smtpd_helo_required"), None);
    over.validate().expect("valid");
}

#[test]
fn explicit_is_sorted_and_raw() {
    let c = cfg("zz = $myhostname\naa = 1\nmyhostname = h.example\n");
    assert_eq!(
        c.explicit(),
        [
            ("aa".to_string(), "1".to_string()),
            ("myhostname".to_string(), "h.example".to_string()),
            ("zz".to_string(), "$myhostname".to_string()),
        ]
    );
}

#[test]
fn expand_arbitrary_text() {
    let c = cfg("myhostname = h.example\n");
    assert_eq!(
        c.expand("$myhostname ESMTP ${mail_name}"),
        "h.example ESMTP Postfix"
    );
}

#[test]
fn values_below_postfix_minimums_are_refused() {
    for (text, name) in [
        ("smtpd_timeout = 0\n", "smtpd_timeout"),
        (
            "smtpd_policy_service_retry_delay = 0s\n",
            "smtpd_policy_service_retry_delay",
        ),
        ("smtpd_recipient_limit = 0\n", "smtpd_recipient_limit"),
    ] {
        let err = Config::parse_main_cf(text, "main.cf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("main.cf, line 1"), "{err}");
        assert!(err.contains(name) && err.contains("min 1"), "{err}");
    }
    assert!(Config::parse_main_cf(
        "smtpd_timeout = 1s\nsmtpd_error_sleep_time = 0\n",
        "main.cf"
    )
    .is_ok());
}

#[test]
fn handle_ranges_are_enforced_at_load() {
    for (text, why) in [
        ("line_length_limit = 511\n", "min 512"),
        ("hopcount_limit = 0\n", "min 1"),
        ("myhostname =\n", "min 1"),
        ("smtpd_forbid_bare_newline_reject_code = 399\n", "min 400"),
        ("smtpd_forbid_bare_newline_reject_code = 600\n", "max 599"),
        ("dns_query_attempts = 6\n", "max 5"),
        ("message_size_limit = -1\n", "size"),
        ("smtpd_soft_error_limit = -1\n", "min"),
        ("deliver_lock_attempts = 0\n", "min 1"),
    ] {
        let err = Config::parse_main_cf(text, "main.cf")
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{text}: {err}");
    }
    let c = cfg("line_length_limit = 512\ndns_query_attempts = 5\n");
    assert_eq!(c.get(&params::LINE_LENGTH_LIMIT), 512);
    assert_eq!(c.get(&params::DNS_QUERY_ATTEMPTS), 5);
}

#[test]
fn honoured_parameters_have_postfix_defaults() {
    let c = cfg("");
    assert_eq!(
        c.get(&params::COMMAND_TIME_LIMIT),
        Duration::from_secs(1000)
    );
    assert_eq!(c.get(&params::DEFAULT_PRIVS), "nobody");
    assert_eq!(c.get(&params::DELIVER_LOCK_ATTEMPTS), 20);
    assert_eq!(c.get(&params::DELIVER_LOCK_DELAY), Duration::from_secs(1));
    assert_eq!(c.get(&params::STALE_LOCK_TIME), Duration::from_secs(500));
    assert_eq!(c.get(&params::VIRTUAL_ALIAS_RECURSION_LIMIT), 1000);
    assert_eq!(c.get(&params::VIRTUAL_ALIAS_EXPANSION_LIMIT), 1000);
    assert_eq!(c.get(&params::VIRTUAL_MAILBOX_LIMIT), 51_200_000);
    assert_eq!(
        c.get(&params::PREPEND_DELIVERED_HEADER),
        ["command", "file", "forward"]
    );
    assert!(c.get(&params::RBL_REPLY_MAPS).is_empty());
    assert!(c
        .raw_value(&params::DEFAULT_RBL_REPLY)
        .starts_with("$rbl_code Service unavailable"));
    let warned = cfg("command_time_limit = 10s\nvirtual_uid_maps = static:5000\n");
    assert!(warned.warnings().is_empty(), "{:?}", warned.warnings());
}
