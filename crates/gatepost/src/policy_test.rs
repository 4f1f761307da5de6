//! `gatepost policy-test`: run the restriction engine of a configuration
//! for a given client, HELO, sender and recipients (or a whole session
//! script) without any network traffic, and print each stage's decision
//! with the trace of which restriction, in which list, set on which
//! main.cf line, decided. Postfix has no such tool.
//!
//! Script format (one step per line, `#` comments): `client ADDR [NAME]`,
//! `helo NAME`, `ehlo NAME`, `mail ADDR`, `rcpt ADDR`, `data`, `eom`,
//! `pipelining` (mark the session as having pipelined improperly), `rset`.
//!
//! Each decision is followed by the log line smtpd would write
//! (`NOQUEUE: reject: RCPT from …; from=<…> to=<…> proto=ESMTP helo=<…>`).
//! Exit status: 0 when every stage accepted, 3 when a stage was deferred
//! (a 4xx reply) and none rejected, 4 when a stage was rejected (a 5xx
//! reply); 1 for errors, 2 for usage errors.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatepost_config::Config;
use gatepost_policy::{render_trace, Facts, LogEvent, Policy, SessionPolicy, Stage};
use gatepost_rewrite::Rewriter;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Client IP address.
    #[arg(long, default_value = "127.0.0.1")]
    client: IpAddr,
    /// Verified client hostname (default `unknown`).
    #[arg(long, default_value = "unknown")]
    client_name: String,
    /// HELO/EHLO name (EHLO is assumed).
    #[arg(long)]
    helo: Option<String>,
    /// Envelope sender (`<>` or empty for the null sender).
    #[arg(long)]
    sender: Option<String>,
    /// Envelope recipient (repeat for several).
    #[arg(long = "recipient")]
    recipients: Vec<String>,
    /// Server address the client connected to.
    #[arg(long, default_value = "127.0.0.1")]
    server: IpAddr,
    /// The client pipelined improperly (for reject_unauth_pipelining).
    #[arg(long)]
    pipelining: bool,
    /// A session script instead of the flags (see the module docs).
    #[arg(long)]
    script: Option<PathBuf>,
}

/// One step of a simulated session.
#[derive(Debug, Clone)]
enum Step {
    Client(IpAddr, String),
    Helo(String, bool),
    Mail(String),
    Rcpt(String),
    Data,
    Eom,
    Pipelining,
    Rset,
}

pub fn run(cfg: &Config, args: Args) -> Result<ExitCode> {
    let steps = match &args.script {
        Some(path) => parse_script(
            &std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
        )?,
        None => steps_from_flags(&args),
    };
    let rewriter = Arc::new(Rewriter::from_config(cfg).context("address rewriting")?);
    let resolver = gatepost_dns::Resolver::shared(cfg);
    let policy =
        Policy::from_config(cfg, rewriter, resolver).map_err(|e| anyhow::anyhow!("fatal: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start async runtime")?;
    let (out, outcome) = runtime.block_on(simulate(&policy, &args, &steps));
    print!("{out}");
    Ok(ExitCode::from(outcome as u8))
}

/// What the simulated session came to, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Accepted = 0,
    Deferred = 3,
    Rejected = 4,
}

impl Outcome {
    fn of_code(code: u16) -> Outcome {
        match code {
            400..=499 => Outcome::Deferred,
            500..=599 => Outcome::Rejected,
            _ => Outcome::Accepted,
        }
    }
}

fn steps_from_flags(args: &Args) -> Vec<Step> {
    let mut steps = vec![Step::Client(args.client, args.client_name.clone())];
    if args.pipelining {
        steps.push(Step::Pipelining);
    }
    if let Some(h) = &args.helo {
        steps.push(Step::Helo(h.clone(), true));
    }
    if let Some(s) = &args.sender {
        steps.push(Step::Mail(s.clone()));
    }
    for r in &args.recipients {
        steps.push(Step::Rcpt(r.clone()));
    }
    if !args.recipients.is_empty() {
        steps.push(Step::Data);
    }
    steps
}

fn parse_script(text: &str) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let step = match word.to_ascii_lowercase().as_str() {
            "client" | "connect" => {
                let mut parts = rest.split_whitespace();
                let addr = parts
                    .next()
                    .context("client needs an address")?
                    .parse()
                    .with_context(|| format!("line {}: bad client address", n + 1))?;
                Step::Client(addr, parts.next().unwrap_or("unknown").to_string())
            }
            "helo" => Step::Helo(rest.to_string(), false),
            "ehlo" => Step::Helo(rest.to_string(), true),
            "mail" => Step::Mail(strip_path(rest)),
            "rcpt" => Step::Rcpt(strip_path(rest)),
            "data" => Step::Data,
            "eom" | "." => Step::Eom,
            "pipelining" => Step::Pipelining,
            "rset" => Step::Rset,
            other => bail!("line {}: unknown step {other:?}", n + 1),
        };
        steps.push(step);
    }
    Ok(steps)
}

/// `FROM:<a@b>`, `<a@b>` or `a@b` → `a@b`; `<>` → empty.
fn strip_path(text: &str) -> String {
    let t = text.trim();
    let t = t
        .strip_prefix("FROM:")
        .or_else(|| t.strip_prefix("from:"))
        .or_else(|| t.strip_prefix("TO:"))
        .or_else(|| t.strip_prefix("to:"))
        .unwrap_or(t)
        .trim();
    t.trim_start_matches('<').trim_end_matches('>').to_string()
}

async fn simulate(policy: &Policy, args: &Args, steps: &[Step]) -> (String, Outcome) {
    let mut out = String::new();
    let mut outcome = Outcome::Accepted;
    let mut session = SessionPolicy::default();
    let mut facts = Facts::new(args.client, &args.client_name, args.server);
    for step in steps {
        let stage = match step {
            Step::Client(addr, name) => {
                facts.client_addr = *addr;
                facts.client_name = name.clone();
                facts.reverse_client_name = name.clone();
                Stage::Connect
            }
            Step::Helo(name, ehlo) => {
                facts.helo = Some(name.clone());
                facts.protocol = if *ehlo { "ESMTP".into() } else { "SMTP".into() };
                if *ehlo {
                    Stage::Ehlo
                } else {
                    Stage::Helo
                }
            }
            Step::Mail(sender) => {
                facts.sender = Some(if sender == "<>" {
                    String::new()
                } else {
                    sender.clone()
                });
                facts.recipient_count = 0;
                Stage::Mail
            }
            Step::Rcpt(rcpt) => {
                facts.recipient = Some(rcpt.clone());
                Stage::Rcpt
            }
            Step::Data => {
                facts.recipient = None;
                if facts.recipient_count == 0 {
                    // smtpd answers this before any data restriction runs.
                    out.push_str("DATA: 554 5.5.1 Error: no valid recipients\n");
                    // A recipient that was only deferred keeps the
                    // session deferred.
                    if outcome == Outcome::Accepted {
                        outcome = Outcome::Rejected;
                    }
                    continue;
                }
                Stage::Data
            }
            Step::Eom => Stage::EndOfMessage,
            Step::Pipelining => {
                facts.improper_pipelining = true;
                continue;
            }
            Step::Rset => {
                facts.sender = None;
                facts.recipient = None;
                facts.recipient_count = 0;
                continue;
            }
        };
        let verdict = policy.check(stage, &facts, &mut session).await;
        let what = match step {
            Step::Client(addr, name) => format!("{name}[{addr}]"),
            Step::Helo(name, _) => name.clone(),
            Step::Mail(s) | Step::Rcpt(s) => format!("<{s}>"),
            _ => String::new(),
        };
        let decision = match &verdict.reply {
            Some(reply) => reply.to_string(),
            None => "accept".to_string(),
        };
        let subject = if what.is_empty() {
            String::new()
        } else {
            format!(" {what}")
        };
        out.push_str(&format!("{}{}: {}\n", stage.log_name(), subject, decision));
        if let Some(reply) = &verdict.reply {
            outcome = outcome.max(Outcome::of_code(reply.code));
        }
        for event in &verdict.events {
            out.push_str(&format!("  log: {}\n", log_line(stage, &facts, event)));
        }
        let trace = render_trace(&verdict);
        for line in trace.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        if stage == Stage::Rcpt && verdict.reply.is_none() {
            facts.recipient_count += 1;
        }
    }
    (out, outcome)
}

/// The line smtpd logs for a policy event at `stage`.
fn log_line(stage: Stage, facts: &Facts, event: &LogEvent) -> String {
    if event.action == LogEvent::WARNING {
        return format!("warning: {}", event.text);
    }
    if event.action == LogEvent::NOTE {
        return event.text.clone();
    }
    let client = format!("{}[{}]", facts.client_name, facts.client_addr);
    let from = match stage {
        Stage::Connect | Stage::Helo | Stage::Ehlo => None,
        _ => facts.sender.as_deref().map(gatepost_rewrite::quote_address),
    };
    let to = match stage {
        Stage::Rcpt => facts
            .recipient
            .as_deref()
            .map(gatepost_rewrite::quote_address),
        _ => None,
    };
    gatepost_log::ActionLine {
        queue_id: None,
        action: &event.action,
        stage: stage.log_name(),
        client: &client,
        text: &event.text,
        from: from.as_deref(),
        to: to.as_deref(),
        proto: facts.helo.as_ref().map(|_| facts.protocol.as_str()),
        helo: facts.helo.as_deref(),
    }
    .render()
}
