//! The operator tools against the real server over loopback sockets:
//! `relay-audit` finds no relay in a closed configuration and finds
//! relaying in an open one (exit status 0 and 1, table and JSON), and
//! `log-report` counts a log that a real server run wrote.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gatepost_testkit::{Client, TestServer};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_gatepost"))
}

fn gatepost(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run gatepost")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The probe connects from 127.0.0.1; trusting only 127.0.0.2 leaves it a stranger.
const CLOSED: &str = "mynetworks = 127.0.0.2/32\n";

#[test]
fn relay_audit_finds_no_relay_in_a_closed_server() {
    let srv = TestServer::start(bin(), CLOSED).unwrap();
    let target = srv.addr.to_string();
    let out = gatepost(&["relay-audit", &target, "--timeout", "10"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}\n{}", srv.log());
    assert!(
        table.contains("greeting: 220 mx.spec.test ESMTP"),
        "{table}"
    );
    assert!(table.contains("mx.spec.test"), "{table}");
    assert!(
        table.contains("<@[127.0.0.1]:relay-audit@relay-test.example>"),
        "{table}"
    );
    // More tries than smtpd_hard_error_limit (20) allows on one
    // connection: the probe reconnects, so every try gets a verdict.
    assert!(table.contains(" 0 relayed,"), "{table}");
    assert!(table.contains(" 0 errors"), "{table}");
    assert!(!table.contains("RELAYED"), "{table}");

    let out = gatepost(&[
        "relay-audit",
        &target,
        "--json",
        "--to-domain",
        "far.example",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["relayed"], 0);
    let tries = doc["tries"].as_array().unwrap();
    assert!(tries.len() >= 30, "{} tries", tries.len());
    let plain = tries
        .iter()
        .find(|t| t["recipient"] == "relay-audit@far.example" && t["sender"] == "")
        .expect("plain form with null sender");
    assert_eq!(plain["verdict"], "refused");
    assert!(
        plain["rcpt_reply"]
            .as_str()
            .unwrap()
            .contains("Relay access denied"),
        "{plain}"
    );
    // Postfix's default smtpd_relay_restrictions end in defer_unauth_destination (454).
    assert!(srv.log().contains(
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 454 4.7.1 <relay-audit@far.example>: Relay access denied"
    ));
}

#[test]
fn relay_audit_reports_an_open_relay() {
    // `smtpd_relay_restrictions = permit` is refused at startup, as by
    // Postfix; trusting every network opens the relay all the same
    // (which serve refuses without the override).
    let srv = TestServer::start(
        bin(),
        "mynetworks = 0.0.0.0/0\ngatepost_allow_open_relay = yes\n",
    )
    .unwrap();
    let target = srv.addr.to_string();
    let out = gatepost(&[
        "relay-audit",
        &target,
        "--json",
        "--from",
        "probe@outside.example",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc = json(&out);
    let tries = doc["tries"].as_array().unwrap();
    let relayed = doc["relayed"].as_u64().unwrap();
    assert!(relayed > 0);
    let plain = tries
        .iter()
        .find(|t| {
            t["recipient"] == "relay-audit@relay-test.example"
                && t["sender"] == "probe@outside.example"
        })
        .expect("plain form");
    assert_eq!(plain["verdict"], "relayed", "{plain}");
    assert!(tries.iter().any(|t| t["sender"] == ""));
}

#[test]
fn relay_audit_send_delivers_a_test_message_for_accepted_recipients() {
    let srv = TestServer::start(bin(), "mynetworks = 127.0.0.0/8\n").unwrap();
    let out = gatepost(&["relay-audit", &srv.addr.to_string(), "--send", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    let sent: Vec<&str> = doc["tries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["data_reply"].as_str())
        .collect();
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|r| r.starts_with("250 2.0.0 Ok: queued as ")),
        "{sent:?}"
    );
}

#[test]
fn relay_audit_exit_status_2_when_nothing_listens() {
    let srv = TestServer::start(bin(), "").unwrap();
    let addr = srv.addr.to_string();
    drop(srv);
    let out = gatepost(&["relay-audit", &addr, "--timeout", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("relay-audit"));
}

#[test]
fn log_report_counts_a_real_server_log() {
    let srv = TestServer::start(bin(), "").unwrap();
    // Accepted and delivered locally.
    let mut c = Client::connect_from("127.0.0.1", srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.example").unwrap();
    assert_eq!(
        c.command("MAIL FROM:<alice@example.org>").unwrap().code,
        250
    );
    assert_eq!(c.command("RCPT TO:<bob@spec.test>").unwrap().code, 250);
    assert_eq!(c.send_message("Subject: hi\n\nhello").unwrap().code, 250);
    c.command("QUIT").unwrap();
    // A stranger trying to relay.
    let mut s = Client::connect_from("127.0.0.2", srv.addr).unwrap();
    s.read_reply().unwrap();
    s.command("EHLO spammer.example").unwrap();
    assert_eq!(
        s.command("MAIL FROM:<x@spammer.example>").unwrap().code,
        250
    );
    assert_eq!(s.command("RCPT TO:<victim@far.example>").unwrap().code, 454);
    s.command("QUIT").unwrap();
    assert!(
        srv.wait_for_log("status=sent", Duration::from_secs(10)),
        "{}",
        srv.log()
    );
    assert!(srv.wait_for_log("disconnect from unknown[127.0.0.2]", Duration::from_secs(5)));

    let log = srv.path().join("maillog");
    let html = srv.path().join("report.html");
    let out = gatepost(&[
        "log-report",
        "--json",
        "--html",
        html.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    let t = &r["totals"];
    assert_eq!(t["received"], 1, "{r}\n{}", srv.log());
    assert_eq!(t["delivered"], 1);
    assert_eq!(t["rejected"], 1);
    assert_eq!(t["connections"], 2);
    assert_eq!(r["unparsed"], 0);
    assert_eq!(r["abuse"]["relay_deferred"], 1);
    assert_eq!(
        r["abuse"]["relay_by_client"][0]["key"],
        "unknown[127.0.0.2]"
    );
    assert_eq!(r["abuse"]["relay_by_domain"][0]["key"], "far.example");
    assert_eq!(r["delivered_by_domain"][0]["key"], "spec.test");

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"));
    assert!(page.contains("far.example"));
    assert!(
        !page.contains("src=") && !page.contains("href="),
        "nothing to fetch"
    );

    let text = gatepost(&["log-report", log.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Relay access denied"), "{text}");
}

#[test]
fn log_report_reads_stdin_when_no_file_is_named() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../insight/tests/fixtures/postfix-3.7-maillog");
    let log = std::fs::read(fixture).unwrap();
    let mut child = Command::new(bin())
        .args(["log-report", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r = json(&out);
    assert_eq!(r["totals"]["received"], 41);
    assert_eq!(r["totals"]["rejected"], 77);
}
