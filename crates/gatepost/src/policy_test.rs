//! `gatepost policy-test`: run the restriction engine of a configuration
//! for a given client, HELO, sender and recipients (or a whole session
//! script) without any SMTP traffic, and print each stage's decision
//! with the trace of which restriction, in which list, set on which
//! main.cf line, decided. Postfix has no such tool.
//!
//! The session runs as smtpd would run it: with `smtpd_delay_reject = yes`
//! the client, HELO and sender lists are postponed to RCPT TO (each stage
//! says so and shows what its list will answer there, and a RCPT TO reject
//! names the stage it was postponed from); with `= no` they apply at their
//! own stage, and a rejected client gets `503 5.7.0 Error: access denied`
//! for every later command; `smtpd_helo_required = yes` answers MAIL
//! without HELO/EHLO with `503 5.5.1 Error: send HELO/EHLO first`; RCPT
//! without MAIL and DATA without RCPT get smtpd's 503 replies. The DNS
//! questions the restrictions ask (and the client name lookup, when
//! `--client-name` is not given) are shown with their answers, from the
//! resolver or, with `--no-dns`, from `--fact` items (see `dns_trace`).
//!
//! Script format (one step per line, `#` comments): `client ADDR [NAME]`,
//! `helo NAME`, `ehlo NAME`, `mail ADDR`, `rcpt ADDR`, `data`, `eom`,
//! `pipelining` (mark the session as having pipelined improperly), `rset`.
//! `--client` (and `--client-name`) set the client of the script's first
//! session, replacing its leading `client` line if it has one.
//!
//! Each decision is followed by the log line smtpd would write
//! (`NOQUEUE: reject: RCPT from …; from=<…> to=<…> proto=ESMTP helo=<…>`).
//! Exit status: 0 when every stage accepted, 3 when a stage was deferred
//! (a 4xx reply) and none rejected, 4 when a stage was rejected (a 5xx
//! reply); 1 for errors, 2 for usage errors.

mod dns_trace;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatepost_config::{params, Config};
use gatepost_policy::{
    postponed_list, render_trace, Facts, LogEvent, Policy, ResolverDns, SessionPolicy, Stage,
    Verdict,
};
use gatepost_rewrite::Rewriter;

use dns_trace::{FactTable, TracedDns};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Client IP address (default 127.0.0.1; with --script, the client
    /// of its first session).
    #[arg(long)]
    client: Option<IpAddr>,
    /// Verified client hostname (default: looked up in DNS as smtpd does,
    /// or `unknown`).
    #[arg(long)]
    client_name: Option<String>,
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
    /// Ask no DNS server: answer the restrictions' DNS questions from
    /// --fact items (anything not given is "not found").
    #[arg(long)]
    no_dns: bool,
    /// A DNS answer for --no-dns, `KIND:NAME=VALUE`: host:NAME=ok|notfound|retry|...,
    /// domain:NAME=STATUS, rbl:ZONE=ADDR|no, rbl-txt:ZONE=TEXT, mx:DOMAIN=HOSTS,
    /// ns:DOMAIN=HOSTS, addr:HOST=IPS, backup:DOMAIN=STATUS, ptr:IP=NAME|retry.
    #[arg(long = "fact", requires = "no_dns")]
    facts: Vec<String>,
}

/// The client of the first session, when the command line names none.
const DEFAULT_CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// One step of a simulated session.
#[derive(Debug, Clone)]
enum Step {
    /// A new connection; the name is looked up when not given.
    Client(IpAddr, Option<String>),
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
        Some(path) => with_client(
            parse_script(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("read {}", path.display()))?,
            )?,
            &args,
        ),
        None => steps_from_flags(&args),
    };
    let rewriter = Arc::new(Rewriter::from_config(cfg).context("address rewriting")?);
    let resolver = gatepost_dns::Resolver::shared(cfg);
    let (dns, facts) = if args.no_dns {
        let facts = FactTable::parse(&args.facts)?;
        (
            TracedDns::facts(FactTable::parse(&args.facts)?),
            Some(facts),
        )
    } else {
        (
            TracedDns::resolver(
                ResolverDns::new(resolver.clone()).with_myhostname(&cfg.get(&params::MYHOSTNAME)),
            ),
            None,
        )
    };
    let policy = Policy::from_config(cfg, rewriter, resolver.clone())
        .map_err(|e| anyhow::anyhow!("fatal: {e}"))?
        .with_dns(dns.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start async runtime")?;
    let sim = Simulation {
        policy: &policy,
        dns: &dns,
        names: if let Some(facts) = facts {
            ClientNames::Facts(facts)
        } else if cfg.get(&params::SMTPD_PEERNAME_LOOKUP) {
            ClientNames::Resolver(resolver)
        } else {
            ClientNames::Unknown
        },
        helo_required: cfg.get(&params::SMTPD_HELO_REQUIRED),
        server: args.server,
        pipelining: args.pipelining,
    };
    let (out, outcome) = runtime.block_on(sim.run(&steps));
    print!("{out}");
    Ok(ExitCode::from(outcome as u8))
}

/// A script's steps, starting with the connection of `--client` (or the
/// default client) unless the script connects itself and no `--client`
/// was given.
fn with_client(mut steps: Vec<Step>, args: &Args) -> Vec<Step> {
    let leading = matches!(steps.first(), Some(Step::Client(..)));
    match (args.client, leading) {
        (None, true) => {
            if let (Some(name), Some(Step::Client(_, n))) = (&args.client_name, steps.first_mut()) {
                *n = Some(name.clone());
            }
        }
        (Some(addr), true) => steps[0] = Step::Client(addr, args.client_name.clone()),
        (client, false) => steps.insert(
            0,
            Step::Client(client.unwrap_or(DEFAULT_CLIENT), args.client_name.clone()),
        ),
    }
    steps
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
    let client = args.client.unwrap_or(DEFAULT_CLIENT);
    let mut steps = vec![Step::Client(client, args.client_name.clone())];
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
                Step::Client(addr, parts.next().map(str::to_string))
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

/// Where client names come from when `--client-name` is not given.
enum ClientNames {
    /// The resolver, as smtpd (`smtpd_peername_lookup = yes`).
    Resolver(gatepost_dns::Resolver),
    /// `ptr:` facts (`--no-dns`).
    Facts(FactTable),
    /// `smtpd_peername_lookup = no`.
    Unknown,
}

/// One simulated run: the engine, its traced DNS, and the smtpd settings
/// that shape the session.
struct Simulation<'a> {
    policy: &'a Policy,
    dns: &'a TracedDns,
    names: ClientNames,
    helo_required: bool,
    server: IpAddr,
    pipelining: bool,
}

/// What smtpd remembers between commands, besides the policy's state.
struct SessionState {
    facts: Facts,
    policy: SessionPolicy,
    /// The CONNECT restrictions rejected (`smtpd_delay_reject = no`).
    access_denied: bool,
    /// MAIL FROM was accepted.
    in_transaction: bool,
    /// DATA was accepted: a message follows.
    in_data: bool,
}

impl Simulation<'_> {
    async fn run(&self, steps: &[Step]) -> (String, Outcome) {
        let mut out = String::new();
        let mut outcome = Outcome::Accepted;
        let mut st = SessionState {
            facts: Facts::new(DEFAULT_CLIENT, "unknown", self.server),
            policy: SessionPolicy::default(),
            access_denied: false,
            in_transaction: false,
            in_data: false,
        };
        for step in steps {
            if let Some(code) = self.step(step, &mut st, &mut out).await {
                outcome = outcome.max(Outcome::of_code(code));
            }
        }
        (out, outcome)
    }

    /// Run one step; the reply code when it was refused.
    async fn step(&self, step: &Step, st: &mut SessionState, out: &mut String) -> Option<u16> {
        let facts = &mut st.facts;
        let helo_before = (facts.helo.clone(), facts.protocol.clone());
        let stage = match step {
            Step::Client(addr, name) => {
                let name = self.client_name(*addr, name.as_deref()).await;
                *facts = Facts::new(*addr, &name.0, self.server);
                facts.client_name_tempfail = name.1;
                facts.reverse_name_tempfail = name.1;
                facts.improper_pipelining = self.pipelining;
                st.policy = SessionPolicy::default();
                st.access_denied = false;
                st.in_transaction = false;
                Stage::Connect
            }
            Step::Pipelining => {
                facts.improper_pipelining = true;
                return None;
            }
            Step::Rset => {
                facts.sender = None;
                facts.recipient = None;
                facts.recipient_count = 0;
                st.in_transaction = false;
                st.policy.reset_transaction();
                return None;
            }
            Step::Helo(..) | Step::Mail(_) | Step::Rcpt(_) | Step::Data | Step::Eom
                if st.access_denied =>
            {
                let client = format!("{}[{}]", facts.client_name, facts.client_addr);
                let text = format!("503 5.7.0 Error: access denied for {client}");
                return refuse(out, step, &text, "the client was rejected at CONNECT");
            }
            Step::Helo(name, ehlo) => {
                // A HELO/EHLO ends the transaction.
                facts.sender = None;
                facts.recipient = None;
                facts.recipient_count = 0;
                st.in_transaction = false;
                st.policy.reset_transaction();
                // The protocol changes once the name is accepted.
                facts.helo = Some(name.clone());
                if *ehlo {
                    Stage::Ehlo
                } else {
                    Stage::Helo
                }
            }
            Step::Mail(sender) => {
                if self.helo_required && facts.helo.is_none() {
                    return refuse(
                        out,
                        step,
                        "503 5.5.1 Error: send HELO/EHLO first",
                        "smtpd_helo_required = yes",
                    );
                }
                if st.in_transaction {
                    return refuse(out, step, "503 5.5.1 Error: nested MAIL command", "");
                }
                facts.sender = Some(if sender == "<>" {
                    String::new()
                } else {
                    sender.clone()
                });
                facts.recipient_count = 0;
                Stage::Mail
            }
            Step::Rcpt(rcpt) => {
                if !st.in_transaction {
                    return refuse(out, step, "503 5.5.1 Error: need MAIL command", "");
                }
                facts.recipient = Some(rcpt.clone());
                Stage::Rcpt
            }
            Step::Data => {
                facts.recipient = None;
                if !st.in_transaction {
                    return refuse(out, step, "503 5.5.1 Error: need RCPT command", "");
                }
                if facts.recipient_count == 0 {
                    // smtpd answers this before any data restriction runs.
                    return refuse(out, step, "554 5.5.1 Error: no valid recipients", "");
                }
                Stage::Data
            }
            Step::Eom if !st.in_data => {
                out.push_str("END-OF-MESSAGE: no message (DATA was not accepted)\n");
                return None;
            }
            Step::Eom => Stage::EndOfMessage,
        };
        let verdict = self.policy.check(stage, &st.facts, &mut st.policy).await;
        let facts = &mut st.facts;
        let what = match step {
            Step::Client(addr, _) => format!(" {}[{addr}]", facts.client_name),
            Step::Helo(name, _) => format!(" {name}"),
            Step::Mail(s) | Step::Rcpt(s) => format!(" {}", path_label(s)),
            _ => String::new(),
        };
        let decision = match &verdict.reply {
            Some(reply) => reply.to_string(),
            None => "accept".to_string(),
        };
        let postponed = postponed_list(stage).filter(|_| self.policy.delay_reject());
        match postponed {
            Some(list) if verdict.reply.is_none() => out.push_str(&format!(
                "{}{what}: {decision} ({list} postponed to RCPT TO: smtpd_delay_reject = yes)\n",
                stage.log_name()
            )),
            _ => out.push_str(&format!("{}{what}: {decision}\n", stage.log_name())),
        }
        for event in &verdict.events {
            out.push_str(&format!("  log: {}\n", log_line(stage, facts, event)));
        }
        self.push_dns(out, "  ");
        if let (Some(list), None) = (postponed, &verdict.reply) {
            self.preview(stage, list, st, out).await;
        } else {
            push_trace(out, &verdict, "  ");
            self.say_where_applied(&verdict, out);
        }
        let facts = &mut st.facts;
        let refused = verdict.reply.as_ref().map(|r| r.code);
        match (step, refused) {
            (Step::Client(..), Some(_)) => st.access_denied = true,
            // A refused HELO leaves the earlier name (or none).
            (Step::Helo(..), Some(_)) => (facts.helo, facts.protocol) = helo_before,
            (Step::Helo(_, ehlo), None) => {
                facts.protocol = if *ehlo { "ESMTP".into() } else { "SMTP".into() }
            }
            (Step::Mail(_), None) => st.in_transaction = true,
            (Step::Mail(_), Some(_)) => facts.sender = None,
            (Step::Rcpt(_), None) => facts.recipient_count += 1,
            // The end of the message ends the transaction, whatever the reply.
            (Step::Data, None) => st.in_data = true,
            (Step::Eom, _) => {
                st.in_data = false;
                facts.sender = None;
                facts.recipient_count = 0;
                st.in_transaction = false;
                st.policy.reset_transaction();
            }
            _ => {}
        }
        refused
    }

    /// The client's verified name: as given, else from `ptr:` facts or
    /// the resolver (shown in the output), else `unknown`; and whether
    /// the lookup failed temporarily.
    async fn client_name(&self, addr: IpAddr, given: Option<&str>) -> (String, bool) {
        if let Some(name) = given {
            return (name.to_string(), false);
        }
        match &self.names {
            ClientNames::Unknown => ("unknown".to_string(), false),
            ClientNames::Facts(facts) => {
                let (name, temp, given) = match facts.client_name(addr) {
                    Some((name, temp)) => (name, temp, true),
                    None => ("unknown".to_string(), false, false),
                };
                self.dns
                    .note_answer(format!("client name of {addr} (PTR)"), name.clone(), given);
                (name, temp)
            }
            ClientNames::Resolver(resolver) => {
                use gatepost_dns::PeerStatus;
                let peer = resolver.with_program("smtpd").peer_name(addr).await;
                let how = match peer.name_status {
                    PeerStatus::Ok => "verified",
                    PeerStatus::Temp => "temporary failure",
                    PeerStatus::Perm => "not found",
                    PeerStatus::Forged => "the name's addresses do not include the client",
                };
                self.dns.note_answer(
                    format!("client name of {addr} (PTR, then A/AAAA of the name)"),
                    format!("{} ({how}; PTR said {})", peer.name, peer.reverse_name),
                    true,
                );
                (peer.name, peer.name_status == PeerStatus::Temp)
            }
        }
    }

    /// The DNS questions asked since the last call, one per line.
    fn push_dns(&self, out: &mut String, indent: &str) {
        for line in self.dns.take() {
            out.push_str(&format!("{indent}dns: {line}\n"));
        }
    }

    /// What the postponed `list` will answer at RCPT TO, with what is
    /// known now.
    async fn preview(&self, stage: Stage, list: &str, st: &SessionState, out: &mut String) {
        let Some(preview) = self
            .policy
            .preview_postponed(stage, &st.facts, &st.policy)
            .await
        else {
            return;
        };
        self.push_dns(out, "  postponed: ");
        if preview.trace.is_empty() {
            out.push_str(&format!("  postponed: {list} has nothing to check\n"));
            return;
        }
        // A defer_if_permit stays pending: it answers RCPT TO unless a
        // later restriction rejects.
        let pending = preview
            .trace
            .iter()
            .find_map(|step| step.result.strip_prefix("DEFER_IF_PERMIT "));
        for line in render_trace(&preview).lines() {
            let line = match (line.strip_prefix("result: "), pending) {
                (Some("accepted"), Some(reply)) => format!(
                    "result at RCPT TO: {reply} (defer_if_permit, unless a later restriction rejects)"
                ),
                (Some(result), _) => format!("result at RCPT TO: {result}"),
                (None, _) => line.to_string(),
            };
            out.push_str(&format!("  postponed: {line}\n"));
        }
    }

    /// For a reject at RCPT TO by a postponed list: the stage it comes from.
    fn say_where_applied(&self, verdict: &Verdict, out: &mut String) {
        if verdict.reply.is_none() || !self.policy.delay_reject() {
            return;
        }
        let from = match verdict.deciding_list() {
            Some("smtpd_client_restrictions") => "CONNECT",
            Some("smtpd_helo_restrictions") => "HELO/EHLO",
            Some("smtpd_sender_restrictions" | "smtpd_reject_unlisted_sender") => "MAIL FROM",
            _ => return,
        };
        if let Some(list) = verdict.deciding_list() {
            out.push_str(&format!(
                "  applied at RCPT TO: {list} postponed from {from} (smtpd_delay_reject = yes)\n"
            ));
        }
    }
}

/// A command smtpd refuses before any restriction runs.
fn refuse(out: &mut String, step: &Step, reply: &str, why: &str) -> Option<u16> {
    let label = match step {
        Step::Helo(name, true) => format!("EHLO {name}"),
        Step::Helo(name, false) => format!("HELO {name}"),
        Step::Mail(s) => format!("MAIL {}", path_label(s)),
        Step::Rcpt(s) => format!("RCPT {}", path_label(s)),
        Step::Data => "DATA".to_string(),
        _ => "END-OF-MESSAGE".to_string(),
    };
    out.push_str(&format!("{label}: {reply}\n"));
    if !why.is_empty() {
        out.push_str(&format!("  ({why}; no restrictions run)\n"));
    }
    reply.get(..3).and_then(|code| code.parse().ok())
}

/// An address as the output shows it: `<a@b>`, the null sender `<>`.
fn path_label(address: &str) -> String {
    if address == "<>" {
        return address.to_string();
    }
    format!("<{address}>")
}

/// The evaluation trace, indented.
fn push_trace(out: &mut String, verdict: &Verdict, indent: &str) {
    for line in render_trace(verdict).lines() {
        out.push_str(&format!("{indent}{line}\n"));
    }
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
        proto: Some(facts.protocol.as_str()),
        helo: facts.helo.as_deref(),
    }
    .render()
}
