//! Drive the battery over SMTP: greet, learn the target's names from the
//! 220 greeting and the EHLO reply, then MAIL/RCPT/RSET each form (DATA
//! with `--send` when the recipient was accepted), reconnecting when the
//! server hangs up, with a progress bar on stderr.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::forms::{battery, Form, Target};
use super::output::{Outcome, Try, Verdict};
use super::smtp::Session;
use super::Args;

pub fn run(args: &Args, host: &str, addr: SocketAddr, timeout: Duration) -> Result<Outcome> {
    let mut target = Target::default();
    target.add_name(host);
    target.add_addr(addr.ip());
    let (session, greeting) = open(args, addr, timeout, Some(&mut target))?;
    let forms = battery(&target, &args.user, &args.to_domain, &args.from);

    let bar = ProgressBar::new(forms.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(format!("relay-audit {addr}"));

    let mut session = Some(session);
    let mut errors_in_session = 0;
    let mut tries = Vec::with_capacity(forms.len());
    for form in forms {
        bar.set_message(form.recipient.clone());
        let mut attempt = 0;
        let t = loop {
            attempt += 1;
            let s = match session.as_mut() {
                Some(s) => s,
                None => session.insert(open(args, addr, timeout, None)?.0),
            };
            match one_try(s, &form, args.send) {
                Ok((t, usable)) => {
                    if t.verdict != Verdict::Relayed {
                        errors_in_session += 1;
                    }
                    if !usable || errors_in_session >= ERRORS_PER_SESSION {
                        if let Some(mut s) = session.take() {
                            let _ = s.command("QUIT");
                        }
                        errors_in_session = 0;
                    }
                    break t;
                }
                // The server hung up before answering (421, timeout):
                // try once more on a fresh connection.
                Err(e) => {
                    session = None;
                    errors_in_session = 0;
                    if attempt == 2 {
                        break Try::failed(&form, format!("{e:#}"));
                    }
                }
            }
        };
        tries.push(t);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(mut s) = session {
        let _ = s.command("QUIT");
    }
    Ok(Outcome {
        server: addr.to_string(),
        greeting,
        target,
        tries,
    })
}

/// Connect, read the greeting, EHLO (HELO when EHLO is refused).
fn open(
    args: &Args,
    addr: SocketAddr,
    timeout: Duration,
    learn: Option<&mut Target>,
) -> Result<(Session, String)> {
    let mut s = Session::connect(addr, timeout)?;
    let greeting = s.read_reply()?;
    if greeting.code != 220 {
        bail!("{addr} greets with {}", greeting.one_line());
    }
    let mut hello = s.command(&format!("EHLO {}", args.helo))?;
    if !hello.positive() {
        hello = s.command(&format!("HELO {}", args.helo))?;
    }
    if !hello.positive() {
        bail!("{addr} refuses HELO: {}", hello.one_line());
    }
    if let Some(t) = learn {
        for text in [&greeting.lines[0], &hello.lines[0]] {
            // Only a dotted first word is a host name ("220 ESMTP ready" is not).
            if let Some(name) = text.split_whitespace().next().filter(|n| n.contains('.')) {
                t.add_name(name);
            }
        }
    }
    Ok((s, greeting.one_line()))
}

/// Refused tries per connection: below smtpd_soft_error_limit's default
/// (10), so the server's error sleep and hard limit never slow the audit.
const ERRORS_PER_SESSION: u32 = 9;

/// One MAIL/RCPT(/DATA)/RSET round; the flag says whether the session can
/// be used again. An error means no verdict was reached.
fn one_try(s: &mut Session, form: &Form, send: bool) -> Result<(Try, bool)> {
    let mail = s.command(&format!("MAIL FROM:<{}>", form.sender))?;
    let mut t = Try::new(form, mail.one_line());
    if mail.code == 421 {
        bail!("{}", mail.one_line());
    }
    if mail.positive() {
        let rcpt = s.command(&format!("RCPT TO:<{}>", form.recipient))?;
        t.verdict = if rcpt.positive() {
            Verdict::Relayed
        } else {
            Verdict::Refused
        };
        t.rcpt_reply = Some(rcpt.one_line());
        if rcpt.code == 421 {
            bail!("{}", rcpt.one_line());
        }
        if send && rcpt.positive() {
            t.data_reply = Some(send_message(s, form)?);
        }
    } else {
        t.verdict = Verdict::SenderRefused;
    }
    let usable = s.command("RSET").is_ok_and(|r| r.code == 250);
    Ok((t, usable))
}

/// DATA with a short test message; returns the final reply.
fn send_message(s: &mut Session, form: &Form) -> Result<String> {
    let go = s.command("DATA")?;
    if go.code != 354 {
        return Ok(go.one_line());
    }
    let from = if form.sender.is_empty() {
        "MAILER-DAEMON"
    } else {
        &form.sender
    };
    s.send_raw(&format!(
        "From: <{from}>\r\nTo: <{}>\r\nSubject: relay-audit test ({})\r\n\r\n\
         This is an open-relay test message sent by gatepost relay-audit.\r\n.\r\n",
        form.recipient, form.trick
    ))?;
    Ok(s.read_reply()?.one_line())
}
