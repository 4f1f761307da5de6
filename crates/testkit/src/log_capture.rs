//! The Postfix-format log of tests that run components in process (the
//! queue manager, smtpd sessions): the logger is global, so it is opened
//! once per test process, in a file under the system temporary directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The log file, opened on first use (as host `mx.spec.test`).
pub fn in_process_log() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("gatepost-test-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        gatepost_log::init(
            gatepost_log::LogTarget::File(&path),
            "mx.spec.test",
            "postfix",
        )
        .expect("open the test log");
        path
    })
}

/// The whole log so far.
pub fn in_process_log_text() -> String {
    std::fs::read_to_string(in_process_log()).unwrap_or_default()
}

/// Log lines mentioning `needle`, as `PROGRAM: MESSAGE` (the syslog
/// prefix up to `postfix/PROGRAM[PID]: ` cut down to the program name).
pub fn in_process_log_lines(needle: &str) -> Vec<String> {
    in_process_log_text()
        .lines()
        .filter(|l| l.contains(needle))
        .map(|l| match l.find("]: ") {
            Some(p) => {
                let tag = l[..p].rsplit(' ').next().unwrap_or("");
                let prog = tag.split('[').next().unwrap_or("");
                let prog = prog.rsplit('/').next().unwrap_or(prog);
                format!("{prog}: {}", &l[p + 3..])
            }
            None => l.to_string(),
        })
        .collect()
}
