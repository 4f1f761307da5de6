//! A real Postfix main.cf (Debian's stock file plus the anti-relay block)
//! loads and the server starts; `postconf` prints `-n`, `-d`, `-h` and named
//! parameters in Postfix's format.

use std::process::Command;

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, run_session, steps, ConfigDir, TestServer, OPERATOR_BLOCK};

const DEBIAN_MAIN_CF: &str = r#"
# See /usr/share/postfix/main.cf.dist for a commented, more complete version

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

command_directory = /usr/sbin
setgid_group = postdrop

smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
mailbox_size_limit = 0
recipient_delimiter = +
inet_protocols = all
"#;

#[test]
fn debian_main_cf_with_unimplemented_parameters_starts() {
    let mut zones = Zones::new();
    zones.a("localhost", "127.0.0.1");
    let dns = DnsServer::start(zones).unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!("{DEBIAN_MAIN_CF}{OPERATOR_BLOCK}{}", dns.main_cf()),
    )
    .expect("server starts with a stock main.cf");
    // The anti-relay block is in force: a client outside mynetworks is refused.
    let script = steps(&[
        ("", "220 mx.spec.test ESMTP Postfix (Debian/GNU)"),
        ("EHLO c.example", "250 "),
        ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
        (
            "RCPT TO:<bob@spec.test>",
            "554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied",
        ),
    ]);
    run_session(&srv, "127.0.0.2", &script).unwrap();
    // ... and the local host may send.
    let script = steps(&[
        ("", "220 "),
        ("EHLO localhost", "250 "),
        ("MAIL FROM:<a@spec.test>", "250 2.1.0 Ok"),
        ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
    ]);
    run_session(&srv, "127.0.0.1", &script).unwrap();
}

fn postconf(dir: &std::path::Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(dir)
        .arg("postconf")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn postconf_n_d_h_and_names() {
    let dir = ConfigDir::with_main_cf(
        "myhostname = mx.spec.test\nrelay_domains = relay.test\n# comment\nsmtpd_helo_required = yes\nmynetworks = 127.0.0.0/8,\n    [::1]/128\n",
    )
    .unwrap();
    let (out, _, ok) = postconf(dir.path(), &["-n"]);
    assert!(ok);
    assert_eq!(
        out,
        "myhostname = mx.spec.test\nmynetworks = 127.0.0.0/8,    [::1]/128\nrelay_domains = relay.test\nsmtpd_helo_required = yes\n"
    );
    let (out, _, _) = postconf(
        dir.path(),
        &[
            "-d",
            "smtpd_relay_restrictions",
            "relay_domains_reject_code",
            "smtpd_forbid_bare_newline",
            "smtpd_forbid_unauth_pipelining",
        ],
    );
    assert_eq!(
        out,
        // As Postfix 3.7 prints it: the default depends on compatibility_level.
        "smtpd_relay_restrictions = ${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}\nrelay_domains_reject_code = 554\nsmtpd_forbid_bare_newline = normalize\nsmtpd_forbid_unauth_pipelining = yes\n"
    );
    let (out, _, _) = postconf(dir.path(), &["-h", "myhostname"]);
    assert_eq!(out, "mx.spec.test\n");
    let (out, _, _) = postconf(dir.path(), &["mydestination"]);
    assert_eq!(
        out,
        "mydestination = $myhostname, localhost.$mydomain, localhost\n"
    );
}

#[test]
fn malformed_value_is_reported_with_file_and_line() {
    let dir = ConfigDir::with_main_cf("# x\nsmtpd_helo_required = yess\n").unwrap();
    let (_, err, ok) = postconf(dir.path(), &["-n"]);
    assert!(!ok);
    assert!(err.contains("main.cf, line 2"), "{err}");
    assert!(err.contains("smtpd_helo_required"), "{err}");
}
