//! SIGHUP (`gatepost reload`) as Postfix's master: main.cf and the tables
//! are read again, new sessions use the new settings while a session in
//! progress finishes on the old ones, and a configuration that fails to
//! load leaves the server running on the old one with a warning.

use std::path::Path;
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, Client, TestServer};

/// `gatepost -c DIR ARGS`: exit code and stderr.
fn gatepost(dir: &Path, args: &[&str]) -> (i32, String) {
    gatepost_testkit::server::run_gatepost(gatepost_bin!(), dir, args)
}

fn append_main_cf(dir: &Path, line: &str) {
    let path = dir.join("main.cf");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(line);
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// A session that has said EHLO and MAIL FROM.
fn session_at_rcpt(srv: &TestServer, source: &str) -> Client {
    let mut c = Client::connect_from(source, srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.command("EHLO client.example").unwrap().code, 250);
    assert_eq!(c.command("MAIL FROM:<a@client.example>").unwrap().code, 250);
    c
}

#[test]
fn reload_applies_a_new_restriction_to_new_sessions_only() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    let mut before = session_at_rcpt(&srv, "127.0.0.2");

    append_main_cf(
        srv.path(),
        "smtpd_recipient_restrictions = check_recipient_access inline:{ { bob@spec.test = REJECT no bob after reload } }",
    );
    let (code, stderr) = gatepost(srv.path(), &["reload"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("postfix/postfix-script: refreshing the Postfix mail system"),
        "{stderr}"
    );
    assert!(
        srv.wait_for_log("reload -- version", Duration::from_secs(10)),
        "{}",
        srv.log()
    );

    let mut after = session_at_rcpt(&srv, "127.0.0.3");
    let reply = after.command("RCPT TO:<bob@spec.test>").unwrap();
    assert_eq!(reply.code, 554, "{}", reply.full());
    assert!(
        reply.full().contains("no bob after reload"),
        "{}",
        reply.full()
    );
    after.command("QUIT").unwrap();

    // The session accepted before the reload keeps its settings.
    let reply = before.command("RCPT TO:<bob@spec.test>").unwrap();
    assert_eq!(reply.code, 250, "{}", reply.full());
    let reply = before
        .send_message("Subject: before reload\n\nhello\n")
        .unwrap();
    assert_eq!(reply.code, 250, "{}", reply.full());
    before.command("QUIT").unwrap();
    let mail = srv.wait_for_mail("bob", 1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1, "{}", srv.log());
}

#[test]
fn broken_main_cf_on_reload_keeps_the_old_configuration() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    append_main_cf(srv.path(), "smtpd_recipient_limit = lots");
    let (code, stderr) = gatepost(srv.path(), &["reload"]);
    // The command itself reads main.cf first, as postfix(1) does.
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("smtpd_recipient_limit"), "{stderr}");

    // The server is told anyway (kill -HUP): it keeps running on the old one.
    let pid = std::fs::read_to_string(srv.path().join("spool/pid/master.pid")).unwrap();
    let pid = nix::unistd::Pid::from_raw(pid.trim().parse().unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(
        srv.wait_for_log("keeping the current configuration", Duration::from_secs(10)),
        "{}",
        srv.log()
    );
    let log = srv.log();
    let warning = log
        .lines()
        .find(|l| l.contains("keeping the current configuration"))
        .unwrap();
    assert!(warning.contains("postfix/master["), "{warning}");
    assert!(warning.contains("warning: "), "{warning}");
    assert!(warning.contains("smtpd_recipient_limit"), "{warning}");

    let mut c = session_at_rcpt(&srv, "127.0.0.2");
    let reply = c.command("RCPT TO:<bob@spec.test>").unwrap();
    assert_eq!(reply.code, 250, "{}", reply.full());
    c.command("QUIT").unwrap();
}

/// `gatepost reload`, then wait until the server has switched.
fn reload(srv: &TestServer) {
    let before = srv.log().matches("reload -- version").count();
    let (code, stderr) = gatepost(srv.path(), &["reload"]);
    assert_eq!(code, 0, "{stderr}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while srv.log().matches("reload -- version").count() == before {
        assert!(std::time::Instant::now() < deadline, "{}", srv.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rcpt_reply(addr: std::net::SocketAddr, to: &str) -> u16 {
    let mut c = Client::connect_from("127.0.0.2", addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    assert_eq!(c.command("EHLO client.example").unwrap().code, 250);
    assert_eq!(c.command("MAIL FROM:<a@client.example>").unwrap().code, 250);
    let code = c.command(&format!("RCPT TO:<{to}>")).unwrap().code;
    c.command("QUIT").unwrap();
    code
}

#[test]
fn reload_reads_tables_again() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access");
    std::fs::write(&access, "bob@spec.test REJECT\n").unwrap();
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "smtpd_recipient_restrictions = check_recipient_access texthash:{}",
            access.display()
        ),
    )
    .unwrap();
    assert_eq!(rcpt_reply(srv.addr, "bob@spec.test"), 554);
    assert_eq!(rcpt_reply(srv.addr, "carol@spec.test"), 250);

    std::fs::write(&access, "carol@spec.test REJECT\n").unwrap();
    reload(&srv);
    assert_eq!(rcpt_reply(srv.addr, "bob@spec.test"), 250);
    assert_eq!(rcpt_reply(srv.addr, "carol@spec.test"), 554);
}

#[test]
fn reload_opens_and_closes_master_cf_listeners() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    // A port free on 127.0.0.5 for the new service.
    let port = std::net::TcpListener::bind("127.0.0.5:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let new_addr: std::net::SocketAddr = format!("127.0.0.5:{port}").parse().unwrap();
    std::fs::write(
        srv.path().join("master.cf"),
        format!("{new_addr} inet n - n - - smtpd\n"),
    )
    .unwrap();
    reload(&srv);
    assert_eq!(rcpt_reply(new_addr, "bob@spec.test"), 250);
    // The service that master.cf no longer has stopped listening.
    assert!(std::net::TcpStream::connect(srv.addr).is_err());
}

/// anvil's counts go on across a reload: two connections before it and the
/// third after it exceed `smtpd_client_connection_rate_limit = 2`.
#[test]
fn anvil_counts_survive_a_reload() {
    let srv = TestServer::start(
        gatepost_bin!(),
        "smtpd_client_connection_rate_limit = 2\nanvil_rate_time_unit = 3600s",
    )
    .unwrap();
    for _ in 0..2 {
        let mut c = Client::connect_from("127.0.0.3", srv.addr).unwrap();
        assert_eq!(c.read_reply().unwrap().code, 220);
        assert_eq!(c.command("QUIT").unwrap().code, 221);
    }
    reload(&srv);
    let mut c = Client::connect_from("127.0.0.3", srv.addr).unwrap();
    assert_eq!(
        c.read_reply().unwrap().last_line(),
        "421 4.7.0 mx.spec.test Error: too many connections from 127.0.0.3"
    );
    assert!(
        srv.wait_for_log(
            "warning: Connection rate limit exceeded: 3 from unknown[127.0.0.3] for service",
            Duration::from_secs(10)
        ),
        "{}",
        srv.log()
    );
}
