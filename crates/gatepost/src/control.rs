//! The operator commands around the server, as `postfix start|stop|
//! reload|status|abort|logrotate` (postfix(1), postfix-script): they find
//! the running server through its locked pid file (`master_lock`), signal
//! it (SIGTERM stop, SIGHUP reload, SIGKILL abort) and say what they do
//! with Postfix's words, as `NAME/postfix-script: ...` on stderr and in
//! the log (`maillog_file`, else syslog).

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gatepost_config::{params, Config};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::master_lock::running;

/// The control commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    Reload,
    Status,
    Abort,
    Logrotate,
}

/// How long `stop` waits for an orderly stop before it kills (Postfix: 5
/// tries a second apart).
const STOP_TRIES: u32 = 5;
/// How often a waiting command looks at the lock again.
const POLL: Duration = Duration::from_millis(50);

/// Messages as Postfix's postfix-script writes them through postlog(1).
pub struct Script {
    name: String,
    to_log: bool,
}

impl Script {
    /// `NAME/postfix-script` from `syslog_name`; `to_log`: also write the
    /// lines to the log sink.
    pub fn new(cfg: &Config, to_log: bool) -> Script {
        Script {
            name: format!("{}/postfix-script", cfg.get(&params::SYSLOG_NAME)),
            to_log,
        }
    }

    pub fn info(&self, msg: impl Display) {
        eprintln!("{}: {msg}", self.name);
        if self.to_log {
            gatepost_log::info("postfix-script", msg);
        }
    }

    pub fn warning(&self, msg: impl Display) {
        eprintln!("{}: warning: {msg}", self.name);
        if self.to_log {
            gatepost_log::warning("postfix-script", msg);
        }
    }

    pub fn fatal(&self, msg: impl Display) {
        eprintln!("{}: fatal: {msg}", self.name);
        if self.to_log {
            gatepost_log::fatal("postfix-script", msg);
        }
    }
}

/// Run `command` for the server of `cfg` (read from `config_dir`).
pub fn run(command: Command, cfg: &Config, config_dir: Option<&Path>) -> Result<ExitCode> {
    let queue_dir = PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY));
    // logrotate must not write the file it rotates before the server has
    // reopened it.
    let to_log = command != Command::Logrotate;
    if to_log {
        // As postlog(1): to maillog_file, else syslog; a log that cannot be
        // opened leaves the messages on stderr.
        let _ = crate::logging::open(cfg, crate::logging::Fallback::Syslog);
    }
    let script = Script::new(cfg, to_log);
    let pid = running(&queue_dir).with_context(|| {
        format!(
            "lock file {}",
            crate::master_lock::pid_path(&queue_dir).display()
        )
    })?;
    let code = match (command, pid) {
        (Command::Start, Some(_)) => {
            script.fatal("the Postfix mail system is already running");
            1
        }
        (Command::Start, None) => {
            script.info("starting the Postfix mail system");
            if crate::daemon::spawn_and_wait(config_dir)? {
                0
            } else {
                script.fatal("mail system startup failed");
                1
            }
        }
        (Command::Status, Some(pid)) => {
            script.info(format!("the Postfix mail system is running: PID: {pid}"));
            0
        }
        (Command::Status, None) => {
            script.info("the Postfix mail system is not running");
            1
        }
        (Command::Logrotate, pid) => logrotate(cfg, &script, pid)?,
        (Command::Stop | Command::Reload | Command::Abort, None) => {
            script.fatal("the Postfix mail system is not running");
            1
        }
        (Command::Stop, Some(pid)) => stop(&script, &queue_dir, pid)?,
        (Command::Reload, Some(pid)) => {
            script.info("refreshing the Postfix mail system");
            send(pid, Signal::SIGHUP)?;
            0
        }
        (Command::Abort, Some(pid)) => {
            script.info("aborting the Postfix mail system");
            kill_group(pid)?;
            wait_until_stopped(&queue_dir, Duration::from_secs(5));
            0
        }
    };
    Ok(ExitCode::from(code))
}

/// `stop`: SIGTERM, then wait; after 5 seconds, SIGKILL.
fn stop(script: &Script, queue_dir: &Path, pid: u32) -> Result<u8> {
    script.info("stopping the Postfix mail system");
    send(pid, Signal::SIGTERM)?;
    for _ in 0..STOP_TRIES {
        if wait_until_stopped(queue_dir, Duration::from_secs(1)) {
            return Ok(0);
        }
        script.info("waiting for the Postfix mail system to terminate");
    }
    script.warning("stopping the Postfix mail system with force");
    kill_group(pid)?;
    wait_until_stopped(queue_dir, Duration::from_secs(5));
    Ok(0)
}

/// True once no server holds the lock on `queue_dir`, false after `limit`.
fn wait_until_stopped(queue_dir: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if matches!(running(queue_dir), Ok(None)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

fn pid_of(pid: u32) -> Result<Pid> {
    match i32::try_from(pid) {
        Ok(n) if n > 0 => Ok(Pid::from_raw(n)),
        _ => anyhow::bail!("no valid process id in the pid file"),
    }
}

fn send(pid: u32, signal: Signal) -> Result<()> {
    kill(pid_of(pid)?, signal).with_context(|| format!("send {signal} to process {pid}"))
}

/// SIGKILL the server's process group (a daemon leads its own), else the
/// server alone (one started in the foreground).
fn kill_group(pid: u32) -> Result<()> {
    let target = pid_of(pid)?;
    if nix::unistd::getpgid(Some(target)) == Ok(target) {
        kill(Pid::from_raw(-target.as_raw()), Signal::SIGKILL)
            .with_context(|| format!("kill process group {pid}"))
    } else {
        send(pid, Signal::SIGKILL)
    }
}

/// `logrotate`, as Postfix's: rename `maillog_file` with the
/// `maillog_file_rotate_suffix` date, have the running server reopen it
/// (SIGHUP), then compress the old one with `maillog_file_compressor`.
fn logrotate(cfg: &Config, script: &Script, pid: Option<u32>) -> Result<u8> {
    let mut values = Vec::new();
    for param in [
        &params::MAILLOG_FILE,
        &params::MAILLOG_FILE_COMPRESSOR,
        &params::MAILLOG_FILE_ROTATE_SUFFIX,
    ] {
        let name = param.name();
        let value = cfg.get(param);
        if value.is_empty() {
            script.fatal(format!(
                "empty '{name}' parameter value - logfile rotation failed"
            ));
            return Ok(1);
        }
        values.push(value);
    }
    let (maillog, compressor, suffix_format) = (&values[0], &values[1], &values[2]);
    if maillog.starts_with("/dev/") {
        script.fatal(format!("not rotating '{maillog}'"));
        return Ok(1);
    }
    match rotate(maillog, compressor, suffix_format, pid) {
        Ok(()) => Ok(0),
        Err(e) => {
            script.fatal(format!("logfile '{maillog}' rotation failed: {e:#}"));
            Ok(1)
        }
    }
}

fn rotate(maillog: &str, compressor: &str, suffix_format: &str, pid: Option<u32>) -> Result<()> {
    use std::fmt::Write;
    let mut suffix = String::new();
    write!(suffix, "{}", chrono::Local::now().format(suffix_format))
        .map_err(|_| anyhow::anyhow!("bad maillog_file_rotate_suffix {suffix_format:?}"))?;
    let rotated = format!("{maillog}.{suffix}");
    std::fs::rename(maillog, &rotated).with_context(|| format!("mv {maillog} {rotated}"))?;
    if let Some(pid) = pid {
        send(pid, Signal::SIGHUP)?;
        // The server creates the file anew when it reopens it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !Path::new(maillog).exists() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
    let output = std::process::Command::new(compressor)
        .arg(&rotated)
        .output()
        .with_context(|| format!("{compressor} {rotated}"))?;
    if !output.status.success() {
        anyhow::bail!(
            "{compressor} {rotated}: {} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    Ok(())
}
