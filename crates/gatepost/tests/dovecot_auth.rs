//! `smtpd_sasl_type = dovecot` against a real Dovecot (Debian's
//! dovecot-core), started here as an ordinary process with its own
//! configuration and passwd-file; the test is skipped, saying so, when
//! `dovecot` is not installed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use gatepost_testkit::{gatepost_bin, wait_until, TestServer, EVENT_TIMEOUT};

fn dovecot_binary() -> Option<&'static str> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_dovecot(dovecot: &str, dir: &Path) -> Killed {
    let d = dir.display();
    std::fs::write(dir.join("passwd"), "alice:{PLAIN}s3cret\n").unwrap();
    std::fs::create_dir_all(dir.join("run")).unwrap();
    let conf = format!(
        "base_dir = {d}/run\nstate_dir = {d}/run\nlog_path = {d}/dovecot.log\n\
         protocols =\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
         passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
         userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={d}\n}}\n\
         service auth {{\n  unix_listener auth-client {{\n    path = {d}/auth\n    mode = 0666\n  }}\n}}\n"
    );
    std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
    let child = Command::new(dovecot)
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Killed(child);
    wait_until("dovecot's auth socket", || dir.join("auth").exists());
    guard
}

fn reply(r: &mut BufReader<TcpStream>) -> String {
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed after {out:?}");
        let line = line.trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        out.push(line);
        if last {
            return out.join("\n");
        }
    }
}

fn cmd(r: &mut BufReader<TcpStream>, line: &str) -> String {
    r.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .unwrap();
    reply(r)
}

#[test]
fn auth_against_a_real_dovecot() {
    let Some(dovecot) = dovecot_binary() else {
        eprintln!("dovecot is not installed: skipping the Dovecot auth test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Dovecot's auth process runs as its own user: let it in.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _dovecot = start_dovecot(dovecot, dir.path());
    let srv = TestServer::start(
        gatepost_bin!(),
        &format!(
            "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n\
             smtpd_sasl_path = {}/auth\nsmtpd_tls_auth_only = no\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let sock = TcpStream::connect(srv.addr).unwrap();
    sock.set_read_timeout(Some(EVENT_TIMEOUT)).unwrap();
    let mut r = BufReader::new(sock);
    reply(&mut r);
    assert!(cmd(&mut r, "EHLO client.example").contains("250-AUTH PLAIN LOGIN"));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let bad = cmd(&mut r, &format!("AUTH PLAIN {}", b64("\0alice\0wrong")));
    assert!(
        bad.starts_with("535 5.7.8 Error: authentication failed: "),
        "{bad}"
    );
    assert!(srv.wait_for_log(
        "warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: ",
        EVENT_TIMEOUT
    ));
    assert_eq!(cmd(&mut r, "AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(cmd(&mut r, &b64("alice")), "334 UGFzc3dvcmQ6");
    assert_eq!(
        cmd(&mut r, &b64("s3cret")),
        "235 2.7.0 Authentication successful"
    );
    let mut rest = String::new();
    cmd(&mut r, "QUIT");
    let _ = r.read_to_string(&mut rest);
    eprintln!("{}", srv.log());
}
