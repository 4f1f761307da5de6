//! `smtpd_milters` against real filters from Debian, when installed
//! (each test says so and passes when its package is missing):
//!
//! - OpenDKIM (`opendkim`) signs a message from an internal client that
//!   gatepost then delivers with its `DKIM-Signature:`; the delivered
//!   message, submitted again from an outside address, is verified by the
//!   same OpenDKIM (`dkim=pass` in its `Authentication-Results:`), with the
//!   public key given through `TestDNSData`.
//! - rspamd (`rspamd`), its proxy worker in milter mode on a loopback
//!   port, rejects GTUBE at end of message (`milter-reject:
//!   END-OF-MESSAGE ... 5.7.1 Gtube pattern`) and adds its
//!   headers to a clean message. rspamd compiles its regexps into a cache
//!   (kept in `target/tmp/rspamd-db`) at its first start, which takes
//!   minutes on a small machine (later runs take about 5 s), so this one
//!   only runs with `GATEPOST_TEST_RSPAMD=1`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatepost_testkit::{gatepost_bin, open_transaction, queued_id, submit, ConfigDir, TestServer};

const T: Duration = Duration::from_secs(20);

fn installed(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// A child stopped when the test ends: SIGTERM first, so that a daemon
/// with worker processes (rspamd) stops them too, then SIGKILL.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until something accepts on `port` (the daemon is up).
fn wait_listening(port: u16, limit: Duration, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < limit,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn server(milter: &str) -> TestServer {
    ConfigDir::new()
        .unwrap()
        .main_cf(&format!(
            "smtpd_milters = {milter}\nmilter_default_action = tempfail\n"
        ))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap()
}

#[test]
fn opendkim_signs_and_verifies() {
    if !installed("opendkim") || !installed("opendkim-genkey") {
        eprintln!("skipped: Debian's opendkim is not installed");
        return;
    }
    // OpenDKIM refuses files under a directory others may write (/tmp).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let out = Command::new("opendkim-genkey")
        .args([
            "-D",
            &d.display().to_string(),
            "-d",
            "spec.test",
            "-s",
            "sel",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // sel.txt holds the TXT record in zone-file form: join its strings.
    let txt = std::fs::read_to_string(d.join("sel.txt")).unwrap();
    let record: String = txt
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat();
    std::fs::write(
        d.join("dns"),
        format!("sel._domainkey.spec.test {record}\n"),
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        d.join("opendkim.conf"),
        format!(
            "Mode sv\nDomain spec.test\nSelector sel\nKeyFile {d}/sel.private\n\
             Socket inet:{port}@127.0.0.1\nSyslog no\nPidFile {d}/opendkim.pid\n\
             InternalHosts 127.0.0.1\nCanonicalization relaxed/simple\n\
             TestDNSData file:{d}/dns\nAuthservID mx.spec.test\nRequireSafeKeys false\n",
            d = d.display()
        ),
    )
    .unwrap();
    let _opendkim = Daemon(
        Command::new("opendkim")
            .args(["-f", "-x"])
            .arg(d.join("opendkim.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    wait_listening(port, T, "opendkim");
    let srv = server(&format!("inet:127.0.0.1:{port}"));

    // Signed: from an internal host, From: in the signing domain.
    submit(
        &srv,
        "client.example",
        "alice@spec.test",
        &["bob@spec.test"],
        "From: Alice <alice@spec.test>\nTo: bob@spec.test\nSubject: signed\n\nhello, signed world",
    );
    let mail = srv.wait_for_mail("bob", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    let signed = &mail[0];
    assert!(
        signed.contains("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=spec.test;"),
        "{signed}"
    );
    assert!(
        signed.find("DKIM-Signature:") < signed.find("Received: from client.example"),
        "{signed}"
    );

    // Verified: the delivered message again, now from outside.
    let content: String = signed
        .lines()
        .skip_while(|l| l.starts_with("Return-Path:") || l.starts_with("Delivered-To:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut c = open_transaction(
        &srv,
        "127.0.0.2",
        "outside.example",
        "alice@spec.test",
        &["carol@spec.test"],
    );
    queued_id(&c.send_message(&content).unwrap());
    let mail = srv.wait_for_mail("carol", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].contains("Authentication-Results: mx.spec.test;") && mail[0].contains("dkim=pass"),
        "{}",
        mail[0]
    );
}

#[test]
fn rspamd_rejects_gtube_and_adds_its_headers() {
    if !installed("rspamd") {
        eprintln!("skipped: Debian's rspamd is not installed");
        return;
    }
    if std::env::var("GATEPOST_TEST_RSPAMD").as_deref() != Ok("1") {
        eprintln!("skipped: set GATEPOST_TEST_RSPAMD=1 to run rspamd (it loads slowly)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let over = d.join("override.d");
    // rspamd's compiled-regexp cache survives the test: later runs start
    // in seconds instead of minutes.
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rspamd-db");
    std::fs::create_dir_all(&db).unwrap();
    for sub in ["override.d", "local.d", "run", "log"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let port = free_port();
    let write = |name: &str, text: String| std::fs::write(over.join(name), text).unwrap();
    write(
        "worker-proxy.inc",
        format!(
            "bind_socket = \"127.0.0.1:{port}\";\nmilter = yes;\ntimeout = 120s;\n\
             upstream \"local\" {{\n  default = yes;\n  self_scan = yes;\n}}\ncount = 1;\n\
             spam_header = \"X-Spam\";\nreject_message = \"Spam message rejected\";\n"
        ),
    );
    for off in [
        "worker-normal.inc",
        "worker-controller.inc",
        "worker-fuzzy.inc",
        "fuzzy_check.conf",
    ] {
        write(off, "enabled = false;\n".into());
    }
    write(
        "logging.inc",
        "type = \"console\";\nlevel = \"error\";\n".into(),
    );
    // GTUBE counts from loopback clients too; headers for every client.
    write(
        "options.inc",
        format!(
            "pidfile = \"{}/run/rspamd.pid\";\nenable_test_patterns = true;\n",
            d.display()
        ),
    );
    write(
        "milter_headers.conf",
        "use = [\"x-spamd-result\", \"x-rspamd-queue-id\", \"x-spam-status\"];\nskip_local = false;\nskip_authenticated = false;\n".into(),
    );
    let var = |k: &str, sub: &str| format!("{k}={}", d.join(sub).display());
    let mut child = Command::new("rspamd")
        .args([
            "-f",
            "-i",
            "-u",
            "root",
            "-g",
            "root",
            "-c",
            "/etc/rspamd/rspamd.conf",
        ])
        .args(["--var", &format!("LOCAL_CONFDIR={}", d.display())])
        .args(["--var", &format!("DBDIR={}", db.display())])
        .args([
            "--var",
            &var("RUNDIR", "run"),
            "--var",
            &var("LOGDIR", "log"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let _rspamd = Daemon(child);
    wait_listening(port, Duration::from_secs(600), "rspamd");
    let srv = server(&format!("inet:127.0.0.1:{port}"));

    let gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
    let mut c = open_transaction(
        &srv,
        "127.0.0.2",
        "outside.example",
        "spammer@example.org",
        &["bob@spec.test"],
    );
    let r = c
        .send_message(&format!(
            "From: spammer@example.org\nSubject: buy\n\n{gtube}\n"
        ))
        .unwrap();
    assert_eq!(r.full(), "554 5.7.1 Gtube pattern", "{r:?}");
    assert!(srv.wait_for_log(": milter-reject: END-OF-MESSAGE from unknown[127.0.0.2]: 5.7.1 Gtube pattern; from=<spammer@example.org> to=<bob@spec.test> proto=ESMTP helo=<outside.example>", T), "{}", srv.log());

    submit(&srv, "client.example", "alice@example.org", &["bob@spec.test"], "From: alice@example.org\nTo: bob@spec.test\nSubject: clean\nMessage-Id: <clean@example.org>\n\nJust a normal note.\n");
    let mail = srv.wait_for_mail("bob", 1, T);
    assert_eq!(mail.len(), 1, "{}", srv.log());
    assert!(
        mail[0].contains("X-Spamd-Result: default: False"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("X-Rspamd-Queue-Id: "), "{}", mail[0]);
}
