//! Syslog output as Postfix's msg_syslog: RFC 3164 datagrams
//! (`<PRI>Mmm dd hh:mm:ss NAME/PROGRAM[PID]: MSG`, the format of the C
//! library's syslog(3)) sent to the local socket (`/dev/log`), with the
//! facility from `syslog_facility`. A syslog daemon that is down or
//! restarting loses lines, as with syslog(3); the socket is reconnected on
//! the next line.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use crate::Severity;

/// A syslog facility (`syslog_facility`, default `mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

/// Facility names with their codes (syslog.h).
const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

impl Facility {
    /// The mail facility (Postfix's default).
    pub const MAIL: Facility = Facility(2);

    /// A facility by name, case-insensitively (`mail`, `local0`, ...).
    pub fn from_name(name: &str) -> Option<Facility> {
        FACILITIES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, code)| Facility(*code))
    }

    /// The `<PRI>` value for a line of `severity`.
    fn priority(self, severity: Severity) -> u8 {
        let level = match severity {
            Severity::Info => 6,    // LOG_INFO
            Severity::Warning => 4, // LOG_WARNING
            Severity::Fatal => 2,   // LOG_CRIT, as msg_fatal
        };
        self.0 * 8 + level
    }
}

/// One syslog datagram (without a trailing newline, as syslog(3)).
pub(crate) fn format_datagram(
    facility: Facility,
    severity: Severity,
    tag: &str,
    pid: u32,
    msg: &str,
) -> String {
    let now = chrono::Local::now();
    format!(
        "<{}>{} {tag}[{pid}]: {msg}",
        facility.priority(severity),
        now.format("%b %e %H:%M:%S"),
    )
}

/// A connection to the local syslog socket.
pub(crate) struct SyslogSocket {
    path: PathBuf,
    facility: Facility,
    socket: Option<UnixDatagram>,
}

impl SyslogSocket {
    /// Connect to `path`; a socket nobody listens on yet is retried at
    /// each line.
    pub(crate) fn open(path: &Path, facility: Facility) -> SyslogSocket {
        SyslogSocket {
            path: path.to_path_buf(),
            facility,
            socket: connect(path).ok(),
        }
    }

    /// Send one line; reconnect once when the daemon went away.
    pub(crate) fn send(&mut self, severity: Severity, tag: &str, pid: u32, msg: &str) {
        let datagram = format_datagram(self.facility, severity, tag, pid, msg);
        if let Some(socket) = &self.socket {
            if socket.send(datagram.as_bytes()).is_ok() {
                return;
            }
        }
        self.socket = connect(&self.path).ok();
        if let Some(socket) = &self.socket {
            let _ = socket.send(datagram.as_bytes());
        }
    }
}

fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_names_as_syslog_h() {
        assert_eq!(Facility::from_name("MAIL"), Some(Facility::MAIL));
        assert_eq!(Facility::from_name("local7"), Some(Facility(23)));
        assert_eq!(Facility::from_name("nonsense"), None);
    }

    #[test]
    fn datagrams_reach_a_listening_socket_in_rfc3164_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let mut socket = SyslogSocket::open(&path, Facility::MAIL);
        socket.send(
            Severity::Info,
            "postfix/smtpd",
            4242,
            "connect from x[1.2.3.4]",
        );
        socket.send(Severity::Warning, "postfix/smtpd", 4242, "warning: w");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let first = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(first.starts_with("<22>"), "{first}");
        assert!(
            first.ends_with(" postfix/smtpd[4242]: connect from x[1.2.3.4]"),
            "{first}"
        );
        let n = server.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("<20>"));
    }
}
