//! One SMTP connection: the connection-level state (client identity, HELO,
//! error and junk counts, the improper-pipelining flag, counters) and the
//! command loop. The mail transaction (MAIL → end of DATA or RSET) lives in
//! `transaction.rs`; command handlers in `handlers.rs` and `data_phase.rs`.
//!
//! Every reply goes through [`Session::reply`] (soft_bounce, error sleep,
//! 421/521 ends the session) and every policy log line through
//! [`Session::log_events`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use gatepost_log::ActionLine;
use gatepost_policy::{Facts, SessionPolicy, Stage, Verdict};
use gatepost_proto::{BareNewlineMode, Command, Reply, Verb};
use tokio::net::TcpStream;

use crate::bdat::BdatState;
use crate::context::ServerContext;
use crate::counters::Counters;
use crate::peername::lookup_client;
use crate::stream::{ClientStream, StreamError};
use crate::transaction::Transaction;
use gatepost_dns::PeerStatus;

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

pub struct Session {
    pub(crate) ctx: Arc<ServerContext>,
    pub(crate) stream: ClientStream,
    pub(crate) client_addr: IpAddr,
    pub(crate) client_port: u16,
    pub(crate) server_addr: IpAddr,
    pub(crate) client_name: String,
    pub(crate) reverse_name: String,
    pub(crate) client_name_tempfail: bool,
    pub(crate) reverse_name_tempfail: bool,
    /// `name[addr]` as in every log line.
    pub(crate) client_label: String,
    pub(crate) helo: Option<String>,
    /// `SMTP` until EHLO, then `ESMTP`.
    pub(crate) protocol: &'static str,
    pub(crate) improper_pipelining: bool,
    pub(crate) errors: u32,
    pub(crate) junk: u32,
    pub(crate) counters: Counters,
    pub(crate) policy_state: SessionPolicy,
    /// Set when the client restrictions rejected at CONNECT
    /// (`smtpd_delay_reject = no`): every command but QUIT gets 503.
    pub(crate) access_denied: bool,
    /// The mail transaction (boxed: an idle session has none).
    pub(crate) tx: Option<Box<Transaction>>,
    /// BDAT progress within the transaction (Postfix's bdat_state).
    pub(crate) bdat: BdatState,
    pub(crate) bare_newline: BareNewlineMode,
    /// Name of the last command, for `lost connection after X`.
    pub(crate) state: String,
    /// An access-table HANGUP: drop the connection without a reply.
    pub(crate) hangup: bool,
    /// The client name was given, not looked up (stand-alone sessions).
    pub(crate) fixed_name: bool,
    /// The TLS session, once STARTTLS or wrapper mode succeeded.
    pub(crate) tls: Option<gatepost_tls::TlsSummary>,
    /// The SASL login, once AUTH succeeded.
    pub(crate) login: Option<crate::auth::SaslLogin>,
    /// The connection was registered with the client event counters.
    pub(crate) connection_counted: bool,
    /// This client's connections when this one was counted (0 when it is
    /// not), for the milter macro `{client_connections}`.
    pub(crate) connection_count: u32,
    /// The session's filters (`smtpd_milters`), once connected.
    pub(crate) milters: Option<gatepost_milter::Milters>,
}

impl Session {
    pub fn new(
        ctx: Arc<ServerContext>,
        sock: TcpStream,
        peer: SocketAddr,
        server_addr: IpAddr,
    ) -> Session {
        let settings = &ctx.settings;
        let stream = ClientStream::new(sock, settings.line_length_limit, settings.timeout);
        Session::with_stream(ctx, stream, peer, server_addr)
    }

    /// A session on any client stream (e.g. standard input and output).
    pub fn with_stream(
        ctx: Arc<ServerContext>,
        stream: ClientStream,
        peer: SocketAddr,
        server_addr: IpAddr,
    ) -> Session {
        let addr = normalize_addr(peer.ip());
        Session {
            stream,
            client_addr: addr,
            client_port: peer.port(),
            server_addr: normalize_addr(server_addr),
            client_name: "unknown".into(),
            reverse_name: "unknown".into(),
            client_name_tempfail: false,
            reverse_name_tempfail: false,
            client_label: format!("unknown[{addr}]"),
            helo: None,
            protocol: "SMTP",
            improper_pipelining: false,
            errors: 0,
            junk: 0,
            counters: Counters::default(),
            policy_state: SessionPolicy::default(),
            access_denied: false,
            tx: None,
            bdat: BdatState::None,
            bare_newline: ctx.settings.bare_newline,
            state: "CONNECT".into(),
            hangup: false,
            fixed_name: false,
            tls: None,
            login: None,
            connection_counted: false,
            connection_count: 0,
            milters: None,
            ctx,
        }
    }

    /// Use a fixed client name instead of looking one up.
    pub fn with_client_name(mut self, name: &str) -> Session {
        self.client_name = name.to_string();
        self.reverse_name = name.to_string();
        self.fixed_name = true;
        self
    }

    /// Serve the connection to its end.
    ///
    /// The session's future is kept small, because an idle session is
    /// little more than this future waiting in [`Session::next_command`]:
    /// the session is held once (an `async fn` taking `self` would hold it
    /// twice, as its argument and as its local), and every step with a
    /// large future of its own (the client name lookup, the TLS handshake,
    /// the greeting and its checks, each command, the error replies) is
    /// boxed, allocated only while it runs (`session_future_stays_small`
    /// in server.rs holds the size).
    // Not `async fn run(mut self)`: that future would hold the session twice.
    #[allow(clippy::manual_async_fn)]
    pub fn run(mut self) -> impl std::future::Future<Output = ()> {
        async move { self.serve().await }
    }

    async fn serve(&mut self) {
        if self.ctx.settings.peername_lookup && !self.fixed_name {
            let peer = Box::pin(lookup_client(&self.ctx.resolver, self.client_addr)).await;
            self.client_name = peer.name;
            self.reverse_name = peer.reverse_name;
            self.client_name_tempfail = peer.name_status == PeerStatus::Temp;
            self.reverse_name_tempfail = peer.reverse_status == PeerStatus::Temp;
        }
        self.client_label = format!("{}[{}]", self.client_name, self.client_addr);
        let connect_line = if self.ctx.settings.client_port_logging {
            format!("connect from {}:{}", self.client_label, self.client_port)
        } else {
            format!("connect from {}", self.client_label)
        };
        gatepost_log::info("smtpd", connect_line);
        if let Ok(true) = self
            .ctx
            .bare_newline_exclusions
            .matches(&self.client_name, self.client_addr)
        {
            self.bare_newline = BareNewlineMode::No;
        }
        let wrapped = if self.ctx.security.wrapper_mode && self.ctx.tls.is_some() {
            match self.new_tls_session_rate_exceeded(true) {
                Some(reply) => {
                    let _ = Box::pin(self.reply(reply)).await;
                    Flow::Close
                }
                None => Box::pin(self.tls_handshake()).await,
            }
        } else {
            Flow::Continue
        };
        if wrapped == Flow::Continue && Box::pin(self.greet()).await == Flow::Continue {
            self.command_loop().await;
        }
        if let Some(tx) = self.tx.take() {
            tx.abort();
        }
        Box::pin(self.milter_quit()).await;
        self.unregister_connection();
        gatepost_log::info(
            "smtpd",
            format!(
                "disconnect from {} {}",
                self.client_label,
                self.counters.render()
            ),
        );
        self.stream.shutdown().await;
    }

    async fn greet(&mut self) -> Flow {
        if let Some(reply) = self.register_connection() {
            let _ = self.reply(reply).await;
            return Flow::Close;
        }
        let verdict = self.check(Stage::Connect, None).await;
        if self.stream.input_pending() && self.flag_pipelining("CONNECT") == Flow::Close {
            return self.sync_error().await;
        }
        if let Some(reply) = verdict.reply {
            let closes = reply.closes_session();
            self.access_denied = true;
            if self.reply(reply).await == Flow::Close || closes {
                return Flow::Close;
            }
            // The refusal counts toward smtpd_hard_error_limit, as in Postfix.
            self.errors += 1;
            return Flow::Continue;
        }
        if let Some(reply) = self.milter_connect().await {
            let _ = self.reply(reply).await;
            return Flow::Close;
        }
        let banner = Reply::plain(220, self.ctx.settings.banner.clone());
        self.reply(banner).await
    }

    async fn command_loop(&mut self) {
        while let Some(cmd) = self.next_command().await {
            if Box::pin(self.run_command(cmd)).await == Flow::Close {
                return;
            }
        }
    }

    /// Read the next command: the error limit (`421`), the line checks
    /// (length, bare LF, UTF-8) and the pipelining test come first. `None`
    /// when the session is over. Only the read is awaited in place (the
    /// idle session's future); the replies are boxed.
    pub(crate) async fn next_command(&mut self) -> Option<Command> {
        loop {
            if self.errors >= self.ctx.settings.hard_error_limit {
                gatepost_log::info(
                    "smtpd",
                    format!(
                        "too many errors after {} from {}",
                        self.state, self.client_label
                    ),
                );
                let reply = Reply::new(
                    421,
                    "4.7.0",
                    format!("{} Error: too many errors", self.ctx.settings.myhostname),
                );
                let _ = Box::pin(self.reply(reply)).await;
                return None;
            }
            let line = match self.stream.read_line().await {
                Ok(line) => line,
                Err(e) => {
                    Box::pin(self.stream_failed(e)).await;
                    return None;
                }
            };
            if line.truncated() {
                let head: String = String::from_utf8_lossy(&line.bytes)
                    .chars()
                    .take(30)
                    .collect();
                gatepost_log::warning(
                    "smtpd",
                    format!(
                        "{}: request longer than {}: {}...",
                        self.client_label,
                        self.ctx.settings.line_length_limit,
                        gatepost_log::sanitize(&head)
                    ),
                );
            }
            if line.bare_lf && self.bare_newline == BareNewlineMode::Reject {
                Box::pin(self.bare_lf_reject(&self.state.clone())).await;
                return None;
            }
            if self.ctx.settings.smtputf8 && std::str::from_utf8(&line.bytes).is_err() {
                let reply = Reply::new(500, "5.5.2", "Error: bad UTF-8 syntax");
                if Box::pin(self.answer(None, reply)).await == Flow::Close {
                    return None;
                }
                continue;
            }
            return Some(Command::parse(&line.bytes));
        }
    }

    /// Run one command: the pipelining test, the handler, the junk count.
    pub(crate) async fn run_command(&mut self, cmd: Command) -> Flow {
        // Postfix names an unrecognised command UNKNOWN in its log lines.
        let name = match cmd.verb {
            Some(v) => v.upper_name().to_string(),
            None => "UNKNOWN".to_string(),
        };
        if self.pipelining_check(&cmd, &name).await == Flow::Close {
            return Flow::Close;
        }
        // A client that was refused at CONNECT stays "after CONNECT" in
        // the log lines, as in Postfix, except for unknown commands.
        // Blank lines and smtpd_noop_commands leave it too.
        let noop = self
            .ctx
            .settings
            .noop_commands
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&cmd.word));
        if (!self.access_denied || cmd.verb.is_none()) && !cmd.is_empty() && !noop {
            self.state = name;
        }
        let junk = cmd.verb.map(Verb::is_junk).unwrap_or(false) && !self.access_denied && !noop;
        let flow = self.dispatch(cmd).await;
        if junk && flow == Flow::Continue {
            self.count_junk();
        }
        flow
    }

    /// End the mail transaction (RSET, HELO/EHLO, STARTTLS): the queue
    /// file is thrown away and BDAT state forgotten.
    pub(crate) fn end_transaction(&mut self) {
        if let Some(tx) = self.tx.take() {
            tx.abort();
        }
        self.policy_state.reset_transaction();
        self.bdat = BdatState::None;
    }

    /// The improper-pipelining test before a command runs. As in Postfix
    /// it applies only to a command that gets past the unknown-command and
    /// access-denied replies.
    pub(crate) async fn pipelining_check(&mut self, cmd: &Command, name: &str) -> Flow {
        let tested = match cmd.verb {
            Some(v) => !self.access_denied || v == Verb::Quit,
            None => false,
        };
        // An ESMTP client may pipeline up to the end of a group: only a
        // command that must wait for its reply looks at the socket.
        let must_wait =
            self.protocol != "ESMTP" || cmd.verb.map(Verb::ends_pipeline_group).unwrap_or(true);
        if tested
            && must_wait
            && !self.improper_pipelining
            && self.stream.input_pending()
            && self.flag_pipelining(name) == Flow::Close
        {
            // Postfix counted the command when it looked it up.
            self.counters.record(cmd.verb, false);
            return self.sync_error().await;
        }
        Flow::Continue
    }

    /// Count a junk command (HELO, EHLO, NOOP, RSET, VRFY, ETRN or one of
    /// `smtpd_noop_commands`) after its reply: past
    /// `smtpd_junk_command_limit` each one is also an error, as Postfix's
    /// `junk_cmds++ > limit`.
    pub(crate) fn count_junk(&mut self) {
        if self.junk > self.ctx.settings.junk_command_limit {
            self.errors += 1;
        }
        self.junk += 1;
    }

    /// Set the improper-pipelining flag and log it. Returns `Close` when
    /// `smtpd_forbid_unauth_pipelining` says to hang up.
    fn flag_pipelining(&mut self, after: &str) -> Flow {
        self.improper_pipelining = true;
        let preview = self.stream.pending_preview(100);
        gatepost_log::info(
            "smtpd",
            format!(
                "improper command pipelining after {} from {}: {}",
                after,
                self.client_label,
                gatepost_log::escape_bytes(&preview, 100)
            ),
        );
        if self.ctx.settings.forbid_unauth_pipelining {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    async fn sync_error(&mut self) -> Flow {
        let _ = self
            .reply(Reply::new(
                554,
                "5.5.0",
                "Error: SMTP protocol synchronization",
            ))
            .await;
        Flow::Close
    }

    pub(crate) async fn bare_lf_reject(&mut self, stage: &str) {
        let reply = Reply::new(
            self.ctx.settings.bare_newline_reject_code,
            "5.5.2",
            format!("{} Error: bare <LF> received", self.ctx.settings.myhostname),
        );
        self.log_action("reject", stage, "bare <LF> received");
        let _ = self.reply(reply).await;
    }

    pub(crate) async fn stream_failed(&mut self, e: StreamError) {
        // Inside BDAT content Postfix logs the bytes received so far.
        let after = if self.state == crate::bdat::BDAT_CONTENT {
            let bytes = self.tx.as_ref().map(|t| t.data_bytes).unwrap_or(0);
            format!("BDAT ({bytes} bytes)")
        } else {
            self.state.clone()
        };
        match e {
            StreamError::Timeout => {
                let reply = Reply::new(
                    421,
                    "4.4.2",
                    format!("{} Error: timeout exceeded", self.ctx.settings.myhostname),
                );
                // Postfix 3.7 counts, after a BDAT timeout, the content
                // taken so far plus the length of the 421 reply it just
                // sent (its reply buffer): logged the same.
                let after = match self.tx.as_ref() {
                    Some(t) if self.state == crate::bdat::BDAT_CONTENT => format!(
                        "BDAT ({} bytes)",
                        t.bdat_size + reply.to_string().len() as u64
                    ),
                    _ => after,
                };
                gatepost_log::info(
                    "smtpd",
                    format!("timeout after {after} from {}", self.client_label),
                );
                let _ = self.reply(reply).await;
            }
            // Postfix logs nothing for a client that leaves right after
            // its message was accepted (no QUIT after the final dot).
            StreamError::Closed | StreamError::Io(_) if self.state == "END-OF-MESSAGE" => {}
            StreamError::Closed | StreamError::Io(_) => {
                gatepost_log::info(
                    "smtpd",
                    format!("lost connection after {after} from {}", self.client_label),
                );
            }
        }
    }

    /// The one path every reply takes.
    pub(crate) async fn reply(&mut self, mut reply: Reply) -> Flow {
        if self.hangup {
            return Flow::Close;
        }
        if reply.code >= 400 {
            self.add_footer(&mut reply);
        }
        if self.ctx.settings.soft_bounce {
            reply = reply.soft_bounced();
        }
        // Past the soft error limit every reply waits (smtpd(8)'s tarpit),
        // without holding up other sessions.
        if self.errors >= self.ctx.settings.soft_error_limit {
            self.ctx.count_error_sleep();
            tokio::time::sleep(self.ctx.settings.error_sleep_time).await;
        }
        let closes = reply.closes_session();
        if let Err(e) = self.stream.write_reply(&reply).await {
            let what = if matches!(e, StreamError::Timeout) {
                "timeout"
            } else {
                "lost connection"
            };
            gatepost_log::info(
                "smtpd",
                format!("{what} after {} from {}", self.state, self.client_label),
            );
            return Flow::Close;
        }
        if closes {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    /// `smtpd_reject_footer_maps` or `smtpd_reject_footer` on a 4XX/5XX
    /// reply.
    fn add_footer(&self, reply: &mut Reply) {
        let settings = &self.ctx.settings;
        let Some(template) =
            crate::footer::template(reply, &settings.reject_footer_maps, &settings.reject_footer)
        else {
            return;
        };
        let vars = crate::footer::FooterVars {
            server_name: &self.ctx.settings.myhostname,
            client: &self.client_label,
            client_address: self.client_addr.to_string(),
            client_name: &self.client_name,
            client_port: self.client_port.to_string(),
            reverse_client_name: &self.reverse_name,
            helo_name: self.helo.as_deref().unwrap_or(""),
            sender: self.tx.as_ref().map(|t| t.sender.as_str()),
        };
        crate::footer::apply(reply, &template, &vars);
    }

    /// Send a reply for a command, counting it (ok when 2xx/3xx) and, once
    /// sent, adding an error for 4xx/5xx (the reply itself is not yet
    /// delayed by it, as in Postfix).
    pub(crate) async fn answer(&mut self, verb: Option<Verb>, reply: Reply) -> Flow {
        let ok = reply.is_positive();
        self.counters.record(verb, ok);
        let flow = self.reply(reply).await;
        if !ok {
            self.errors += 1;
        }
        flow
    }

    /// The policy facts for the current moment.
    pub(crate) fn facts(&self, recipient: Option<&str>) -> Facts {
        let tx = self.tx.as_ref();
        Facts {
            client_addr: self.client_addr,
            client_name: self.client_name.clone(),
            reverse_client_name: self.reverse_name.clone(),
            server_addr: self.server_addr,
            helo: self.helo.clone(),
            protocol: self.protocol.to_string(),
            sender: tx.map(|t| t.sender.clone()),
            recipient: recipient.map(str::to_string),
            recipient_count: tx.map(|t| t.recipients.len()).unwrap_or(0),
            queue_id: tx.and_then(|t| t.queue_id()),
            improper_pipelining: self.improper_pipelining,
            sasl_method: self.login.as_ref().map(|l| l.method.to_string()),
            sasl_username: self.login.as_ref().map(|l| l.username.clone()),
            etrn_domain: None,
            size: tx.map(|t| t.declared_size).unwrap_or(0),
            encryption: self.tls.as_ref().map(|t| gatepost_policy::Encryption {
                protocol: t.protocol.clone(),
                cipher: t.cipher.clone(),
                keysize: t.bits,
            }),
            client_name_tempfail: self.client_name_tempfail,
            reverse_name_tempfail: self.reverse_name_tempfail,
        }
    }

    /// Run the restrictions for `stage` and log what they say.
    pub(crate) async fn check(&mut self, stage: Stage, recipient: Option<&str>) -> Verdict {
        let facts = self.facts(recipient);
        self.check_with(stage, facts).await
    }

    pub(crate) async fn check_with(&mut self, stage: Stage, facts: Facts) -> Verdict {
        self.check_as(stage, facts, stage.log_name()).await
    }

    /// As `check_with`, logged under another command name (BDAT runs the
    /// DATA restrictions and logs `reject: BDAT from ...`).
    pub(crate) async fn check_as(&mut self, stage: Stage, facts: Facts, log_name: &str) -> Verdict {
        let ctx = self.ctx.clone();
        let verdict = ctx
            .policy
            .check(stage, &facts, &mut self.policy_state)
            .await;
        if verdict.hangup {
            self.hangup = true;
        }
        self.log_events(log_name, &verdict, facts.recipient.as_deref());
        if verdict.reply.is_some() {
            count_reject(stage, &verdict);
        }
        verdict
    }

    fn log_events(&self, stage: &str, verdict: &Verdict, recipient: Option<&str>) {
        for event in &verdict.events {
            if event.action == gatepost_policy::LogEvent::WARNING {
                gatepost_log::warning("smtpd", &event.text);
            } else if event.action == gatepost_policy::LogEvent::NOTE {
                gatepost_log::info("smtpd", &event.text);
            } else {
                self.log_action_to(&event.action, stage, &event.text, recipient);
            }
        }
    }

    /// Log `ID: ACTION: STAGE from client: TEXT; from=<> to=<> proto= helo=<>`.
    pub(crate) fn log_action(&self, action: &str, stage: &str, text: &str) {
        self.log_action_to(action, stage, text, None);
    }

    pub(crate) fn log_action_to(
        &self,
        action: &str,
        stage: &str,
        text: &str,
        recipient: Option<&str>,
    ) {
        gatepost_log::info("smtpd", self.render_action(action, stage, text, recipient));
    }

    /// The action line, as [`Session::log_action_to`] writes it.
    pub(crate) fn render_action(
        &self,
        action: &str,
        stage: &str,
        text: &str,
        recipient: Option<&str>,
    ) -> String {
        let tx = self.tx.as_ref();
        let queue_id = tx.and_then(|t| t.queue_id());
        let from = tx.map(|t| gatepost_rewrite::quote_address(&t.sender));
        let to = match recipient {
            Some(r) => Some(gatepost_rewrite::quote_address(r)),
            None if matches!(
                stage,
                "DATA" | "END-OF-MESSAGE" | "BDAT" | crate::bdat::BDAT_CONTENT
            ) =>
            {
                match tx {
                    Some(t) if t.recipients.len() == 1 => {
                        Some(gatepost_rewrite::quote_address(&t.recipients[0].original))
                    }
                    _ => None,
                }
            }
            None => None,
        };
        ActionLine {
            queue_id: queue_id.as_deref(),
            action,
            stage,
            client: &self.client_label,
            text,
            from: from.as_deref(),
            to: to.as_deref(),
            proto: Some(self.protocol),
            helo: self.helo.as_deref(),
        }
        .render()
    }
}

/// IPv4-mapped IPv6 addresses are shown as IPv4, as Postfix does.
fn normalize_addr(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

/// Count a restriction reject in the metrics, by the restriction that
/// decided it (its name without the table argument).
fn count_reject(stage: Stage, verdict: &Verdict) {
    let restriction = verdict
        .decided_by()
        .and_then(|step| step.restriction.split_whitespace().next())
        .unwrap_or("unknown");
    gatepost_metrics::reject(restriction, stage.log_name());
    if matches!(
        restriction,
        "reject_unauth_destination" | "defer_unauth_destination" | "check_relay_domains"
    ) {
        gatepost_metrics::relay_denied();
    }
}
