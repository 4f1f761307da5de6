//! Where log lines go: `maillog_file` (appended, reopened on request so
//! that a rotated file is let go), the syslog socket, or standard error.
//! One process-wide sink, installed at start-up and replaced on reload or
//! log rotation.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use crate::scope::current_pid;
use crate::syslog::SyslogSocket;
use crate::{format_line, Facility, Severity};

/// Log destination.
pub enum LogTarget<'a> {
    /// Standard error (`maillog_file` empty, server in the foreground).
    Stderr,
    /// Append to a file (`maillog_file`).
    File(&'a Path),
    /// The local syslog socket (normally `/dev/log`) with a facility.
    Syslog {
        socket: &'a Path,
        facility: Facility,
    },
}

enum Output {
    Stderr,
    File(File),
    Syslog(SyslogSocket),
}

struct State {
    out: Output,
    hostname: String,
    syslog_name: String,
}

static SINK: Mutex<Option<State>> = Mutex::new(None);

fn sink() -> std::sync::MutexGuard<'static, Option<State>> {
    SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open(target: LogTarget<'_>, hostname: &str, syslog_name: &str) -> io::Result<State> {
    let out = match target {
        LogTarget::Stderr => Output::Stderr,
        LogTarget::File(path) => Output::File(open_append(path)?),
        LogTarget::Syslog { socket, facility } => {
            Output::Syslog(SyslogSocket::open(socket, facility))
        }
    };
    Ok(State {
        out,
        hostname: hostname.split('.').next().unwrap_or(hostname).to_string(),
        syslog_name: syslog_name.to_string(),
    })
}

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Install the sink. Later calls are ignored (first one wins), which lets
/// tests that share a process call it freely.
pub fn init(target: LogTarget<'_>, hostname: &str, syslog_name: &str) -> io::Result<()> {
    let mut sink = sink();
    if sink.is_none() {
        *sink = Some(open(target, hostname, syslog_name)?);
    }
    Ok(())
}

/// Replace the sink: open the target anew (a `maillog_file` that was
/// renamed is created again) and write there from now on. On error the
/// current sink stays.
pub fn reopen(target: LogTarget<'_>, hostname: &str, syslog_name: &str) -> io::Result<()> {
    let mut sink = sink();
    *sink = Some(open(target, hostname, syslog_name)?);
    Ok(())
}

/// Write one line to the sink (stderr in the log format when none is
/// installed yet).
pub(crate) fn emit(program: &str, severity: Severity, msg: &str) {
    let pid = current_pid();
    let mut sink = sink();
    let Some(state) = sink.as_mut() else {
        drop(sink);
        eprintln!("{}", format_line("localhost", "postfix", program, pid, msg));
        return;
    };
    let mut line = format_line(&state.hostname, &state.syslog_name, program, pid, msg);
    // One write per line: lines of concurrent writers never interleave.
    line.push('\n');
    match &mut state.out {
        Output::Stderr => {
            let _ = io::stderr().write_all(line.as_bytes());
        }
        Output::File(file) => {
            let _ = file.write_all(line.as_bytes());
        }
        Output::Syslog(socket) => {
            let tag = format!("{}/{program}", state.syslog_name);
            socket.send(severity, &tag, pid, msg);
        }
    }
}
