//! Loading whole configuration directories: a realistic Debian `main.cf`,
//! `master.cf` services, layering over the embedded defaults.

use gatepost_config::params;
use gatepost_config::{postconf, Config, ConfigError, PostconfMode, SmtpdService};
use std::time::Duration;

const DEBIAN_MAIN_CF: &str = r#"# See /usr/share/postfix/main.cf.dist for a commented, more complete version


# Debian specific:  Specifying a file name will cause the first
# line of that file to be used as the name.  The Debian default
# is /etc/mailname.
#myorigin = /etc/mailname

smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no

# appending .domain is the MUA's job.
append_dot_mydomain = no

# Uncomment the next line to generate "delayed mail" warnings
#delay_warning_time = 4h

readme_directory = no

# See http://www.postfix.org/COMPATIBILITY_README.html -- default to 3.6 on
# fresh installs.
compatibility_level = 3.6



# TLS parameters
smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level=may

smtp_tls_CApath=/etc/ssl/certs
smtp_tls_security_level=may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache


smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = mail.example.org
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
myorigin = /etc/mailname
mydestination = $myhostname, example.org, mail.example.org, localhost.example.org, localhost
relayhost = 
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
"#;

const DEBIAN_MASTER_CF: &str = "\
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
#submission inet n       -       y       -       -       smtpd
#  -o syslog_name=postfix/submission
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
";

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

#[test]
fn debian_main_cf_loads_with_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.cf", DEBIAN_MAIN_CF);
    write(dir.path(), "master.cf", DEBIAN_MASTER_CF);
    let cfg = Config::load_dir(dir.path()).expect("Debian main.cf loads");
    let main_cf = dir.path().join("main.cf").display().to_string();
    let master_cf = dir.path().join("master.cf").display().to_string();
    assert_eq!(cfg.source(), main_cf);

    let warnings = cfg.warnings();
    for name in ["readme_directory", "smtp_tls_session_cache_database"] {
        let want = format!("{name}: parameter is not implemented by gatepost; ignored");
        assert!(warnings.contains(&want), "missing {want:?} in {warnings:?}");
    }
    assert!(warnings.contains(&format!(
        "{master_cf}, line 5: service pickup/unix (command pickup) is not implemented by gatepost; ignored"
    )));
    assert!(!warnings.iter().any(|w| w.contains("overriding")));

    assert_eq!(
        cfg.get(&params::SMTPD_BANNER),
        "mail.example.org ESMTP Postfix (Debian/GNU)"
    );
    assert!(!cfg.get(&params::BIFF));
    assert!(!cfg.get(&params::APPEND_DOT_MYDOMAIN));
    assert_eq!(cfg.get(&params::MYDOMAIN), "example.org");
    assert_eq!(cfg.get(&params::RELAYHOST), "");
    assert_eq!(
        cfg.get(&params::MYNETWORKS),
        ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]
    );
    assert_eq!(
        cfg.get(&params::MYDESTINATION),
        [
            "mail.example.org",
            "example.org",
            "mail.example.org",
            "localhost.example.org",
            "localhost"
        ]
    );
    assert_eq!(cfg.get(&params::RECIPIENT_DELIMITER), "+");
    assert_eq!(cfg.get(&params::MAILBOX_SIZE_LIMIT), 0);
    assert_eq!(
        cfg.expanded("smtp_tls_session_cache_database"),
        "btree:/var/lib/postfix/smtp_scache"
    );
    assert_eq!(cfg.origin("biff"), Some((main_cf.clone(), 10)));
    assert_eq!(cfg.services(), [SmtpdService::postfix_default()]);
    assert_eq!(cfg.get(&params::SMTPD_TIMEOUT), Duration::from_secs(300));

    let n = postconf(&cfg, PostconfMode::NonDefault, &[], false).expect("postconf -n");
    assert!(n.starts_with("alias_database = hash:/etc/aliases\nalias_maps = hash:/etc/aliases\n"));
    assert!(n.contains("\nrelayhost =\n"));
    assert!(n.contains("\nsmtpd_tls_security_level = may\n"));
    assert_eq!(n.lines().count(), 23);
}

#[test]
fn load_dir_without_master_cf_uses_postfix_default_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.cf", "myhostname = h.example\n");
    let cfg = Config::load_dir(dir.path()).expect("loads");
    assert_eq!(
        cfg.services(),
        [SmtpdService {
            name: "smtp".into(),
            host: None,
            port: 25,
            overrides: vec![],
            process_limit: None,
        }]
    );
    assert!(cfg.warnings().is_empty());
}

#[test]
fn load_dir_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Config::load_dir(dir.path()).expect_err("no main.cf");
    assert!(matches!(err, ConfigError::Io { .. }), "{err}");

    write(dir.path(), "main.cf", "smtpd_helo_required = yess\n");
    let err = Config::load_dir(dir.path()).expect_err("bad value");
    let main_cf = dir.path().join("main.cf").display().to_string();
    assert_eq!(
        err.to_string(),
        format!("{main_cf}, line 1: bad value for parameter smtpd_helo_required: \"yess\": expected yes or no")
    );

    write(dir.path(), "main.cf", "\n");
    write(dir.path(), "master.cf", "smtp inet n - y - - smtpd -o\n");
    let err = Config::load_dir(dir.path()).expect_err("bad master.cf");
    assert!(err
        .to_string()
        .ends_with("master.cf, line 1: -o option requires an argument"));
}

#[test]
fn master_cf_overrides_apply_per_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.cf", "smtpd_helo_required = no\n");
    write(
        dir.path(),
        "master.cf",
        "127.0.0.1:2525 inet n - n - - smtpd\n\
         127.0.0.1:2587 inet n - n - - smtpd\n  -o smtpd_helo_required=yes\n  -o { smtpd_recipient_restrictions = permit_mynetworks, reject }\n",
    );
    let cfg = Config::load_dir(dir.path()).expect("loads");
    let services = cfg.services();
    assert_eq!(services.len(), 2);
    assert_eq!(services[1].port, 2587);
    assert_eq!(services[1].host.as_deref(), Some("127.0.0.1"));
    let per_service = cfg.with_overrides(&services[1].overrides);
    assert!(per_service.get(&params::SMTPD_HELO_REQUIRED));
    assert_eq!(
        per_service.get(&params::SMTPD_RECIPIENT_RESTRICTIONS),
        ["permit_mynetworks", "reject"]
    );
    assert!(!cfg
        .with_overrides(&services[0].overrides)
        .get(&params::SMTPD_HELO_REQUIRED));
}

#[test]
fn layered_over_embedded_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config::load_layered(dir.path()).expect("empty dir");
    assert_eq!(cfg.source(), "embedded defaults");
    assert_eq!(cfg.services(), Config::embedded().services());

    write(
        dir.path(),
        "main.cf",
        "inet_interfaces = 127.0.0.2\nmyhostname = t.example\n",
    );
    let cfg = Config::load_layered(dir.path()).expect("layered");
    let main_cf = dir.path().join("main.cf").display().to_string();
    assert_eq!(cfg.source(), format!("embedded defaults + {main_cf}"));
    assert_eq!(cfg.expanded("inet_interfaces"), "127.0.0.2");
    assert_eq!(cfg.get(&params::QUEUE_DIRECTORY), "./var/spool");
    assert_eq!(cfg.origin("inet_interfaces"), Some((main_cf, 1)));
    assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());

    write(
        dir.path(),
        "master.cf",
        "127.0.0.2:2526 inet n - n - - smtpd\n",
    );
    let cfg = Config::load_layered(dir.path()).expect("layered");
    assert_eq!(cfg.services()[0].port, 2526);
}
