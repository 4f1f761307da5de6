//! `gatepost sendmail` (also the binary invoked as `sendmail`): Postfix's
//! sendmail(1) submission interface. Reads a message on stdin and drops it
//! into `maildrop` (with the submitting uid), then wakes the server's
//! pickup through `public/qmgr`; pickup runs it through cleanup into the
//! queue. When the server is down the file waits in maildrop and is picked
//! up at the next start.
//!
//! Options (getopt style, as Postfix): `-t` (recipients from To:/Cc:/Bcc:,
//! added to those given as arguments; Bcc: is removed by cleanup), `-f
//! SENDER` / `-r SENDER`, `-F FULLNAME`, `-i` / `-oi` (a lone `.` does not
//! end the input), `-bm` (default), `-bs` (SMTP on stdin/stdout), `-bp`
//! (mailq), `-q` (flush), `-C DIR` (configuration directory); other
//! Postfix options that take a value (`-B -N -R -V -X -L -h -o?`) are
//! accepted and ignored. A leading UNIX `From ` line is skipped and CRLF
//! line ends become LF.
//!
//! `-bs` is a minimal SMTP dialogue written here (HELO/EHLO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT) that enqueues through the same maildrop path;
//! it does not run the network smtpd and its restrictions (local users are
//! trusted, as Postfix trusts local submissions). Input is bounded by
//! `line_length_limit`-free line reads of at most `MAX_SMTP_LINE` bytes per
//! command line.

use std::io::{BufRead, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use gatepost_config::Config;
use gatepost_queue::{header_recipients, Queue, Submission, TriggerOutcome, TriggerRequest};

/// Postfix's sendmail exits with EX_TEMPFAIL (sysexits.h) on every fatal
/// error, usage errors included.
pub const EX_TEMPFAIL: u8 = 75;
/// Longest SMTP command line read in `-bs` mode.
const MAX_SMTP_LINE: usize = 4096;

/// What sendmail was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deliver the message on stdin (`-bm`, the default).
    Deliver,
    /// SMTP on stdin/stdout (`-bs`).
    Smtp,
    /// Show the queue (`-bp`, like mailq).
    ListQueue,
    /// Flush the queue (`-q`).
    Flush,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub extract: bool,
    pub ignore_dots: bool,
    /// `-f`: `Some("")` for the null sender.
    pub sender: Option<String>,
    pub full_name: Option<String>,
    /// `-C DIR`.
    pub config_dir: Option<PathBuf>,
    pub recipients: Vec<String>,
}

/// Parse sendmail's command line (without argv[0]).
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        mode: Mode::Deliver,
        extract: false,
        ignore_dots: false,
        sender: None,
        full_name: None,
        config_dir: None,
        recipients: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            o.recipients.extend(args[i..].iter().cloned());
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            o.recipients.push(arg.clone());
            continue;
        };
        let chars = flags.char_indices();
        for (pos, c) in chars {
            let rest = &flags[pos + c.len_utf8()..];
            // Options with a value: attached, or the next argument.
            let value = |i: &mut usize| -> Result<String, String> {
                if !rest.is_empty() {
                    Ok(rest.to_string())
                } else if let Some(v) = args.get(*i) {
                    *i += 1;
                    Ok(v.clone())
                } else {
                    Err(format!("option requires an argument -- {c}"))
                }
            };
            match c {
                't' => o.extract = true,
                'i' => o.ignore_dots = true,
                'n' | 'v' | 'm' | 'U' | 'G' | 'I' | 'x' => {}
                'f' | 'r' => {
                    let v = value(&mut i)?;
                    let v = v.trim();
                    let v = v
                        .strip_prefix('<')
                        .and_then(|x| x.strip_suffix('>'))
                        .unwrap_or(v);
                    o.sender = Some(v.to_string());
                    break;
                }
                'F' => {
                    o.full_name = Some(value(&mut i)?);
                    break;
                }
                'C' => {
                    o.config_dir = Some(PathBuf::from(value(&mut i)?));
                    break;
                }
                'B' | 'N' | 'R' | 'V' | 'X' | 'L' | 'h' => {
                    value(&mut i)?;
                    break;
                }
                'o' => {
                    // -oX[value]: only -oi matters.
                    if rest.starts_with('i') {
                        o.ignore_dots = true;
                    }
                    break;
                }
                'b' => {
                    o.mode = match rest {
                        "m" | "" => Mode::Deliver,
                        "s" => Mode::Smtp,
                        "p" => Mode::ListQueue,
                        other => return Err(format!("unsupported: -b{other}")),
                    };
                    break;
                }
                'q' => {
                    o.mode = Mode::Flush;
                    break;
                }
                other => return Err(format!("invalid option -- '{other}'")),
            }
        }
    }
    Ok(o)
}

/// Read a message: CRLF → LF, skip a leading `From ` line, stop at a lone
/// `.` unless `ignore_dots`.
pub fn read_message(input: &mut impl BufRead, ignore_dots: bool) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let mut body: &[u8] = &line;
        if let Some(b) = body.strip_suffix(b"\n") {
            body = b;
        }
        if let Some(b) = body.strip_suffix(b"\r") {
            body = b;
        }
        if std::mem::take(&mut first) && body.starts_with(b"From ") {
            continue;
        }
        if !ignore_dots && body == b"." {
            break;
        }
        out.extend_from_slice(body);
        out.push(b'\n');
    }
    Ok(out)
}

/// The submitting user: real uid and login name.
fn submitter() -> (u32, String) {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let from_passwd = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
            })
        });
    let name = from_passwd
        .or_else(|| std::env::var("LOGNAME").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    (uid, name)
}

/// Wake pickup; say so when nobody listens (the file waits in maildrop).
fn wake_pickup(queue: &Queue) {
    if queue.send_trigger(&[TriggerRequest::Pickup]) == TriggerOutcome::SystemDown {
        eprintln!("postdrop: warning: unable to look up public/pickup: No such file or directory");
    }
}

pub fn run(cfg: &Config, opts: Options) -> Result<ExitCode> {
    let queue = crate::queue_cmd::open_queue(cfg)?;
    match opts.mode {
        Mode::ListQueue => return crate::queue_cmd::list(&queue),
        Mode::Flush => {
            return crate::queue_cmd::run(cfg, crate::queue_cmd::QueueCmd::Flush);
        }
        Mode::Smtp => {
            let (uid, login) = submitter();
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            smtp_session(
                &queue,
                &mut stdin.lock(),
                &mut stdout.lock(),
                uid,
                &login,
                &cfg.get("myhostname"),
            )
            .context("SMTP session on stdin/stdout")?;
            return Ok(ExitCode::SUCCESS);
        }
        Mode::Deliver => {}
    }
    let (uid, login) = submitter();
    if !opts.extract && opts.recipients.is_empty() {
        eprintln!("sendmail: fatal: {login}({uid}): Recipient addresses must be specified on the command line or via the -t option");
        return Ok(ExitCode::from(EX_TEMPFAIL));
    }
    let content = read_message(&mut std::io::stdin().lock(), opts.ignore_dots)
        .context("read message from stdin")?;
    if opts.extract && opts.recipients.is_empty() && header_recipients(&content).is_empty() {
        eprintln!(
            "sendmail: fatal: {login}({uid}): No recipient addresses found in message header"
        );
        return Ok(ExitCode::from(EX_TEMPFAIL));
    }
    let sub = Submission {
        uid,
        time: SystemTime::now(),
        sender: opts.sender.unwrap_or(login),
        full_name: opts.full_name,
        extract_recipients: opts.extract,
        recipients: opts.recipients,
        content,
    };
    match queue.post_to_maildrop(&sub) {
        Ok(_) => {
            wake_pickup(&queue);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("sendmail: fatal: {e}");
            Ok(ExitCode::from(EX_TEMPFAIL))
        }
    }
}

/// The address inside `<...>` of a MAIL FROM/RCPT TO argument (`None`
/// when malformed); parameters after it are ignored.
fn path_arg(arg: &str) -> Option<String> {
    let arg = arg.trim_start();
    let rest = arg.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_string())
}

/// Read one line (without CRLF); `None` at end of input. Longer lines are
/// truncated to `MAX_SMTP_LINE`.
fn read_line(input: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = std::io::Read::take(&mut *input, MAX_SMTP_LINE as u64).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        // Discard the rest of an over-long line.
        let mut sink = Vec::new();
        input.read_until(b'\n', &mut sink)?;
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// `-bs`: a minimal SMTP session on `input`/`output`.
pub fn smtp_session(
    queue: &Queue,
    input: &mut impl BufRead,
    output: &mut impl Write,
    uid: u32,
    login: &str,
    myhostname: &str,
) -> std::io::Result<()> {
    let reply = |out: &mut dyn Write, text: &str| -> std::io::Result<()> {
        out.write_all(text.replace('\n', "\r\n").as_bytes())?;
        out.write_all(b"\r\n")?;
        out.flush()
    };
    reply(output, &format!("220 {myhostname} ESMTP Postfix"))?;
    let mut sender: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    while let Some(line) = read_line(input)? {
        let line = String::from_utf8_lossy(&line).to_string();
        let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
        let upper = verb.to_ascii_uppercase();
        let arg_upper = arg.to_ascii_uppercase();
        let answer = match upper.as_str() {
            "HELO" => format!("250 {myhostname}"),
            "EHLO" => format!("250-{myhostname}\n250-PIPELINING\n250-8BITMIME\n250 SMTPUTF8"),
            "MAIL" if sender.is_some() => "503 5.5.1 Error: nested MAIL command".into(),
            "MAIL" => match arg_upper
                .strip_prefix("FROM:")
                .and_then(|_| path_arg(&arg[5..]))
            {
                Some(s) => {
                    sender = Some(s);
                    "250 2.1.0 Ok".into()
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
            },
            "RCPT" if sender.is_none() => "503 5.5.1 Error: need MAIL command".into(),
            "RCPT" => match arg_upper
                .strip_prefix("TO:")
                .and_then(|_| path_arg(&arg[3..]))
            {
                Some(r) if !r.is_empty() => {
                    rcpts.push(r);
                    "250 2.1.5 Ok".into()
                }
                _ => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
            },
            "DATA" if rcpts.is_empty() => "503 5.5.1 Error: need RCPT command".into(),
            "DATA" => {
                reply(output, "354 End data with <CR><LF>.<CR><LF>")?;
                let mut content = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if input.read_until(b'\n', &mut l)? == 0 {
                        return Ok(());
                    }
                    while l.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        l.pop();
                    }
                    if l == b"." {
                        break;
                    }
                    let body = l.strip_prefix(b".").unwrap_or(&l);
                    content.extend_from_slice(body);
                    content.push(b'\n');
                }
                let sub = Submission {
                    uid,
                    time: SystemTime::now(),
                    sender: sender.take().unwrap_or_else(|| login.to_string()),
                    full_name: None,
                    extract_recipients: false,
                    recipients: std::mem::take(&mut rcpts),
                    content,
                };
                match queue.post_to_maildrop(&sub) {
                    Ok(id) => {
                        wake_pickup(queue);
                        format!("250 2.0.0 Ok: queued as {id}")
                    }
                    Err(_) => "451 4.3.0 Error: queue file write error".into(),
                }
            }
            "RSET" => {
                sender = None;
                rcpts.clear();
                "250 2.0.0 Ok".into()
            }
            "NOOP" => "250 2.0.0 Ok".into(),
            "QUIT" => {
                reply(output, "221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => "502 5.5.2 Error: command not recognized".into(),
        };
        reply(output, &answer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn option_parsing() {
        let o = parse_args(&args(&["-t", "-i", "-f", "a@b", "-F", "Al Ice", "x", "y"])).unwrap();
        assert!(o.extract && o.ignore_dots);
        assert_eq!(o.sender.as_deref(), Some("a@b"));
        assert_eq!(o.full_name.as_deref(), Some("Al Ice"));
        assert_eq!(o.recipients, vec!["x", "y"]);
        assert_eq!(o.mode, Mode::Deliver);

        let o = parse_args(&args(&[
            "-ti", "-oi", "-fme", "-f<>", "-bs", "-Cdir", "-oem", "--", "-odd",
        ]))
        .unwrap();
        assert!(o.extract && o.ignore_dots);
        assert_eq!(o.sender.as_deref(), Some(""));
        assert_eq!(o.mode, Mode::Smtp);
        assert_eq!(o.config_dir, Some(PathBuf::from("dir")));
        assert_eq!(o.recipients, vec!["-odd"]);

        let o = parse_args(&args(&["-oem", "bob"])).unwrap();
        assert!(!o.ignore_dots);
        assert_eq!(parse_args(&args(&["-bp"])).unwrap().mode, Mode::ListQueue);
        assert_eq!(parse_args(&args(&["-q"])).unwrap().mode, Mode::Flush);
        assert_eq!(
            parse_args(&args(&["-N", "never", "-V", "id", "r"]))
                .unwrap()
                .recipients,
            vec!["r"]
        );
        assert!(parse_args(&args(&["-f"])).is_err());
        assert!(parse_args(&args(&["-bz"])).is_err());
        assert!(parse_args(&args(&["-k"])).is_err());
    }

    #[test]
    fn message_reading() {
        let cases: &[(&str, bool, &str)] = &[
            (
                "Subject: a\r\n\r\nbody\r\n.\r\nafter\r\n",
                false,
                "Subject: a\n\nbody\n",
            ),
            (
                "Subject: a\n\nbody\n.\nafter\n",
                true,
                "Subject: a\n\nbody\n.\nafter\n",
            ),
            (
                "From alice Mon Jan 1\nSubject: a\n\nx",
                false,
                "Subject: a\n\nx\n",
            ),
            ("", false, ""),
        ];
        for (input, ignore, want) in cases {
            let got = read_message(&mut input.as_bytes(), *ignore).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), *want, "{input:?}");
        }
    }

    #[test]
    fn smtp_dialogue_enqueues() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let script = "EHLO me\r\nRCPT TO:<x@y>\r\nMAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<bob@spec.test>\r\nDATA\r\nSubject: s\r\n\r\n..dot\r\n.\r\nFOO\r\nQUIT\r\n";
        let mut out = Vec::new();
        smtp_session(
            &queue,
            &mut script.as_bytes(),
            &mut out,
            1000,
            "me",
            "mx.spec.test",
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], "220 mx.spec.test ESMTP Postfix");
        assert_eq!(lines[1], "250-mx.spec.test");
        assert_eq!(lines[5], "503 5.5.1 Error: need MAIL command");
        assert_eq!(lines[6], "250 2.1.0 Ok");
        assert_eq!(lines[7], "250 2.1.5 Ok");
        assert_eq!(lines[8], "354 End data with <CR><LF>.<CR><LF>");
        assert!(lines[9].starts_with("250 2.0.0 Ok: queued as "), "{text}");
        assert_eq!(lines[10], "502 5.5.2 Error: command not recognized");
        assert_eq!(lines[11], "221 2.0.0 Bye");
        let id = lines[9].rsplit(' ').next().unwrap();
        let shown = queue
            .show(&gatepost_queue::QueueId(id.to_string()))
            .unwrap();
        assert!(shown.contains("sender: a@b\n"), "{shown}");
        assert!(shown.contains("recipient: bob@spec.test\n"));
        assert!(shown.contains("Subject: s\n\n.dot\n"));
    }
}
