//! The Prometheus endpoint of the real server: started with
//! `gatepost_metrics_listen` on an ephemeral loopback port, a known mix of
//! sessions (mail accepted and delivered, a relay attempt, a rejected
//! sender, a failed AUTH, two sender-domain DNS lookups of which the second
//! comes from the cache), then one scrape over a real socket whose counts
//! are checked exactly.

use std::net::SocketAddr;

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::metrics::{metrics_addr, scrape};
use gatepost_testkit::server::run_gatepost;
use gatepost_testkit::{gatepost_bin, Client, ConfigDir, EVENT_TIMEOUT};

fn session(from: &str, srv: SocketAddr, commands: &[(&str, u16)]) {
    let mut c = Client::connect_from(from, srv).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    for (line, code) in commands {
        let reply = c.command(line).unwrap();
        assert_eq!(reply.code, *code, "{line}: {}", reply.full());
    }
}

#[test]
fn scrape_after_a_known_session_mix() {
    let mut zones = Zones::new();
    zones.mx("sender.example", 10, "mx.sender.example");
    zones.a("mx.sender.example", "192.0.2.25");
    let dns = DnsServer::start(zones).unwrap();
    let config = ConfigDir::new().unwrap();
    let passwd = config.file("sasl_passwd", "").unwrap();
    let config = config
        .main_cf(&format!(
            "{}gatepost_metrics_listen = 127.0.0.1:0\n\
             smtpd_sasl_auth_enable = yes\n\
             smtpd_tls_auth_only = no\n\
             gatepost_sasl_passwd_file = {}\n\
             smtpd_sender_restrictions = check_sender_access inline:{{spam@bad.example=REJECT}}, reject_unknown_sender_domain\n",
            dns.main_cf(),
            passwd.display()
        ))
        .unwrap();
    let srv = config.start(gatepost_bin!()).unwrap();
    assert!(srv.wait_for_log("metrics at http://", EVENT_TIMEOUT));
    let metrics = metrics_addr(&srv.log());

    // Accepted and delivered (MX sender.example asked of the DNS server).
    let mut c = Client::connect(srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    for line in [
        "EHLO client.test",
        "MAIL FROM:<a@sender.example>",
        "RCPT TO:<alice@spec.test>",
    ] {
        assert_eq!(c.command(line).unwrap().code, 250, "{line}");
    }
    assert_eq!(
        c.send_message("Subject: hi\r\n\r\nhello\r\n").unwrap().code,
        250
    );
    assert_eq!(c.command("QUIT").unwrap().code, 221);
    assert_eq!(srv.wait_for_mail("alice", 1, EVENT_TIMEOUT).len(), 1);
    assert!(srv.wait_for_log(": removed", EVENT_TIMEOUT));
    // A relay attempt from outside mynetworks (MX sender.example from the cache).
    session(
        "127.0.0.2",
        srv.addr,
        &[
            ("EHLO outside.test", 250),
            ("MAIL FROM:<b@sender.example>", 250),
            ("RCPT TO:<victim@far.example>", 454),
            ("QUIT", 221),
        ],
    );
    // A rejected sender (refused before any DNS lookup).
    session(
        "127.0.0.2",
        srv.addr,
        &[
            ("EHLO outside.test", 250),
            ("MAIL FROM:<spam@bad.example>", 250),
            ("RCPT TO:<bob@spec.test>", 554),
            ("QUIT", 221),
        ],
    );
    // A failed AUTH ("nobody" / "wrong").
    session(
        "127.0.0.2",
        srv.addr,
        &[
            ("EHLO outside.test", 250),
            ("AUTH PLAIN AG5vYm9keQB3cm9uZw==", 535),
            ("QUIT", 221),
        ],
    );

    let response = scrape(metrics, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text"),
        "{head}"
    );
    let expected = [
        "gatepost_smtpd_connections_total{service=\"127.0.0.1:0\"} 4",
        "gatepost_smtpd_commands_total{verb=\"ehlo\"} 4",
        "gatepost_smtpd_commands_total{verb=\"mail\"} 3",
        "gatepost_smtpd_commands_total{verb=\"rcpt\"} 3",
        "gatepost_smtpd_commands_total{verb=\"data\"} 1",
        "gatepost_smtpd_commands_total{verb=\"auth\"} 1",
        "gatepost_smtpd_commands_total{verb=\"quit\"} 4",
        "gatepost_smtpd_rejects_total{restriction=\"defer_unauth_destination\",stage=\"RCPT\"} 1",
        "gatepost_smtpd_rejects_total{restriction=\"check_sender_access\",stage=\"RCPT\"} 1",
        "gatepost_smtpd_relay_denials_total 1",
        "gatepost_smtpd_auth_failures_total{mechanism=\"PLAIN\"} 1",
        "gatepost_deliveries_total{status=\"sent\",transport=\"local\"} 1",
        "gatepost_dns_lookups_total{rtype=\"MX\"} 2",
        "gatepost_dns_cache_hits_total{rtype=\"MX\"} 1",
        "gatepost_queue_messages{queue=\"incoming\"} 0",
        "gatepost_queue_messages{queue=\"active\"} 0",
        "gatepost_queue_messages{queue=\"deferred\"} 0",
        "gatepost_queue_messages{queue=\"hold\"} 0",
        "gatepost_queue_messages{queue=\"maildrop\"} 0",
    ];
    for line in expected {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
    // Nothing counted that the mix did not do.
    let samples: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("gatepost_") && !l.starts_with("gatepost_queue_messages"))
        .collect();
    assert_eq!(samples.len(), expected.len() - 5, "{body}");
    assert!(body.ends_with("# EOF\n"));

    let head = scrape(metrics, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let missing = scrape(metrics, "GET / HTTP/1.1\r\n\r\n");
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );
}

#[test]
fn a_non_loopback_address_is_refused() {
    let config = ConfigDir::new()
        .unwrap()
        .main_cf("gatepost_metrics_listen = 0.0.0.0:0\n")
        .unwrap();
    // The log is maillog_file; stderr says it too.
    let (code, stderr) = run_gatepost(gatepost_bin!(), config.path(), &["serve"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("gatepost_metrics_listen = 0.0.0.0:0: not a loopback address; set gatepost_metrics_allow_remote = yes"),
        "{stderr}"
    );
}

#[test]
fn reload_keeps_the_endpoint_and_refuses_a_remote_address() {
    let srv = ConfigDir::new()
        .unwrap()
        .main_cf("gatepost_metrics_listen = 127.0.0.1:0\n")
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    assert!(srv.wait_for_log("metrics at http://", EVENT_TIMEOUT));
    let metrics = metrics_addr(&srv.log());
    srv.edit_main_cf(
        "gatepost_metrics_listen = 127.0.0.1:0",
        "gatepost_metrics_listen = 0.0.0.0:0",
    );
    let (code, stderr) = run_gatepost(gatepost_bin!(), srv.path(), &["reload"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        srv.wait_for_log(
            "not a loopback address; set gatepost_metrics_allow_remote = yes to serve metrics to other hosts; keeping the current configuration",
            EVENT_TIMEOUT
        ),
        "{}",
        srv.log()
    );
    let response = scrape(metrics, "GET /metrics HTTP/1.1\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
}
