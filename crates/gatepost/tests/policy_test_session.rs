//! `gatepost policy-test` reading as the session really runs: restrictions
//! postponed by `smtpd_delay_reject = yes` (and where they apply), applied
//! at their own stage with `= no`, `smtpd_helo_required`, the DNS
//! questions in the trace (from the test DNS server, or from `--fact` with
//! `--no-dns`), and `--client` with `--script`.

use gatepost_testkit::dns_server::{DnsServer, Zones};
use gatepost_testkit::{gatepost_bin, ConfigDir};

const BASE: &str = "myhostname = mx.spec.test\nmydestination = $myhostname, localhost, spec.test\nmynetworks = 127.0.0.1/32\nlocal_recipient_maps =\n";

/// Run `policy-test ARGS` on `main_cf`: exit status and standard output.
fn policy_test(main_cf: &str, args: &[&str]) -> (i32, String) {
    let dir = ConfigDir::with_main_cf(&format!("{BASE}{main_cf}")).unwrap();
    let out = std::process::Command::new(gatepost_bin!())
        .arg("-c")
        .arg(dir.path())
        .arg("policy-test")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.code().is_some(), "{text}");
    (out.status.code().unwrap_or(-1), text)
}

fn assert_has(text: &str, wanted: &[&str]) {
    for line in wanted {
        assert!(
            text.lines().any(|l| l == *line),
            "missing {line:?} in\n{text}"
        );
    }
}

const SESSION: [&str; 10] = [
    "--client",
    "192.0.2.9",
    "--client-name",
    "mail.client.example",
    "--helo",
    "mail.client.example",
    "--sender",
    "a@spec.test",
    "--recipient",
    "b@spec.test",
];

#[test]
fn delay_reject_postpones_the_client_check_to_rcpt() {
    let (code, text) = policy_test(
        "smtpd_client_restrictions = permit_mynetworks, reject\n",
        &SESSION,
    );
    assert_eq!(code, 4, "{text}");
    let reply = "554 5.7.1 <mail.client.example[192.0.2.9]>: Client host rejected: Access denied";
    assert_has(
        &text,
        &[
            "CONNECT mail.client.example[192.0.2.9]: accept (smtpd_client_restrictions postponed to RCPT TO: smtpd_delay_reject = yes)",
            &format!("  postponed: result at RCPT TO: {reply}"),
            "EHLO mail.client.example: accept (smtpd_helo_restrictions postponed to RCPT TO: smtpd_delay_reject = yes)",
            "  postponed: smtpd_helo_restrictions has nothing to check",
            &format!("RCPT <b@spec.test>: {reply}"),
            "  applied at RCPT TO: smtpd_client_restrictions postponed from CONNECT (smtpd_delay_reject = yes)",
            "DATA: 554 5.5.1 Error: no valid recipients",
        ],
    );
    assert!(!text.contains("no restrictions apply"), "{text}");
}

#[test]
fn without_delay_reject_the_client_is_refused_at_connect() {
    let (code, text) = policy_test(
        "smtpd_delay_reject = no\nsmtpd_client_restrictions = permit_mynetworks, reject\n",
        &SESSION,
    );
    assert_eq!(code, 4, "{text}");
    let denied = "503 5.7.0 Error: access denied for mail.client.example[192.0.2.9]";
    assert_has(
        &text,
        &[
            "CONNECT mail.client.example[192.0.2.9]: 554 5.7.1 <mail.client.example[192.0.2.9]>: Client host rejected: Access denied",
            "  log: NOQUEUE: reject: CONNECT from mail.client.example[192.0.2.9]: 554 5.7.1 <mail.client.example[192.0.2.9]>: Client host rejected: Access denied; proto=SMTP",
            &format!("EHLO mail.client.example: {denied}"),
            &format!("MAIL <a@spec.test>: {denied}"),
            &format!("RCPT <b@spec.test>: {denied}"),
        ],
    );
    assert!(!text.contains("postponed"), "{text}");
}

#[test]
fn helo_required_refuses_mail_before_helo() {
    let args = [
        "--client",
        "127.0.0.1",
        "--client-name",
        "localhost",
        "--sender",
        "<>",
        "--recipient",
        "b@spec.test",
    ];
    let (code, text) = policy_test("smtpd_helo_required = yes\n", &args);
    assert_eq!(code, 4, "{text}");
    assert_has(
        &text,
        &[
            "MAIL <>: 503 5.5.1 Error: send HELO/EHLO first",
            "  (smtpd_helo_required = yes; no restrictions run)",
            "RCPT <b@spec.test>: 503 5.5.1 Error: need MAIL command",
            "DATA: 503 5.5.1 Error: need RCPT command",
        ],
    );
    // Without it the same session is accepted.
    let (code, text) = policy_test("", &args);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn dns_questions_appear_with_their_answers() {
    let mut zones = Zones::new();
    zones.a("mail.client.example", "192.0.2.9");
    zones.mx("sender.example", 10, "mail.client.example");
    zones.a("9.2.0.192.zen.test", "127.0.0.2");
    zones.txt("9.2.0.192.zen.test", "listed for testing");
    let dns = DnsServer::start(zones).unwrap();
    let main_cf = format!(
        "{}smtpd_delay_reject = no\n\
         smtpd_helo_restrictions = reject_unknown_helo_hostname\n\
         smtpd_sender_restrictions = reject_unknown_sender_domain\n\
         smtpd_recipient_restrictions = reject_rbl_client zen.test, permit_mynetworks, reject_unauth_destination\n",
        dns.main_cf()
    );
    let mut args = SESSION;
    args[7] = "a@sender.example";
    let (code, text) = policy_test(&main_cf, &args);
    assert_eq!(code, 4, "{text}");
    assert_has(
        &text,
        &[
            "EHLO mail.client.example: accept",
            "  dns: host mail.client.example (A, AAAA, MX) => OK",
            "MAIL <a@sender.example>: accept",
            "  dns: mail domain sender.example (MX, A, AAAA) => OK",
            "  dns: DNS list 9.2.0.192.zen.test (A) => listed 127.0.0.2 TXT \"listed for testing\"",
            "RCPT <b@spec.test>: 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.test; listed for testing",
        ],
    );
}

#[test]
fn no_dns_answers_from_facts() {
    let main_cf = "smtpd_delay_reject = no\n\
         smtpd_helo_restrictions = reject_unknown_helo_hostname\n\
         smtpd_recipient_restrictions = reject_rbl_client zen.test, permit_mynetworks, reject_unauth_destination\n";
    let mut args = vec!["--no-dns", "--fact", "host:mail.client.example=no"];
    args.extend_from_slice(&SESSION);
    let (code, text) = policy_test(main_cf, &args);
    assert_eq!(code, 3, "{text}");
    assert_has(
        &text,
        &[
            "EHLO mail.client.example: 450 4.7.1 <mail.client.example>: Helo command rejected: Host not found",
            "  dns: host mail.client.example (A, AAAA, MX) => NOTFOUND (--fact)",
            "  dns: DNS list 9.2.0.192.zen.test (A) => not listed (--no-dns: no --fact given)",
        ],
    );
    let mut args = vec![
        "--no-dns",
        "--fact",
        "host:mail.client.example=ok",
        "--fact",
        "rbl:zen.test=127.0.0.2",
    ];
    args.extend_from_slice(&SESSION);
    let (code, text) = policy_test(main_cf, &args);
    assert_eq!(code, 4, "{text}");
    assert_has(
        &text,
        &[
            "  dns: DNS list 9.2.0.192.zen.test (A) => listed 127.0.0.2 (--fact)",
            "RCPT <b@spec.test>: 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.test",
        ],
    );
}

#[test]
fn client_flag_sets_the_client_of_a_script() {
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        script.path(),
        "ehlo mail.client.example\nmail a@spec.test\nrcpt x@far.example\n",
    )
    .unwrap();
    let path = script.path().to_str().unwrap();
    let main_cf = "smtpd_delay_reject = no\n";
    let (code, text) = policy_test(
        main_cf,
        &["--no-dns", "--client", "192.0.2.9", "--script", path],
    );
    assert_eq!(code, 3, "{text}");
    assert_has(
        &text,
        &[
            "CONNECT unknown[192.0.2.9]: accept",
            "  dns: client name of 192.0.2.9 (PTR) => unknown (--no-dns: no --fact given)",
            "RCPT <x@far.example>: 454 4.7.1 <x@far.example>: Relay access denied",
        ],
    );
    // The same script from the default client (127.0.0.1, in mynetworks) relays.
    let (code, text) = policy_test(main_cf, &["--no-dns", "--script", path]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("CONNECT unknown[127.0.0.1]: accept"),
        "{text}"
    );
}

#[test]
fn the_log_line_is_the_one_the_server_writes() {
    // A rejected EHLO keeps the earlier protocol (Postfix 3.7:
    // `proto=SMTP helo=<bad.example>`), in the server and in policy-test.
    let rules = "smtpd_delay_reject = no\nsmtpd_helo_restrictions = check_helo_access inline:{bad.example=REJECT}\n";
    let srv = gatepost_testkit::TestServer::start(gatepost_bin!(), rules).unwrap();
    let mut c = gatepost_testkit::Client::connect_from("127.0.0.2", srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.command("EHLO bad.example").unwrap().code, 554);
    assert_eq!(c.command("QUIT").unwrap().code, 221);
    let line = "NOQUEUE: reject: EHLO from unknown[127.0.0.2]: 554 5.7.1 <bad.example>: Helo command rejected: Access denied; proto=SMTP helo=<bad.example>";
    assert!(
        srv.wait_for_log(line, gatepost_testkit::EVENT_TIMEOUT),
        "{}",
        srv.log()
    );
    let (code, text) = policy_test(
        rules,
        &["--no-dns", "--client", "127.0.0.2", "--helo", "bad.example"],
    );
    assert_eq!(code, 4, "{text}");
    assert_has(&text, &[&format!("  log: {line}")]);
}

#[test]
fn a_script_runs_transactions_one_after_another() {
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        script.path(),
        "ehlo client.example\nmail a@spec.test\nrcpt b@spec.test\ndata\neom\n\
         mail <>\nrcpt c@spec.test\ndata\neom\nrset\nrcpt d@spec.test\n",
    )
    .unwrap();
    let path = script.path().to_str().unwrap();
    let (code, text) = policy_test("", &["--no-dns", "--script", path]);
    assert_eq!(code, 4, "{text}");
    let steps: Vec<&str> = text.lines().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(
        steps,
        [
            "CONNECT unknown[127.0.0.1]: accept (smtpd_client_restrictions postponed to RCPT TO: smtpd_delay_reject = yes)",
            "EHLO client.example: accept (smtpd_helo_restrictions postponed to RCPT TO: smtpd_delay_reject = yes)",
            "MAIL <a@spec.test>: accept (smtpd_sender_restrictions postponed to RCPT TO: smtpd_delay_reject = yes)",
            "RCPT <b@spec.test>: accept",
            "DATA: accept",
            "END-OF-MESSAGE: accept",
            "MAIL <>: accept (smtpd_sender_restrictions postponed to RCPT TO: smtpd_delay_reject = yes)",
            "RCPT <c@spec.test>: accept",
            "DATA: accept",
            "END-OF-MESSAGE: accept",
            "RCPT <d@spec.test>: 503 5.5.1 Error: need MAIL command",
        ],
        "{text}"
    );
}
