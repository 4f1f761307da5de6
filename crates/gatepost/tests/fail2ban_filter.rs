//! Debian's fail2ban `postfix` filter reads gatepost's log as it reads
//! Postfix's: `fail2ban-regex LOG /etc/fail2ban/filter.d/postfix.conf`
//! matches every reject line of a real run, and the filter's
//! `[mode=auth]` every SASL authentication failure line. Skipped, saying
//! so, when fail2ban is not installed (`.ci/run` installs it).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use gatepost_testkit::{config_dir::edit_main_cf, gatepost_bin, wait_until, Client, ConfigDir};

const FILTER: &str = "/etc/fail2ban/filter.d/postfix.conf";

/// `fail2ban-regex LOG FILTER`: the number of matched lines.
fn matched(log: &Path, filter: &str) -> usize {
    let out = Command::new("fail2ban-regex")
        .arg(log)
        .arg(filter)
        .output()
        .expect("run fail2ban-regex");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("Lines: "))
        .unwrap_or_else(|| panic!("no summary from fail2ban-regex:\n{text}"));
    // "Lines: 12 lines, 0 ignored, 2 matched, 10 missed"
    line.split(", ")
        .find_map(|part| part.strip_suffix(" matched"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("unreadable summary: {line}"))
}

#[test]
fn postfix_filter_matches_rejects_and_sasl_failures() {
    if Command::new("fail2ban-regex")
        .arg("--version")
        .output()
        .is_err()
        || !Path::new(FILTER).exists()
    {
        eprintln!("fail2ban is not installed: skipping the fail2ban filter test");
        return;
    }
    let config = ConfigDir::new().unwrap();
    // Loopback clients are outside mynetworks: relaying is refused.
    edit_main_cf(
        config.path(),
        "mynetworks = 127.0.0.1/32",
        "mynetworks = 127.0.0.9/32",
    );
    let lines = format!(
        "smtpd_sasl_auth_enable = yes\ngatepost_sasl_passwd_file = {}/sasl_passwd\n",
        config.path().display()
    );
    let srv = config
        .main_cf(&lines)
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let mut add = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(["saslpasswd", "add", "alice"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "s3cret").unwrap();
    assert!(add.wait().unwrap().success());

    // Two relay attempts...
    for (ip, rcpt) in [
        ("127.0.0.2", "x@elsewhere.example"),
        ("127.0.0.3", "y@elsewhere.example"),
    ] {
        let mut c = Client::connect_from(ip, srv.addr).unwrap();
        c.read_reply().unwrap();
        c.command("EHLO client.example").unwrap();
        c.command("MAIL FROM:<a@example.org>").unwrap();
        let r = c.command(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert!(r.last_line().ends_with("Relay access denied"), "{r:?}");
        c.command("QUIT").unwrap();
    }
    // ... and two failed logins.
    for ip in ["127.0.0.4", "127.0.0.5"] {
        let mut c = Client::connect_from(ip, srv.addr).unwrap();
        c.read_reply().unwrap();
        c.command("EHLO client.example").unwrap();
        // "\0alice\0wrong"
        let r = c.command("AUTH PLAIN AGFsaWNlAHdyb25n").unwrap();
        assert_eq!(r.code, 535, "{r:?}");
        c.command("QUIT").unwrap();
    }
    wait_until("two SASL failures logged", || {
        srv.log().matches("authentication failed").count() == 2
    });
    let log = srv.path().join("maillog");
    let text = srv.log();
    let rejects = text.lines().filter(|l| l.contains(": reject: ")).count();
    let failures = text
        .lines()
        .filter(|l| l.contains("authentication failed"))
        .count();
    assert_eq!((rejects, failures), (2, 2), "{text}");
    assert_eq!(matched(&log, FILTER), rejects, "reject lines:\n{text}");
    assert_eq!(
        matched(&log, &format!("{FILTER}[mode=auth]")),
        failures,
        "SASL lines:\n{text}"
    );
}
