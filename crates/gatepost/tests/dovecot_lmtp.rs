//! LMTP delivery into a real Dovecot (Debian's dovecot-lmtpd), started
//! here as an ordinary process with its own configuration: a virtual
//! mailbox domain whose `virtual_transport` is
//! `lmtp:unix:private/dovecot-lmtp` (relative to the queue directory, as in
//! Postfix); one recipient lands in a Maildir, the other is refused by
//! Dovecot at RCPT and bounces on its own; a master.cf service of another
//! name (`dovecot-lmtp unix - - n - - lmtp`) is the same client. Skipped, saying so, when
//! Dovecot or its LMTP server is not installed.

use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use gatepost_testkit::{gatepost_bin, wait_until, Client, TestServer, EVENT_TIMEOUT};

fn dovecot_lmtp() -> Option<&'static str> {
    let lmtpd = ["/usr/lib/dovecot/lmtp", "/usr/libexec/dovecot/lmtp"]
        .into_iter()
        .any(|p| Path::new(p).is_file());
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .into_iter()
        .find(|p| lmtpd && Path::new(p).is_file())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Dovecot with an LMTP listener at `socket` and one user, bob@mail.example,
/// whose Maildir is `home/bob/Maildir` under `dir`.
fn start_dovecot(dovecot: &str, dir: &Path, socket: &Path) -> Killed {
    let d = dir.display();
    // Mail is stored with the user's uid: as root, nobody's; else our own.
    let own = std::fs::metadata(dir).unwrap().uid();
    let uid = if own == 0 { 65534 } else { own };
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::set_permissions(dir.join("home"), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(
        dir.join("users"),
        format!("bob@mail.example::{uid}:{uid}::{d}/home/bob\n"),
    )
    .unwrap();
    // Not root: Dovecot's internal and login processes run as we do.
    let own_users = if own == 0 {
        String::new()
    } else {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let (me, group) = (id("-un"), id("-gn"));
        format!(
            "default_internal_user = {me}\ndefault_login_user = {me}\n\
             default_internal_group = {group}\n"
        )
    };
    let conf = format!(
        "{own_users}base_dir = {d}/run\nstate_dir = {d}/run\nlog_path = {d}/dovecot.log\n\
         protocols = lmtp\nssl = no\nfirst_valid_uid = 1\nmail_location = maildir:~/Maildir\n\
         passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
         userdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
         service lmtp {{\n  unix_listener {} {{\n    mode = 0666\n  }}\n}}\n",
        socket.display()
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
    wait_until("dovecot's LMTP socket", || socket.exists());
    guard
}

#[test]
fn lmtp_into_a_real_dovecot_maildir() {
    let Some(dovecot) = dovecot_lmtp() else {
        eprintln!("dovecot-lmtpd is not installed: skipping the Dovecot LMTP test");
        return;
    };
    let srv = TestServer::start(
        gatepost_bin!(),
        "virtual_mailbox_domains = mail.example\n\
         virtual_mailbox_maps = inline:{bob@mail.example=bob, nobody@mail.example=nobody}\n\
         virtual_transport = lmtp:unix:private/dovecot-lmtp\n",
    )
    .unwrap();
    let dovecot_dir = gatepost_testkit::shared_tempdir().unwrap();
    let private = srv.dir.path().join("spool/private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _dovecot = start_dovecot(dovecot, dovecot_dir.path(), &private.join("dovecot-lmtp"));

    let mut c = Client::connect(srv.addr).unwrap();
    c.read_reply().unwrap();
    c.command("EHLO client.spec.test").unwrap();
    assert_eq!(c.command("MAIL FROM:<alice@spec.test>").unwrap().code, 250);
    for rcpt in ["bob@mail.example", "nobody@mail.example"] {
        let r = c.command(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert_eq!(r.code, 250, "{r:?}");
    }
    let r = c
        .send_message("Subject: through lmtp\nFrom: alice@spec.test\n\nhello dovecot\n")
        .unwrap();
    let id = r.last_line().rsplit(' ').next().unwrap().to_string();
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), EVENT_TIMEOUT),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    let line = |rcpt: &str| {
        log.lines()
            .find(|l| l.contains(&format!("{id}: to=<{rcpt}>")))
            .unwrap_or_else(|| panic!("no delivery line for {rcpt}:\n{log}"))
            .to_string()
    };
    let bob = line("bob@mail.example");
    assert!(bob.contains("postfix/lmtp["), "{bob}");
    assert!(
        bob.contains("relay=mx.spec.test[private/dovecot-lmtp], "),
        "{bob}"
    );
    assert!(
        bob.contains("dsn=2.0.0, status=sent (250 2.0.0 <bob@mail.example> "),
        "{bob}"
    );
    assert!(bob.ends_with(" Saved)"), "{bob}");
    let nobody = line("nobody@mail.example");
    assert!(
        nobody.contains(
            "dsn=5.1.1, status=bounced (host mx.spec.test[private/dovecot-lmtp] said: 550 5.1.1 \
             <nobody@mail.example> User doesn't exist: nobody@mail.example (in reply to RCPT TO command))"
        ),
        "{nobody}"
    );
    let new = dovecot_dir.path().join("home/bob/Maildir/new");
    let files: Vec<_> = std::fs::read_dir(&new)
        .unwrap_or_else(|e| panic!("{}: {e}", new.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("Subject: through lmtp"), "{text}");
    assert!(text.contains("hello dovecot"), "{text}");
}

#[test]
fn lmtp_through_a_custom_named_master_cf_service() {
    let Some(dovecot) = dovecot_lmtp() else {
        eprintln!("dovecot-lmtpd is not installed: skipping the Dovecot LMTP test");
        return;
    };
    let config = gatepost_testkit::ConfigDir::new()
        .unwrap()
        .main_cf(
            "virtual_mailbox_domains = mail.example\n\
             virtual_mailbox_maps = inline:{bob@mail.example=bob}\n\
             virtual_transport = dovecot-lmtp:unix:private/dovecot-lmtp\n",
        )
        .unwrap();
    let master = std::fs::read_to_string(config.path().join("master.cf")).unwrap();
    config
        .file(
            "master.cf",
            &format!("{master}dovecot-lmtp unix - - n - - lmtp\n"),
        )
        .unwrap();
    let srv = config.start(gatepost_bin!()).unwrap();
    let dovecot_dir = gatepost_testkit::shared_tempdir().unwrap();
    let private = srv.dir.path().join("spool/private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _dovecot = start_dovecot(dovecot, dovecot_dir.path(), &private.join("dovecot-lmtp"));
    let id = gatepost_testkit::submit(
        &srv,
        "client.spec.test",
        "alice@spec.test",
        &["bob@mail.example"],
        "Subject: custom service\n\nhello\n",
    );
    assert!(
        srv.wait_for_log(&format!("{id}: removed"), EVENT_TIMEOUT),
        "log:\n{}",
        srv.log()
    );
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id}: to=<bob@mail.example>")))
        .unwrap_or_else(|| panic!("no delivery line:\n{log}"));
    assert!(line.contains("postfix/lmtp["), "{line}");
    assert!(
        line.contains("relay=mx.spec.test[private/dovecot-lmtp], "),
        "{line}"
    );
    assert!(
        line.contains("status=sent (250 2.0.0 <bob@mail.example> "),
        "{line}"
    );
    assert!(!log.contains("is not implemented by gatepost"), "{log}");
}
