//! local(8) pieces, end to end with the real server (started as root in
//! CI, so with privilege separation: expansion in the privileged helper,
//! stores as the recipient): `mailbox_transport` into a real Dovecot over
//! LMTP (skipped, saying so, without Dovecot's LMTP server), and the mbox
//! locks of `mailbox_delivery_lock` (`fcntl`, `flock`, `dotlock`) against a
//! lock held by this test process, with Postfix's deferral texts, and a
//! stale dot-lock removed. An unknown lock name refuses the start.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gatepost_testkit::server::run_gatepost;
use gatepost_testkit::EVENT_TIMEOUT;
use gatepost_testkit::{gatepost_bin, open_transaction, queued_id, ConfigDir, TestServer};

mod dovecot_support;
use dovecot_support::{dovecot_lmtp, start_dovecot_for_server, the_stored_message};

fn send(srv: &TestServer, rcpts: &[&str]) -> String {
    let mut c = open_transaction(
        srv,
        "127.0.0.1",
        "client.spec.test",
        "alice@example.org",
        rcpts,
    );
    let r = c
        .send_message("Subject: local transport\nFrom: alice@example.org\n\nhello\n")
        .unwrap();
    c.command("QUIT").unwrap();
    queued_id(&r)
}

fn line_for(srv: &TestServer, needle: &str) -> String {
    assert!(
        srv.wait_for_log(needle, EVENT_TIMEOUT),
        "no {needle:?} in\n{}",
        srv.log()
    );
    let log = srv.log();
    log.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn mailbox_transport_lmtp_into_a_real_dovecot() {
    let Some(dovecot) = dovecot_lmtp() else {
        eprintln!("dovecot-lmtpd is not installed: skipping the mailbox_transport Dovecot test");
        return;
    };
    let srv = TestServer::start(
        gatepost_bin!(),
        "mailbox_transport = lmtp:unix:private/dovecot-lmtp\n",
    )
    .unwrap();
    let (dovecot_dir, _dovecot) =
        start_dovecot_for_server(dovecot, srv.dir.path(), &["bob@spec.test"]);

    let id = send(&srv, &["bob@spec.test", "nobody@spec.test"]);
    srv.expect_removed(&id);
    let passing = line_for(
        &srv,
        &format!("{id}: passing <bob@spec.test> to transport=lmtp"),
    );
    assert!(passing.contains(" postfix/local["), "{passing}");
    let bob = line_for(&srv, &format!("{id}: to=<bob@spec.test>"));
    assert!(bob.contains(" postfix/lmtp["), "{bob}");
    assert!(
        bob.contains("relay=mx.spec.test[private/dovecot-lmtp], "),
        "{bob}"
    );
    assert!(
        bob.contains("dsn=2.0.0, status=sent (250 2.0.0 <bob@spec.test> "),
        "{bob}"
    );
    assert!(bob.ends_with(" Saved)"), "{bob}");
    let nobody = line_for(&srv, &format!("{id}: to=<nobody@spec.test>"));
    assert!(
        nobody.contains(
            "dsn=5.1.1, status=bounced (host mx.spec.test[private/dovecot-lmtp] said: 550 5.1.1 \
             <nobody@spec.test> User doesn't exist: nobody@spec.test (in reply to RCPT TO command))"
        ),
        "{nobody}"
    );
    let text = the_stored_message(dovecot_dir.path(), "bob");
    assert!(text.contains("Subject: local transport"), "{text}");
    // Nothing was written to the local mailbox.
    assert!(!srv.dir.path().join("mail/bob").exists());
}

/// How the test holds the mailbox while the server delivers.
#[derive(Debug, Clone, Copy)]
enum Hold {
    Fcntl,
    Flock,
    DotLock,
}

/// Hold `mailbox` locked the way `hold` says; released on drop.
fn hold(mailbox: &Path, hold: Hold) -> Option<File> {
    match hold {
        Hold::DotLock => {
            std::fs::write(mailbox.with_extension("lock"), b"").unwrap();
            None
        }
        Hold::Fcntl | Hold::Flock => {
            let file = OpenOptions::new().append(true).open(mailbox).unwrap();
            match hold {
                Hold::Fcntl => rustix::fs::fcntl_lock(
                    &file,
                    rustix::fs::FlockOperation::NonBlockingLockExclusive,
                )
                .unwrap(),
                _ => file.lock().unwrap(),
            }
            Some(file)
        }
    }
}

/// An mbox spool (no trailing `/`) where `bob`, a name without a passwd
/// entry, is written as `nobody`.
fn mbox_server(extra: &str) -> (TestServer, std::path::PathBuf) {
    let config = ConfigDir::new().unwrap();
    let spool = config.path().join("mbox");
    std::fs::create_dir(&spool).unwrap();
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mailbox = spool.join("bob");
    std::fs::write(&mailbox, b"").unwrap();
    std::fs::set_permissions(&mailbox, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Written as default_privs (nobody) when the server runs as root.
    let _ = std::os::unix::fs::chown(&mailbox, Some(65534), Some(65534));
    let main_cf = format!(
        "mail_spool_directory = {}\ndeliver_lock_attempts = 2\ndeliver_lock_delay = 1s\n{extra}",
        spool.display()
    );
    let srv = config
        .main_cf(&main_cf)
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    (srv, mailbox)
}

#[test]
fn mbox_locks_defer_while_held_and_stale_dotlocks_go() {
    let deferred = |what: &str| {
        format!("dsn=4.2.0, status=deferred (cannot update mailbox {{mbox}} for user bob. {what})")
    };
    let kernel = deferred("unable to lock for exclusive access: Resource temporarily unavailable");
    let dotlock = deferred("unable to create lock file {mbox}.lock: File exists");
    let sent = "dsn=2.0.0, status=sent (delivered to mailbox)".to_string();
    let cases: Vec<(&str, Hold, String)> = vec![
        ("", Hold::Fcntl, kernel.clone()),
        ("", Hold::DotLock, dotlock),
        (
            "mailbox_delivery_lock = flock\n",
            Hold::Flock,
            kernel.clone(),
        ),
        (
            "mailbox_delivery_lock = dotlock, flock, fcntl\n",
            Hold::Flock,
            kernel,
        ),
        ("mailbox_delivery_lock = fcntl\n", Hold::Flock, sent.clone()),
        ("mailbox_delivery_lock = flock\n", Hold::Fcntl, sent),
    ];
    for (extra, how, want) in cases {
        let (srv, mailbox) = mbox_server(extra);
        let held = hold(&mailbox, how);
        let id = send(&srv, &["bob@spec.test"]);
        let want = want.replace("{mbox}", &mailbox.display().to_string());
        let line = line_for(&srv, &format!("{id}: to=<bob@spec.test>"));
        assert!(line.contains(" postfix/local["), "{extra}{how:?}: {line}");
        assert!(line.ends_with(&want), "{extra}{how:?}: {line}\nwant {want}");
        // Released, the deferred message is delivered on the next try.
        drop(held);
        let _ = std::fs::remove_file(mailbox.with_extension("lock"));
        assert!(
            srv.wait_for_log(&format!("{id}: removed"), EVENT_TIMEOUT),
            "{extra}{how:?}: {}",
            srv.log()
        );
        let text = std::fs::read_to_string(&mailbox).unwrap();
        assert_eq!(
            text.matches("Subject: local transport").count(),
            1,
            "{text}"
        );
        assert!(!mailbox.with_extension("lock").exists());
    }
}

#[test]
fn stale_dotlock_is_removed() {
    let (srv, mailbox) = mbox_server("stale_lock_time = 1s\ndeliver_lock_attempts = 10\n");
    let lock = mailbox.with_extension("lock");
    std::fs::write(&lock, b"").unwrap();
    // Left behind by an earlier delivery as the same user: the sticky
    // spool lets only the lock's owner remove it.
    let _ = std::os::unix::fs::chown(&lock, Some(65534), Some(65534));
    let id = send(&srv, &["bob@spec.test"]);
    let line = line_for(&srv, &format!("{id}: to=<bob@spec.test>"));
    assert!(
        line.ends_with("status=sent (delivered to mailbox)"),
        "{line}"
    );
    assert!(!lock.exists());
    let text = std::fs::read_to_string(&mailbox).unwrap();
    assert!(text.contains("Subject: local transport"), "{text}");
}

#[test]
fn unknown_lock_names_refuse_the_start() {
    let config = ConfigDir::new()
        .unwrap()
        .main_cf("mailbox_delivery_lock = fcntl, lockf\n")
        .unwrap();
    let (code, stderr) = run_gatepost(gatepost_bin!(), config.path(), &["serve"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("unknown mailbox_delivery_lock value \"lockf\" in \"fcntl, lockf\""),
        "{stderr}"
    );
}

#[test]
fn alias_commands_get_the_client_variables() {
    let config = ConfigDir::new().unwrap();
    let d = config.path().join("cmd");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = d.join("show-env");
    std::fs::write(&script, "#!/bin/sh\nenv > \"$1\"\ncat > /dev/null\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d.join("env.txt");
    let aliases = config.path().join("aliases");
    std::fs::write(
        &aliases,
        format!("cmd: \"|{} {}\"\n", script.display(), out.display()),
    )
    .unwrap();
    let srv = config
        .main_cf(&format!("alias_maps = texthash:{}\n", aliases.display()))
        .unwrap()
        .start(gatepost_bin!())
        .unwrap();
    let id = send(&srv, &["cmd@spec.test"]);
    let line = line_for(&srv, &format!("{id}: to=<cmd@spec.test>"));
    assert!(
        line.contains("status=sent (delivered to command: "),
        "{line}"
    );
    let env = std::fs::read_to_string(&out).unwrap();
    for want in [
        "CLIENT_HOSTNAME=unknown",
        "CLIENT_ADDRESS=127.0.0.1",
        "CLIENT_HELO=client.spec.test",
        "CLIENT_PROTOCOL=ESMTP",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    }
    // No AUTH in this session: no SASL_* variables.
    assert!(!env.contains("SASL_"), "{env}");
}
