//! Shared by the tests that deliver into a real Dovecot (Debian's
//! dovecot-lmtpd): find it, and start it as an ordinary process with its
//! own configuration and an LMTP listener.

use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use gatepost_testkit::wait_until;

/// The dovecot binary, when it and its LMTP server are installed.
pub fn dovecot_lmtp() -> Option<&'static str> {
    let lmtpd = ["/usr/lib/dovecot/lmtp", "/usr/libexec/dovecot/lmtp"]
        .into_iter()
        .any(|p| Path::new(p).is_file());
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .into_iter()
        .find(|p| lmtpd && Path::new(p).is_file())
}

pub struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Dovecot with an LMTP listener at `socket` and the `users` (full
/// addresses), each with the Maildir `home/LOCALPART/Maildir` under `dir`.
pub fn start_dovecot(dovecot: &str, dir: &Path, socket: &Path, users: &[&str]) -> Killed {
    let d = dir.display();
    // Mail is stored with the user's uid: as root, nobody's; else our own.
    let own = std::fs::metadata(dir).unwrap().uid();
    let uid = if own == 0 { 65534 } else { own };
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::set_permissions(dir.join("home"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let lines: String = users
        .iter()
        .map(|user| {
            let local = user.split('@').next().unwrap_or(user);
            format!("{user}::{uid}:{uid}::{d}/home/{local}\n")
        })
        .collect();
    std::fs::write(dir.join("users"), lines).unwrap();
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

/// Dovecot listening on `private/dovecot-lmtp` in the queue directory of
/// the test server under `server_dir` (where gatepost's `lmtp:unix:`
/// looks), with its own directory; both are kept alive by the result.
pub fn start_dovecot_for_server(
    dovecot: &str,
    server_dir: &Path,
    users: &[&str],
) -> (tempfile::TempDir, Killed) {
    let dovecot_dir = gatepost_testkit::shared_tempdir().unwrap();
    let private = server_dir.join("spool/private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
    let running = start_dovecot(
        dovecot,
        dovecot_dir.path(),
        &private.join("dovecot-lmtp"),
        users,
    );
    (dovecot_dir, running)
}

/// The one message Dovecot stored in `user`'s Maildir under `dovecot_dir`.
pub fn the_stored_message(dovecot_dir: &Path, user: &str) -> String {
    let new = dovecot_dir.join(format!("home/{user}/Maildir/new"));
    let files: Vec<_> = std::fs::read_dir(&new)
        .unwrap_or_else(|e| panic!("{}: {e}", new.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0]).unwrap()
}
