//! STARTTLS, implicit TLS and SMTP AUTH against the real server over
//! loopback, with a real TLS client (rustls) trusting a test CA made with
//! rcgen: EHLO keywords before and after TLS, AUTH only inside TLS
//! (smtpd_tls_auth_only), relaying for a logged-in client and Postfix's
//! `Relay access denied` without, a wrong password's `535 5.7.8` and
//! warning line, the STARTTLS command injection (CVE-2011-0411), a
//! wrapper-mode (port 465 style) second service, and certificates read
//! again on reload.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use gatepost_testkit::config_dir::edit_main_cf;
use gatepost_testkit::pki::CertFiles;
use gatepost_testkit::{gatepost_bin, wait_until, ConfigDir, TestServer, EVENT_TIMEOUT};
use rustls::pki_types::{CertificateDer, ServerName};

/// A CA and a server certificate for mx.spec.test signed by it.
struct TestPki {
    pki: gatepost_testkit::pki::TestPki,
    files: CertFiles,
}

impl TestPki {
    fn new() -> TestPki {
        let pki = gatepost_testkit::pki::TestPki::new();
        let files = pki.issue(&["mx.spec.test"]);
        TestPki { pki, files }
    }

    fn main_cf(&self) -> String {
        format!(
            "smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n",
            self.files.cert.display(),
            self.files.key.display()
        )
    }

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(self.pki.ca_der())).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// The real server: the shared test configuration, a password store in
/// its directory, and `extra_main_cf`; `master_cf` replaces the test
/// listener when given.
fn start_server(extra_main_cf: &str, master_cf: Option<&str>) -> TestServer {
    let config = ConfigDir::new().unwrap();
    // The loopback client is outside mynetworks: relaying needs a login.
    edit_main_cf(
        config.path(),
        "mynetworks = 127.0.0.1/32",
        "mynetworks = 127.0.0.9/32",
    );
    let lines = format!(
        "gatepost_sasl_passwd_file = {}/sasl_passwd\n{extra_main_cf}",
        config.path().display()
    );
    let config = config.main_cf(&lines).unwrap();
    if let Some(master_cf) = master_cf {
        config.file("master.cf", master_cf).unwrap();
    }
    config.start(gatepost_bin!()).unwrap()
}

/// One smtpd service on an ephemeral port.
fn single(extra_main_cf: &str) -> TestServer {
    start_server(extra_main_cf, None)
}

fn wait_for_log(srv: &TestServer, needle: &str) {
    wait_until(needle, || srv.log().contains(needle));
}

/// `gatepost saslpasswd add USER` with the password on standard input.
fn add_user(srv: &TestServer, user: &str, password: &str) {
    let mut child = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(srv.path())
        .args(["saslpasswd", "add", user])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

/// A blocking SMTP client that can switch to TLS.
struct Smtp {
    conn: Conn,
    buf: Vec<u8>,
}

impl Smtp {
    fn connect(addr: SocketAddr) -> Smtp {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(EVENT_TIMEOUT)).unwrap();
        Smtp {
            conn: Conn::Plain(sock),
            buf: Vec::new(),
        }
    }

    /// Connect and handshake at once (wrapper mode).
    fn connect_tls(addr: SocketAddr, pki: &TestPki) -> Smtp {
        let mut s = Smtp::connect(addr);
        s.start_tls(pki);
        s
    }

    fn start_tls(&mut self, pki: &TestPki) {
        assert!(self.buf.is_empty(), "unread input before TLS");
        let Conn::Plain(sock) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            panic!("already TLS");
        };
        let name = ServerName::try_from("mx.spec.test").unwrap();
        let tls = rustls::ClientConnection::new(pki.client_config(), name).unwrap();
        let mut stream = rustls::StreamOwned::new(tls, sock);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).unwrap();
        }
        self.conn = Conn::Tls(Box::new(stream));
    }

    fn write(&mut self, bytes: &[u8]) {
        match &mut self.conn {
            Conn::Plain(s) => s.write_all(bytes).unwrap(),
            Conn::Tls(s) => {
                s.write_all(bytes).unwrap();
                s.flush().unwrap();
            }
            Conn::Gone => panic!("no connection"),
        }
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = match &mut self.conn {
            Conn::Plain(s) => s.read(&mut chunk).unwrap_or(0),
            Conn::Tls(s) => s.read(&mut chunk).unwrap_or(0),
            Conn::Gone => 0,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// One reply's lines.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines;
                }
            } else if self.fill() == 0 {
                panic!("connection closed after {lines:?}");
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes());
        self.reply().join("\n")
    }

    /// The EHLO keywords (without the greeting line).
    fn ehlo(&mut self) -> Vec<String> {
        self.write(b"EHLO client.example\r\n");
        self.reply()
            .iter()
            .skip(1)
            .map(|l| l[4..].to_string())
            .collect()
    }
}

fn plain(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

const AUTH_MAIN_CF: &str = "smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = yes
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
";

fn auth_server(pki: &TestPki) -> TestServer {
    let srv = single(&format!("{}{AUTH_MAIN_CF}", pki.main_cf()));
    add_user(&srv, "alice", "s3cret");
    assert!(srv.path().join("sasl_passwd").is_file());
    srv
}

#[test]
fn ehlo_keywords_before_and_after_tls() {
    let pki = TestPki::new();
    let before_tls =
        "PIPELINING,SIZE 10240000,VRFY,ETRN,STARTTLS,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING";
    let auth_no_tls =
        "PIPELINING,SIZE 10240000,VRFY,ETRN,STARTTLS,AUTH PLAIN LOGIN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING";
    let in_tls =
        "PIPELINING,SIZE 10240000,VRFY,ETRN,AUTH PLAIN LOGIN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING";
    let table: &[(&str, &str, &str, &str)] = &[
        // (settings, before STARTTLS, after STARTTLS)
        ("TLS, no SASL", "smtpd_tls_security_level = may\n", before_tls,
         "PIPELINING,SIZE 10240000,VRFY,ETRN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING"),
        ("SASL, auth only in TLS", AUTH_MAIN_CF, before_tls, in_tls),
        ("SASL, auth also in clear", "smtpd_tls_security_level = may\nsmtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = no\n",
         auth_no_tls, in_tls),
        ("broken_sasl_auth_clients", "smtpd_tls_security_level = may\nsmtpd_sasl_auth_enable = yes\nbroken_sasl_auth_clients = yes\n",
         "PIPELINING,SIZE 10240000,VRFY,ETRN,STARTTLS,AUTH PLAIN LOGIN,AUTH=PLAIN LOGIN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING",
         "PIPELINING,SIZE 10240000,VRFY,ETRN,AUTH PLAIN LOGIN,AUTH=PLAIN LOGIN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING"),
        ("noplaintext leaves no mechanism", "smtpd_tls_security_level = may\nsmtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = no\nsmtpd_sasl_security_options = noanonymous, noplaintext\nsmtpd_sasl_tls_security_options = noanonymous\n",
         before_tls, in_tls),
        ("sasl exceptions: AUTH not offered", "smtpd_tls_security_level = may\nsmtpd_sasl_auth_enable = yes\nsmtpd_sasl_exceptions_networks = 127.0.0.1\n",
         before_tls, "PIPELINING,SIZE 10240000,VRFY,ETRN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING"),
        ("encrypt implies auth only in TLS", "smtpd_tls_security_level = encrypt\nsmtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = no\n",
         before_tls, in_tls),
        ("discarded STARTTLS", "smtpd_tls_security_level = may\nsmtpd_discard_ehlo_keywords = starttls\n",
         "PIPELINING,SIZE 10240000,VRFY,ETRN,ENHANCEDSTATUSCODES,8BITMIME,DSN,SMTPUTF8,CHUNKING", ""),
    ];
    for (name, settings, before, after) in table {
        let srv = single(&format!("{}{settings}", pki.main_cf()));
        let mut c = Smtp::connect(srv.addr);
        c.reply();
        assert_eq!(c.ehlo().join(","), *before, "{name}: before TLS");
        if after.is_empty() {
            assert_eq!(
                c.cmd("STARTTLS"),
                "502 5.5.1 Error: command not implemented",
                "{name}"
            );
            continue;
        }
        assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS", "{name}");
        c.start_tls(&pki);
        assert_eq!(c.ehlo().join(","), *after, "{name}: after TLS");
        assert_eq!(
            c.cmd("STARTTLS"),
            "554 5.5.1 Error: TLS already active",
            "{name}"
        );
    }
}

#[test]
fn starttls_auth_plain_then_relay() {
    let pki = TestPki::new();
    let srv = auth_server(&pki);
    let mut c = Smtp::connect(srv.addr);
    assert!(c.reply()[0].starts_with("220 mx.spec.test ESMTP"));
    c.ehlo();
    // Not offered and not accepted before TLS.
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret"))),
        "503 5.5.1 Error: authentication not enabled"
    );
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS");
    c.start_tls(&pki);
    // The HELO before STARTTLS is forgotten (RFC 3207).
    assert_eq!(c.cmd("MAIL FROM:<alice@spec.test>"), "250 2.1.0 Ok");
    assert_eq!(c.cmd("RSET"), "250 2.0.0 Ok");
    c.ehlo();
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret"))),
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN"),
        "503 5.5.1 Error: already authenticated"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<alice@spec.test> AUTH=alice+40spec.test AUTH=<>"),
        "503 5.5.4 Error: multiple AUTH= options"
    );
    assert_eq!(c.cmd("MAIL FROM:<alice@spec.test> AUTH=<>"), "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<someone@far.example>"), "250 2.1.5 Ok");
    assert_eq!(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    let queued = c.cmd("Subject: hi\r\n\r\nrelayed\r\n.");
    assert!(queued.starts_with("250 2.0.0 Ok: queued as "), "{queued}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    wait_for_log(&srv, "disconnect from unknown[127.0.0.1]");
    let log = srv.log();
    assert!(
        log.contains(
            "Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
        ),
        "{log}"
    );
    assert!(
        log.contains(": client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=alice\n"),
        "{log}"
    );
    assert!(
        log.contains("disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 auth=1/3 mail=2/3 rcpt=1 data=1 rset=1 quit=1 commands=10/13"),
        "{log}"
    );
}

#[test]
fn relay_without_auth_is_denied() {
    let pki = TestPki::new();
    let srv = auth_server(&pki);
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    c.cmd("STARTTLS");
    c.start_tls(&pki);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<alice@spec.test>"), "250 2.1.0 Ok");
    assert_eq!(
        c.cmd("RCPT TO:<someone@far.example>"),
        "554 5.7.1 <someone@far.example>: Relay access denied"
    );
}

#[test]
fn wrong_password_and_login_mechanism() {
    let pki = TestPki::new();
    let srv = auth_server(&pki);
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    c.cmd("STARTTLS");
    c.start_tls(&pki);
    c.ehlo();
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "wrong"))),
        "535 5.7.8 Error: authentication failed: authentication failure"
    );
    wait_for_log(
        &srv,
        "warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: authentication failure",
    );
    assert_eq!(
        c.cmd("AUTH CRAM-MD5"),
        "535 5.7.8 Error: authentication failed: Invalid authentication mechanism"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN !!!"),
        "535 5.7.8 Error: authentication failed: Invalid base64 data in initial response"
    );
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(
        c.cmd("!!!"),
        "535 5.7.8 Error: authentication failed: Invalid base64 data in continued response"
    );
    // LOGIN: Username: and Password: challenges; `*` aborts.
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("*"), "501 5.7.0 Authentication aborted");
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("YWxpY2U="), "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd("czNjcmV0"), "235 2.7.0 Authentication successful");
}

#[test]
fn failed_auth_counts_toward_the_hard_error_limit() {
    let pki = TestPki::new();
    let srv = single(&format!(
        "{}{AUTH_MAIN_CF}smtpd_hard_error_limit = 2\n",
        pki.main_cf()
    ));
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    c.cmd("STARTTLS");
    c.start_tls(&pki);
    c.ehlo();
    let bad = format!("AUTH PLAIN {}", plain("mallory", "x"));
    assert!(c.cmd(&bad).starts_with("535 5.7.8 "));
    assert!(c.cmd(&bad).starts_with("535 5.7.8 "));
    assert_eq!(
        c.cmd("NOOP"),
        "421 4.7.0 mx.spec.test Error: too many errors"
    );
}

#[test]
fn starttls_command_injection_is_discarded() {
    let pki = TestPki::new();
    let srv = single(&format!(
        "{}smtpd_tls_security_level = may\n",
        pki.main_cf()
    ));
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    // STARTTLS and a command in the same packet: the RSET was sent in clear
    // and must never be answered inside TLS.
    c.write(b"STARTTLS\r\nRSET\r\n");
    assert_eq!(c.reply().join("\n"), "220 2.0.0 Ready to start TLS");
    c.start_tls(&pki);
    let ehlo = c.cmd("EHLO client.example");
    assert!(ehlo.starts_with("250-mx.spec.test"), "{ehlo}");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    assert_eq!(c.fill(), 0, "nothing after the 221");
    wait_for_log(
        &srv,
        "disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 quit=1 commands=4",
    );
}

#[test]
fn encrypt_level_requires_starttls() {
    let pki = TestPki::new();
    let srv = single(&format!(
        "{}smtpd_tls_security_level = encrypt\n",
        pki.main_cf()
    ));
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok");
    assert_eq!(
        c.cmd("MAIL FROM:<a@spec.test>"),
        "530 5.7.0 Must issue a STARTTLS command first"
    );
    assert_eq!(
        c.cmd("RCPT TO:<a@spec.test>"),
        "530 5.7.0 Must issue a STARTTLS command first"
    );
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS");
    c.start_tls(&pki);
    c.ehlo();
    assert_eq!(c.cmd("MAIL FROM:<a@spec.test>"), "250 2.1.0 Ok");
}

#[test]
fn wrapper_mode_on_a_second_service() {
    let pki = TestPki::new();
    // Its own address: services are told apart by the address they ask for.
    let master_cf = "127.0.0.1:0 inet n - n - - smtpd\n\
        127.0.0.2:0 inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n  -o syslog_name=postfix/smtps\n";
    let srv = start_server(&format!("{}{AUTH_MAIN_CF}", pki.main_cf()), Some(master_cf));
    assert_eq!(srv.addrs.len(), 2, "two listeners");
    add_user(&srv, "alice", "s3cret");
    let mut c = Smtp::connect_tls(srv.addrs[1], &pki);
    assert!(c.reply()[0].starts_with("220 mx.spec.test ESMTP"));
    let keywords = c.ehlo();
    assert!(!keywords.iter().any(|k| k == "STARTTLS"), "{keywords:?}");
    assert!(
        keywords.iter().any(|k| k == "AUTH PLAIN LOGIN"),
        "{keywords:?}"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret"))),
        "235 2.7.0 Authentication successful"
    );
    // A plaintext client on the wrapper port fails the handshake.
    let mut p = TcpStream::connect(srv.addrs[1]).unwrap();
    p.write_all(b"EHLO plain.example\r\n").unwrap();
    let mut sink = Vec::new();
    p.set_read_timeout(Some(EVENT_TIMEOUT)).unwrap();
    let _ = p.read_to_end(&mut sink);
    wait_for_log(&srv, "SSL_accept error from unknown[127.0.0.1]: -1\n");
    wait_for_log(&srv, "warning: TLS library problem: ");
    wait_for_log(
        &srv,
        "lost connection after CONNECT from unknown[127.0.0.1]",
    );
}

#[test]
fn sender_login_mismatch_uses_the_auth_login() {
    let pki = TestPki::new();
    let srv = single(&format!(
        "{}{AUTH_MAIN_CF}smtpd_sender_login_maps = inline:{{ alice@spec.test=alice }}\n\
         smtpd_sender_restrictions = reject_sender_login_mismatch\n",
        pki.main_cf()
    ));
    add_user(&srv, "alice", "s3cret");
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    c.cmd("STARTTLS");
    c.start_tls(&pki);
    c.ehlo();
    c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(c.cmd("MAIL FROM:<alice@spec.test>"), "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<bob@spec.test>"), "250 2.1.5 Ok");
    assert_eq!(c.cmd("RSET"), "250 2.0.0 Ok");
    assert_eq!(c.cmd("MAIL FROM:<carol@spec.test>"), "250 2.1.0 Ok");
    assert_eq!(
        c.cmd("RCPT TO:<bob@spec.test>"),
        "553 5.7.1 <carol@spec.test>: Sender address rejected: not owned by user alice"
    );
}

/// A policy server that answers DUNNO and hands over the first request.
fn policy_recorder() -> (u16, std::sync::mpsc::Receiver<Vec<String>>) {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((conn, _)) = listener.accept() else {
            return;
        };
        let mut writer = conn.try_clone().unwrap();
        let mut reader = std::io::BufReader::new(conn);
        let mut attrs = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            attrs.push(line);
        }
        let _ = writer.write_all(b"action=DUNNO\n\n");
        let _ = tx.send(attrs);
    });
    (port, rx)
}

#[test]
fn policy_requests_carry_the_login_and_the_tls_session() {
    let pki = TestPki::new();
    let (port, requests) = policy_recorder();
    let srv = single(&format!(
        "{}{AUTH_MAIN_CF}smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:{port}\n",
        pki.main_cf()
    ));
    add_user(&srv, "alice", "s3cret");
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    c.cmd("STARTTLS");
    c.start_tls(&pki);
    c.ehlo();
    c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")));
    assert_eq!(c.cmd("MAIL FROM:<alice@spec.test>"), "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<bob@far.example>"), "250 2.1.5 Ok");
    let attrs = requests.recv_timeout(EVENT_TIMEOUT).unwrap();
    for want in [
        "sasl_method=PLAIN",
        "sasl_username=alice",
        "encryption_protocol=TLSv1.3",
        "encryption_cipher=TLS_AES_256_GCM_SHA384",
        "encryption_keysize=256",
    ] {
        assert!(attrs.iter().any(|a| a == want), "{want} in {attrs:?}");
    }
}

#[test]
fn unloadable_certificate_disables_tls_with_454() {
    let srv =
        single("smtpd_tls_security_level = may\nsmtpd_tls_cert_file = /nonexistent/cert.pem\n");
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    assert!(c.ehlo().iter().any(|k| k == "STARTTLS"));
    assert_eq!(
        c.cmd("STARTTLS"),
        "454 4.7.0 TLS not available due to local problem"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok");
    wait_for_log(
        &srv,
        "warning: TLS library problem: cannot read /nonexistent/cert.pem",
    );
}

#[test]
fn reload_reads_the_certificate_again() {
    let old = TestPki::new();
    let srv = single(&format!(
        "{}smtpd_tls_security_level = may\n",
        old.main_cf()
    ));
    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS");
    c.start_tls(&old);

    // A certificate from another CA at the same paths, then `gatepost reload`.
    let new = TestPki::new();
    std::fs::copy(&new.files.cert, &old.files.cert).unwrap();
    std::fs::copy(&new.files.key, &old.files.key).unwrap();
    let out = gatepost_testkit::server::gatepost_output(gatepost_bin!(), srv.path(), &["reload"]);
    assert!(out.status.success(), "{out:?}");
    wait_for_log(&srv, "reload -- version");

    let mut c = Smtp::connect(srv.addr);
    c.reply();
    c.ehlo();
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS");
    c.start_tls(&new);
    assert!(c.cmd("EHLO client.example").starts_with("250-mx.spec.test"));
}
