//! Which log a gatepost process writes to, from main.cf: `maillog_file`
//! when set; otherwise syslog (`syslog_facility`, `syslog_name`) for a
//! server started with `start` and for the control commands (as postlog(1)),
//! standard error for `serve` in the foreground.

use std::path::Path;

use anyhow::{Context, Result};
use gatepost_config::{params, Config};
use gatepost_log::{Facility, LogTarget};

/// The local syslog socket.
const SYSLOG_SOCKET: &str = "/dev/log";

/// Where lines go when `maillog_file` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    Stderr,
    Syslog,
}

/// Open (or reopen: a renamed `maillog_file` is created anew) the log.
pub fn open(cfg: &Config, fallback: Fallback) -> Result<()> {
    let maillog = cfg.get(&params::MAILLOG_FILE);
    let facility =
        Facility::from_name(&cfg.get(&params::SYSLOG_FACILITY)).unwrap_or(Facility::MAIL);
    let target = match (maillog.is_empty(), fallback) {
        (false, _) => LogTarget::File(Path::new(&maillog)),
        (true, Fallback::Syslog) => LogTarget::Syslog {
            socket: Path::new(SYSLOG_SOCKET),
            facility,
        },
        (true, Fallback::Stderr) => LogTarget::Stderr,
    };
    gatepost_log::reopen(
        target,
        &cfg.get(&params::MYHOSTNAME),
        &cfg.get(&params::SYSLOG_NAME),
    )
    .with_context(|| format!("open maillog_file {maillog}"))
}
