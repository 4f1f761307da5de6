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
//! end the input), `-bm` (default), `-bs` (the SMTP server itself on stdin/stdout), `-bp`
//! (mailq), `-q` (flush), `-C DIR` (configuration directory); other
//! Postfix options that take a value (`-B -N -R -V -X -L -h -o?`) are
//! accepted and ignored. A leading UNIX `From ` line is skipped and CRLF
//! line ends become LF.
//!
//! `-bs` runs the SMTP server itself on standard input and output, as
//! Postfix runs a stand-alone smtpd: the client is the local host
//! (`localhost[127.0.0.1]` when /etc/hosts says so), with every limit,
//! restriction and log line of a network session; accepted mail goes into
//! the queue directly.

use std::io::BufRead;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use gatepost_cleanup::header_recipients;
use gatepost_config::{params, Config};
use gatepost_queue::{Queue, Submission, TriggerOutcome, TriggerRequest};

/// Postfix's sendmail exits with EX_TEMPFAIL (sysexits.h) on every fatal
/// error, usage errors included.
pub const EX_TEMPFAIL: u8 = 75;

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
    let (uid, entry) = passwd_entry();
    let name = entry
        .map(|(login, _)| login)
        .or_else(|| std::env::var("LOGNAME").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    (uid, name)
}

/// The calling user's uid and, when /etc/passwd has it, (login, full name
/// from the GECOS field up to the first comma).
fn passwd_entry() -> (u32, Option<(String, String)>) {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let entry = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 4 && f[2].parse::<u32>().ok() == Some(uid)).then(|| {
                    let gecos = f[4].split(',').next().unwrap_or("").trim().to_string();
                    (f[0].to_string(), gecos)
                })
            })
        });
    (uid, entry)
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
        Mode::Smtp => return smtp_on_stdio(cfg, queue),
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
        // As Postfix: -F, else the user's full name from the passwd file.
        full_name: opts.full_name.or_else(|| {
            passwd_entry()
                .1
                .map(|(_, gecos)| gecos)
                .filter(|g| !g.is_empty())
        }),
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
/// `-bs`: the real SMTP server on standard input and output, as Postfix
/// runs its stand-alone smtpd: the same commands, replies, restrictions,
/// Received: header and log lines, for a client logged as the local host.
/// Accepted mail goes into the queue, which the server picks up (at once
/// when it runs, else at its next start).
/// Run by root, it first becomes `mail_owner`, as Postfix's stand-alone
/// smtpd does.
fn smtp_on_stdio(cfg: &Config, queue: std::sync::Arc<Queue>) -> Result<ExitCode> {
    if crate::privsep::running_as_root() {
        let account = crate::privsep::unprivileged_account(cfg)?;
        crate::privsep::set_queue_ownership(queue.root(), &account)?;
        crate::privsep::drop_privileges(&account)?;
    }
    // A local program may write a whole session into the pipe at once:
    // that is logged as improper pipelining, but not cut off.
    let cfg = &cfg.with_overrides(&[(
        params::SMTPD_FORBID_UNAUTH_PIPELINING.name().to_string(),
        "no".to_string(),
    )]);
    let rewriter = std::sync::Arc::new(
        gatepost_rewrite::Rewriter::from_config(cfg).context("address rewriting")?,
    );
    let ctx = gatepost_smtpd::ServerContext::new("sendmail", cfg, queue.clone(), rewriter)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
        .context("start async runtime")?;
    let local = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    runtime.block_on(gatepost_smtpd::serve_stream(
        std::sync::Arc::new(ctx),
        Box::new(tokio::io::join(tokio::io::stdin(), tokio::io::stdout())),
        std::net::SocketAddr::new(local, 0),
        local,
    ));
    queue.send_trigger(&[TriggerRequest::ScanIncoming]);
    Ok(ExitCode::SUCCESS)
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
}
