//! maillog_file rotation: `gatepost logrotate` as `postfix logrotate`
//! (rename with a date suffix, the server reopens, the old file is
//! compressed), and a rename by an outside tool (logrotate(8) without
//! copytruncate) followed by `gatepost reload`: either way, new lines go
//! to the new file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gatepost_testkit::{gatepost_bin, Client, TestServer};

/// `gatepost -c DIR ARGS`: exit code and stderr.
fn gatepost(dir: &Path, args: &[&str]) -> (i32, String) {
    gatepost_testkit::server::run_gatepost(gatepost_bin!(), dir, args)
}

/// Connect from `source`, quit, and wait for the disconnect line.
fn short_session(srv: &TestServer, source: &str) {
    let mut c = Client::connect_from(source, srv.addr).unwrap();
    assert_eq!(c.read_reply().unwrap().code, 220);
    c.command("QUIT").unwrap();
    let needle = format!("disconnect from unknown[{source}]");
    assert!(
        srv.wait_for_log(&needle, Duration::from_secs(10)),
        "{needle}: {}",
        srv.log()
    );
}

#[test]
fn logrotate_renames_reopens_and_compresses() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    short_session(&srv, "127.0.0.2");

    let (code, stderr) = gatepost(srv.path(), &["logrotate"]);
    assert_eq!(code, 0, "{stderr}");
    let rotated: Vec<_> = std::fs::read_dir(srv.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("maillog.") && n.ends_with(".gz"))
        .collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    let old = Command::new("gzip")
        .arg("-dc")
        .arg(srv.path().join(&rotated[0]))
        .output()
        .unwrap();
    let old = String::from_utf8_lossy(&old.stdout).to_string();
    assert!(old.contains("connect from unknown[127.0.0.2]"), "{old}");

    // The server reopened the file: new lines are in the new one.
    assert!(srv.wait_for_log("reload -- version", Duration::from_secs(10)));
    short_session(&srv, "127.0.0.3");
    let new = srv.log();
    assert!(!new.contains("[127.0.0.2]"), "{new}");
}

#[test]
fn renamed_log_is_reopened_on_reload() {
    let srv = TestServer::start(gatepost_bin!(), "").unwrap();
    short_session(&srv, "127.0.0.2");
    let moved = srv.path().join("maillog.1");
    std::fs::rename(srv.path().join("maillog"), &moved).unwrap();

    let (code, stderr) = gatepost(srv.path(), &["reload"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        srv.wait_for_log("reload -- version", Duration::from_secs(10)),
        "{}",
        std::fs::read_to_string(&moved).unwrap_or_default()
    );
    short_session(&srv, "127.0.0.3");
    let old = std::fs::read_to_string(&moved).unwrap();
    assert!(old.contains("[127.0.0.2]"), "{old}");
    assert!(!old.contains("[127.0.0.3]"), "{old}");
    assert!(!srv.log().contains("[127.0.0.2]"), "{}", srv.log());
}
