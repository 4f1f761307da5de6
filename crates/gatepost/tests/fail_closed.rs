//! Safe to run in place of Postfix: `serve` refuses a configuration that
//! asks for a feature gatepost lacks when ignoring it would weaken security
//! or filtering (here `smtpd_proxy_filter`), naming file and line, unless
//! `gatepost_accept_unimplemented` names the parameter (then it warns at
//! every start); a reload to such a configuration keeps the old one; an
//! unknown parameter gets Postfix's `unused parameter` warning.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use gatepost_testkit::{gatepost_bin, wait_until, Client, ConfigDir, EVENT_TIMEOUT};

/// A before-queue content filter, which gatepost lacks.
const FILTER: &str = "smtpd_proxy_filter = 127.0.0.1:10025";
const ACCEPTED: &str = "running anyway as gatepost_accept_unimplemented allows";

/// `gatepost -c DIR ARGS` run to its end (killed, and the test failed,
/// when it is still running after the event timeout).
fn gatepost(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatepost");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > EVENT_TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "gatepost {args:?} still running: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// The 1-based line of main.cf in `dir` that starts with `prefix`.
fn line_of(dir: &Path, prefix: &str) -> usize {
    let text = std::fs::read_to_string(dir.join("main.cf")).expect("main.cf");
    text.lines()
        .position(|line| line.starts_with(prefix))
        .expect("line in main.cf")
        + 1
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("maillog")).unwrap_or_default()
}

#[test]
fn serve_refuses_a_content_filter_naming_file_and_line() {
    let config = ConfigDir::new().unwrap().main_cf(FILTER).unwrap();
    let dir = config.path();
    let out = gatepost(dir, &["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let want = format!(
        "gatepost: fatal: {}, line {}: {FILTER}: not implemented by gatepost: mail would pass unfiltered; \
         refusing to run without it (name it in gatepost_accept_unimplemented to run anyway)",
        dir.join("main.cf").display(),
        line_of(dir, "smtpd_proxy_filter")
    );
    assert!(stderr.lines().any(|l| l == want), "{stderr}");
    let log = log_of(dir);
    assert!(
        log.contains("postfix/master[") && log.contains(&want["gatepost: ".len()..]),
        "{log}"
    );
    assert!(!log.contains("daemon started"), "{log}");
}

#[test]
fn accepting_the_risk_by_name_starts_with_a_warning_at_every_start() {
    let srv = ConfigDir::new()
        .unwrap()
        .main_cf(&format!(
            "{FILTER}\ngatepost_accept_unimplemented = smtpd_proxy_filter"
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let warning = format!(
        "warning: {}, line {}: {FILTER}: not implemented by gatepost: mail would pass unfiltered; {ACCEPTED}",
        srv.path().join("main.cf").display(),
        line_of(srv.path(), "smtpd_proxy_filter")
    );
    assert!(srv.wait_for_log(&warning, EVENT_TIMEOUT), "{}", srv.log());
    let mut client = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    assert_eq!(client.read_reply().unwrap().code, 220);
    client.command("QUIT").unwrap();

    let srv = srv.restart().unwrap();
    wait_until("the warning logged at the second start too", || {
        srv.log().matches(&warning).count() == 2
    });
}

#[test]
fn an_unknown_parameter_is_reported_as_unused() {
    let srv = ConfigDir::new()
        .unwrap()
        .main_cf("smtpd_recipient_limt = 10\ntrusted_networks = 127.0.0.0/8\nmynetworks = $trusted_networks")
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let unused = format!(
        "warning: {}: unused parameter: smtpd_recipient_limt=10",
        srv.path().join("main.cf").display()
    );
    assert!(srv.wait_for_log(&unused, EVENT_TIMEOUT), "{}", srv.log());
    assert_eq!(
        srv.log().matches("unused parameter").count(),
        1,
        "{}",
        srv.log()
    );
}

#[test]
fn reload_to_a_refused_configuration_keeps_the_old_one() {
    let srv = ConfigDir::new().unwrap().start(gatepost_bin!()).unwrap();
    let main_cf = srv.path().join("main.cf");
    let mut text = std::fs::read_to_string(&main_cf).unwrap();
    text.push_str("smtp_header_checks = regexp:/etc/postfix/header_checks\n");
    std::fs::write(&main_cf, text).unwrap();
    let out = gatepost(srv.path(), &["reload"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let want = format!(
        "{}, line {}: smtp_header_checks = regexp:/etc/postfix/header_checks: not implemented by gatepost",
        main_cf.display(),
        line_of(srv.path(), "smtp_header_checks")
    );
    wait_until("the refused reload logged", || {
        srv.log()
            .lines()
            .any(|l| l.contains(&want) && l.ends_with("keeping the current configuration"))
    });
    let mut client = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    assert_eq!(client.read_reply().unwrap().code, 220);
    client.command("QUIT").unwrap();
}
