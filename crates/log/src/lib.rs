//! Postfix-format mail logging.
//!
//! Owns the one place where log lines are written: the syslog-style prefix
//! `Mon DD HH:MM:SS host NAME/PROGRAM[PID]: ` (NAME is `syslog_name`, default
//! `postfix`, so that existing Postfix log tools such as pflogsumm read our
//! logs), the sink (`maillog_file`, syslog or stderr: `sink`, `syslog`), the
//! PID shown per SMTP session or delivery (`scope`), and the sanitising of
//! untrusted text before it reaches a log line.
//!
//! Every component logs through [`info`] / [`warning`] with its Postfix
//! program name (`smtpd`, `cleanup`, `qmgr`, `local`, ...).
//!
//! Modules: `scope` (per-session PIDs), `sink` (where lines go), `syslog`
//! (the syslog datagram format); this file holds the line functions, the
//! reject line (`ActionLine`) and sanitising.
#![forbid(unsafe_code)]

mod scope;
mod sink;
mod syslog;

use std::fmt::Display;

pub use scope::{next_pid, scope};
pub use sink::{init, reopen, LogTarget};
pub use syslog::Facility;

/// How serious a line is: decides the `warning: ` / `fatal: ` prefix and,
/// for syslog, the priority (Postfix's msg_info, msg_warn, msg_fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Fatal,
}

/// Format one complete log line (without the trailing newline).
pub fn format_line(
    hostname: &str,
    syslog_name: &str,
    program: &str,
    pid: u32,
    msg: &str,
) -> String {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(64 + msg.len());
    with_timestamp(|stamp| line.push_str(stamp));
    let _ = write!(line, " {hostname} {syslog_name}/{program}[{pid}]: {msg}");
    line
}

/// Call `f` with the local time in syslog's `Mon DD HH:MM:SS` form. The
/// text is made once per second per thread: a busy server logs several
/// lines per message, and the time zone lookup behind each conversion
/// costs more than the rest of the line.
fn with_timestamp(f: impl FnOnce(&str)) {
    thread_local! {
        static STAMP: std::cell::RefCell<(u64, String)> =
            const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    STAMP.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let local = chrono::DateTime::<chrono::Local>::from(now);
            let text = local.format("%b %e %H:%M:%S").to_string();
            *cached = (second, text);
        }
        f(&cached.1);
    });
}

/// `strerror(errno)` text of an I/O error, as Postfix's `%m`: `No space
/// left on device`, without Rust's ` (os error 28)` suffix.
pub fn io_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(pos) if text.ends_with(')') => text[..pos].to_string(),
        _ => text,
    }
}

/// Log an informational line for `program` (e.g. `"smtpd"`).
pub fn info(program: &str, msg: impl Display) {
    sink::emit(program, Severity::Info, &msg.to_string());
}

/// Log `warning: MSG` for `program`.
pub fn warning(program: &str, msg: impl Display) {
    sink::emit(program, Severity::Warning, &format!("warning: {msg}"));
}

/// Log `fatal: MSG` for `program` (the caller decides whether to exit).
pub fn fatal(program: &str, msg: impl Display) {
    sink::emit(program, Severity::Fatal, &format!("fatal: {msg}"));
}

/// Replace non-printable characters in untrusted text with `?`, as Postfix
/// does before logging client-supplied data, and cap the length.
pub fn sanitize(text: &str) -> String {
    const MAX: usize = 1000;
    let mut out = String::with_capacity(text.len().min(MAX));
    for ch in text.chars().take(MAX) {
        if ch.is_control() {
            out.push('?');
        } else {
            out.push(ch);
        }
    }
    out
}

/// Escape bytes as Postfix does in `improper command pipelining` lines:
/// CR and LF as `\r` and `\n`, other non-printables as `\ooo`, at most `max`
/// input bytes.
pub fn escape_bytes(data: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in data.iter().take(max) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// The parts of a `reject:` (or `warn:`, `reject_warning:` ...) log line:
/// `ID: ACTION: STAGE from name[addr]: REPLY; from=<S> to=<R> proto=P helo=<H>`.
pub struct ActionLine<'a> {
    /// Queue id, or `None` for `NOQUEUE`.
    pub queue_id: Option<&'a str>,
    /// `reject`, `reject_warning`, `warn`, `info`, `hold`, `discard`, ...
    pub action: &'a str,
    /// `CONNECT`, `HELO`, `EHLO`, `MAIL`, `RCPT`, `DATA`, `END-OF-MESSAGE`, `VRFY`, `ETRN`.
    pub stage: &'a str,
    /// `name[addr]`.
    pub client: &'a str,
    /// The reply or text, e.g. `554 5.7.1 <x@y>: Relay access denied`.
    pub text: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    /// `SMTP` or `ESMTP`; `None` before any HELO/EHLO.
    pub proto: Option<&'a str>,
    pub helo: Option<&'a str>,
}

impl ActionLine<'_> {
    /// Render the line exactly as Postfix's smtpd does.
    pub fn render(&self) -> String {
        let mut line = format!(
            "{}: {}: {} from {}: {};",
            self.queue_id.unwrap_or("NOQUEUE"),
            self.action,
            self.stage,
            self.client,
            sanitize(self.text)
        );
        if let Some(from) = self.from {
            line.push_str(&format!(" from=<{}>", sanitize(from)));
        }
        if let Some(to) = self.to {
            line.push_str(&format!(" to=<{}>", sanitize(to)));
        }
        if let Some(proto) = self.proto {
            line.push_str(&format!(" proto={proto}"));
        }
        if let Some(helo) = self.helo {
            line.push_str(&format!(" helo=<{}>", sanitize(helo)));
        }
        line
    }

    /// Render and write the line to the smtpd log.
    pub fn log(&self) {
        info("smtpd", self.render());
    }
}

/// Format a delay in seconds the way Postfix does (two significant digits,
/// `delay_logging_resolution_limit` = 2): `0.01`, `0.5`, `3.2`, `33`, `120`.
pub fn format_delay(secs: f64) -> String {
    if secs <= 0.0 {
        return "0".to_string();
    }
    if secs >= 10.0 {
        return format!("{}", secs.round() as u64);
    }
    if secs >= 1.0 {
        let v = (secs * 10.0).round() / 10.0;
        return trim_zeros(format!("{v:.1}"));
    }
    if secs < 0.01 {
        return "0".to_string();
    }
    let v = (secs * 100.0).round() / 100.0;
    trim_zeros(format!("{v:.2}"))
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_line_has_postfix_layout() {
        let line = ActionLine {
            queue_id: None,
            action: "reject",
            stage: "RCPT",
            client: "localhost[127.0.0.1]",
            text: "554 5.7.1 <x@far.example>: Relay access denied",
            from: Some("a@ext.example"),
            to: Some("x@far.example"),
            proto: Some("ESMTP"),
            helo: Some("client.example"),
        }
        .render();
        assert_eq!(
            line,
            "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <x@far.example>: Relay access denied; from=<a@ext.example> to=<x@far.example> proto=ESMTP helo=<client.example>"
        );
    }

    #[test]
    fn delays_have_two_significant_digits() {
        assert_eq!(format_delay(0.0), "0");
        assert_eq!(format_delay(0.004), "0");
        assert_eq!(format_delay(0.013), "0.01");
        assert_eq!(format_delay(0.5), "0.5");
        assert_eq!(format_delay(3.24), "3.2");
        assert_eq!(format_delay(33.4), "33");
    }

    #[test]
    fn a_line_has_the_syslog_prefix_and_the_local_time() {
        let stamp = || chrono::Local::now().format("%b %e %H:%M:%S").to_string();
        for _ in 0..2 {
            let before = stamp();
            let line = format_line("mx", "postfix", "smtpd", 42, "connect from x");
            let after = stamp();
            let (time, rest) = line.split_at(before.len());
            assert!(time == before || time == after, "{line}");
            assert_eq!(rest, " mx postfix/smtpd[42]: connect from x");
        }
    }

    #[test]
    fn escapes_pipelined_bytes() {
        assert_eq!(escape_bytes(b"EHLO x\r\n", 100), "EHLO x\\r\\n");
    }

    #[test]
    fn sanitizes_controls() {
        assert_eq!(sanitize("a\u{1}b"), "a?b");
    }
}
