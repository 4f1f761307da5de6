//! `gatepost start|status|stop|abort|reload` as `postfix start|status|
//! stop|abort|reload`: the pid file and its lock, Postfix's messages and
//! exit codes, and a second server on the same queue refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use gatepost_testkit::config_dir::base_main_cf;
use gatepost_testkit::{gatepost_bin, Client, TestServer};

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `gatepost -c DIR ARGS`.
fn gatepost(dir: &Path, args: &[&str]) -> Outcome {
    let out = Command::new(gatepost_bin!())
        .arg("-c")
        .arg(dir)
        .args(args)
        .output()
        .expect("run gatepost");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// A configuration directory for a server started with `start`; the
/// server is aborted when this goes away, whatever the test did.
struct Daemon {
    dir: tempfile::TempDir,
}

impl Daemon {
    fn configure() -> Daemon {
        let dir = gatepost_testkit::shared_tempdir().unwrap();
        std::fs::write(dir.path().join("main.cf"), base_main_cf(dir.path())).unwrap();
        std::fs::write(
            dir.path().join("master.cf"),
            "127.0.0.1:0 inet n - n - - smtpd\n",
        )
        .unwrap();
        Daemon { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pid_file(&self) -> PathBuf {
        self.path().join("spool/pid/master.pid")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = gatepost(self.dir.path(), &["abort"]);
    }
}

/// The address a `start` printed.
fn listening(stdout: &str) -> std::net::SocketAddr {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("gatepost: listening on "))
        .expect("listening line")
        .parse()
        .unwrap()
}

#[test]
fn start_status_reload_stop_exit_codes() {
    let d = Daemon::configure();
    let out = gatepost(d.path(), &["status"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("postfix/postfix-script: the Postfix mail system is not running"),
        "{}",
        out.stderr
    );
    for cmd in ["stop", "reload", "abort"] {
        let out = gatepost(d.path(), &[cmd]);
        assert_eq!(out.code, 1, "{cmd}");
        assert!(
            out.stderr
                .contains("postfix/postfix-script: fatal: the Postfix mail system is not running"),
            "{cmd}: {}",
            out.stderr
        );
    }

    let out = gatepost(d.path(), &["start"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("postfix/postfix-script: starting the Postfix mail system"),
        "{}",
        out.stderr
    );
    // Up when start returns: the pid file names it and it answers.
    let pid: u32 = std::fs::read_to_string(d.pid_file())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut c = Client::connect(listening(&out.stdout)).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    c.command("QUIT").unwrap();
    assert!(d
        .log()
        .contains(&format!("postfix/master[{pid}]: daemon started -- version")));

    let out = gatepost(d.path(), &["status"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains(&format!(
            "postfix/postfix-script: the Postfix mail system is running: PID: {pid}"
        )),
        "{}",
        out.stderr
    );

    let out = gatepost(d.path(), &["reload"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let out = gatepost(d.path(), &["stop"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("postfix/postfix-script: stopping the Postfix mail system"),
        "{}",
        out.stderr
    );
    // stop returns once the server is gone.
    assert_eq!(gatepost(d.path(), &["status"]).code, 1);
    let log = d.log();
    assert!(
        log.contains(&format!("postfix/master[{pid}]: terminating on signal 15")),
        "{log}"
    );
    assert!(
        log.contains(&format!("postfix/master[{pid}]: reload -- version")),
        "{log}"
    );
    assert_eq!(gatepost(d.path(), &["stop"]).code, 1);
}

#[test]
fn abort_stops_at_once() {
    let d = Daemon::configure();
    let out = gatepost(d.path(), &["start"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = gatepost(d.path(), &["abort"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("postfix/postfix-script: aborting the Postfix mail system"),
        "{}",
        out.stderr
    );
    assert_eq!(gatepost(d.path(), &["status"]).code, 1);
    // A new server starts on the same queue.
    let out = gatepost(d.path(), &["start"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_second_server_on_one_queue_is_refused() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    for cmd in ["serve", "start"] {
        let out = gatepost(srv.path(), &[cmd]);
        assert_eq!(out.code, 1, "{cmd}");
        assert!(
            out.stderr.contains(
                "postfix/postfix-script: fatal: the Postfix mail system is already running"
            ),
            "{cmd}: {}",
            out.stderr
        );
    }
    // The first one still serves.
    let mut c = Client::connect(srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    let log = srv.log();
    assert!(
        log.contains("postfix/postfix-script[")
            && log.contains("fatal: the Postfix mail system is already running"),
        "{log}"
    );
}

#[test]
fn start_reports_a_server_that_fails_to_start() {
    let d = Daemon::configure();
    // Something else holds the port the server wants.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        d.path().join("master.cf"),
        format!("{} inet n - n - - smtpd\n", taken.local_addr().unwrap()),
    )
    .unwrap();
    let out = gatepost(d.path(), &["start"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("bind 127.0.0.1:"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("postfix/postfix-script: fatal: mail system startup failed"),
        "{}",
        out.stderr
    );
    assert_eq!(gatepost(d.path(), &["status"]).code, 1);
}
