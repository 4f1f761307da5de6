//! smtpd's side of `smtpd_milters` (Postfix's smtpd_milter.c and
//! `check_milter_reply()`): the filters are connected when the client is,
//! told each stage (CONNECT, HELO/EHLO, MAIL, RCPT, DATA, the message) with
//! the macros Postfix sends, and their decisions become replies and the
//! `milter-reject`, `milter-hold`, `milter-discard` log lines. A reject at
//! CONNECT or HELO is answered at MAIL FROM (the filter keeps answering
//! it), except 421, which ends the session at once. Commands gatepost does
//! not recognise are shown to the filters (`SMFIC_UNKNOWN`) before the
//! `500` reply; what `milter_header_checks` decide about the headers the
//! filters add is carried out here too.

use std::sync::Arc;

use gatepost_config::{params, Config};
use gatepost_milter::{
    CheckOrigin, Client, EnvelopeChanges, HeaderCheckVerdict, Macros, Message, MilterSettings,
    Milters, Outcome,
};
use gatepost_policy::MessageAction;
use gatepost_proto::Reply;

use crate::session::Session;
use crate::transaction::Transaction;

/// The service's milters: `smtpd_milters`, unless
/// `receive_override_options` has `no_milters`.
pub(crate) fn settings(cfg: &Config) -> Option<Arc<MilterSettings>> {
    let overrides = cfg.get(&params::RECEIVE_OVERRIDE_OPTIONS);
    if overrides
        .iter()
        .any(|o| o.eq_ignore_ascii_case("no_milters"))
    {
        return None;
    }
    MilterSettings::from_config(cfg, &params::SMTPD_MILTERS).map(Arc::new)
}

/// The arguments of MAIL FROM / RCPT TO as filters get them: the path,
/// then the ESMTP parameters.
pub(crate) fn milter_args(args: &str) -> Vec<String> {
    let rest = match args.find(':') {
        Some(i) => &args[i + 1..],
        None => args,
    };
    rest.split_whitespace().map(str::to_string).collect()
}

/// A filter's `4XX X.Y.Z text` (one or more lines) as a reply.
pub(crate) fn parse_reply(text: &str) -> Reply {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .collect();
    let code = lines
        .first()
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(451);
    let mut dsn: Option<String> = None;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.get(4..).unwrap_or("");
        let (first, rest) = body.split_once(' ').unwrap_or((body, ""));
        let is_dsn = first.split('.').count() == 3
            && first
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if i == 0 && is_dsn {
            dsn = Some(first.to_string());
        }
        out.push(if dsn.is_some() && is_dsn { rest } else { body }.to_string());
    }
    Reply {
        code,
        dsn,
        lines: out,
    }
}

impl Session {
    /// The macro values known now (Postfix's `smtpd_milter_eval`).
    /// The macros for the session's filters, or `None` when it has none
    /// (then nothing is built: this runs at every stage of every session).
    fn filter_macros(&self, recipient: Option<&str>) -> Option<Macros> {
        self.milters.as_ref()?;
        Some(self.milter_macros(recipient))
    }

    pub(crate) fn milter_macros(&self, recipient: Option<&str>) -> Macros {
        let mut m = Macros::new();
        let mut set = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        let s = &self.ctx.settings;
        set("j", s.myhostname.clone());
        if let Some(ms) = &self.ctx.milters {
            set("daemon_name", ms.daemon_name.clone());
            set("v", ms.version_macro.clone());
        }
        set("daemon_addr", self.server_addr.to_string());
        let forged = if self.client_name.eq_ignore_ascii_case(&self.reverse_name) {
            ""
        } else {
            " (may be forged)"
        };
        set(
            "_",
            format!("{} [{}]{forged}", self.reverse_name, self.client_addr),
        );
        set("client_addr", self.client_addr.to_string());
        set("client_port", self.client_port.to_string());
        // Zero when the client is not counted (smtpd_client_event_limit_exceptions).
        set("client_connections", self.connection_count.to_string());
        set("client_name", self.client_name.clone());
        set("client_ptr", self.reverse_name.clone());
        if let Some(tls) = &self.tls {
            set("tls_version", tls.protocol.clone());
            set("cipher", tls.cipher.clone());
            set("cipher_bits", tls.bits.to_string());
        }
        if let Some(login) = &self.login {
            set("auth_type", login.method.to_string());
            set("auth_authen", login.username.clone());
        }
        if let Some(tx) = &self.tx {
            if let Some(id) = tx.queue_id() {
                set("i", id);
            }
            set("mail_addr", tx.sender.clone());
            if let Some(author) = &tx.auth_author {
                set("auth_author", gatepost_log::sanitize(author));
            }
            if let Ok(r) = self.ctx.rewriter.resolve(&tx.sender) {
                set("mail_mailer", r.transport);
                set("mail_host", r.nexthop);
            }
        }
        if let Some(rcpt) = recipient {
            set("rcpt_addr", rcpt.to_string());
            if let Ok(r) = self.ctx.rewriter.resolve(rcpt) {
                set("rcpt_mailer", r.transport);
                set("rcpt_host", r.nexthop);
            }
        }
        m
    }

    /// Postfix's `check_milter_reply()`: log the decision; the reply to
    /// send, if any (HOLD and DISCARD only mark the transaction).
    fn milter_verdict(
        &mut self,
        stage: &str,
        outcome: Outcome,
        recipient: Option<&str>,
    ) -> Option<Reply> {
        let (action, text, reply) = match outcome {
            Outcome::Hold => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.milter_hold = true;
                }
                (
                    "milter-hold",
                    "milter triggers HOLD action".to_string(),
                    None,
                )
            }
            Outcome::Discard => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.milter_discard = true;
                }
                (
                    "milter-discard",
                    "milter triggers DISCARD action".to_string(),
                    None,
                )
            }
            Outcome::Shutdown => {
                let r = Reply::new(421, "4.7.0", "Server closing connection");
                ("milter-reject", r.to_wire().trim_end().to_string(), Some(r))
            }
            Outcome::Reply(text) => {
                let r = parse_reply(&text);
                ("milter-reject", text.replace("\r\n", " "), Some(r))
            }
        };
        self.log_action_to(action, stage, &text, recipient);
        reply
    }

    /// Connect the filters and report the client; `Some(reply)` ends the
    /// session (421).
    pub(crate) async fn milter_connect(&mut self) -> Option<Reply> {
        let settings = self.ctx.milters.clone()?;
        if self.fixed_name {
            return None;
        }
        let macros = self.milter_macros(None);
        let mut milters = Milters::new(settings, "smtpd");
        let client = Client {
            name: &self.client_name,
            addr: Some(self.client_addr),
            port: self.client_port,
        };
        let outcome = milters.connect(&client, &macros).await;
        self.milters = Some(milters);
        let reply = self.milter_verdict("CONNECT", outcome?, None)?;
        reply.closes_session().then_some(reply)
    }

    /// HELO/EHLO; `Some(reply)` only for 421. Logged, as Postfix does,
    /// with the new HELO name but the protocol from before the command.
    pub(crate) async fn milter_helo(
        &mut self,
        name: &str,
        verb: gatepost_proto::Verb,
        protocol_before: &'static str,
    ) -> Option<Reply> {
        let macros = self.filter_macros(None)?;
        let outcome = self.milters.as_mut()?.helo(name, &macros).await?;
        let stage = if verb == gatepost_proto::Verb::Ehlo {
            "EHLO"
        } else {
            "HELO"
        };
        let protocol = std::mem::replace(&mut self.protocol, protocol_before);
        let reply = self.milter_verdict(stage, outcome, None);
        self.protocol = protocol;
        reply.filter(Reply::closes_session)
    }

    /// MAIL FROM, once the restrictions accepted it.
    pub(crate) async fn milter_mail(&mut self, args: &str) -> Option<Reply> {
        let macros = self.filter_macros(None)?;
        let outcome = self
            .milters
            .as_mut()?
            .mail(&milter_args(args), &macros)
            .await?;
        self.milter_verdict("MAIL", outcome, None)
    }

    /// RCPT TO, once the restrictions accepted it.
    pub(crate) async fn milter_rcpt(&mut self, args: &str, recipient: &str) -> Option<Reply> {
        let macros = self.filter_macros(Some(recipient))?;
        let outcome = self
            .milters
            .as_mut()?
            .rcpt(&milter_args(args), &macros)
            .await?;
        self.milter_verdict("RCPT", outcome, Some(recipient))
    }

    /// DATA, before 354.
    pub(crate) async fn milter_data(&mut self) -> Option<Reply> {
        let macros = self.filter_macros(None)?;
        let outcome = self.milters.as_mut()?.data(&macros).await?;
        self.milter_verdict("DATA", outcome, None)
    }

    /// A command gatepost does not recognise (the command word), before
    /// it is answered `500`: the filter's reply instead, if it has one.
    pub(crate) async fn milter_unknown(&mut self, word: &str) -> Option<Reply> {
        let macros = self.filter_macros(None)?;
        let outcome = self.milters.as_mut()?.unknown(word, &macros).await?;
        self.milter_verdict("UNKNOWN", outcome, None)
    }

    /// The transaction ended (RSET, HELO, end of DATA).
    pub(crate) async fn milter_abort(&mut self) {
        if let Some(m) = self.milters.as_mut() {
            m.abort().await;
        }
    }

    /// The session ended.
    pub(crate) async fn milter_quit(&mut self) {
        if let Some(mut m) = self.milters.take() {
            m.quit().await;
        }
    }

    pub(crate) fn milters_active(&self) -> bool {
        self.milters.is_some()
    }

    /// The message to the filters, with the transaction put back in the
    /// session for the log lines; the content as edited and the envelope
    /// changes, or the reply that ends the transaction.
    pub(crate) async fn milter_end_of_message(
        &mut self,
        tx: &mut Transaction,
        content: &[u8],
    ) -> Result<(Vec<u8>, EnvelopeChanges), Reply> {
        let saved = std::mem::replace(tx, Transaction::new(String::new()));
        self.tx = Some(Box::new(saved));
        let result = self.milter_message_in_session(content).await;
        if let Some(t) = self.tx.take() {
            *tx = *t;
        }
        result
    }

    async fn milter_message_in_session(
        &mut self,
        content: &[u8],
    ) -> Result<(Vec<u8>, EnvelopeChanges), Reply> {
        let Some(macros) = self.filter_macros(None) else {
            return Ok((content.to_vec(), EnvelopeChanges::default()));
        };
        let mut message = Message::parse(content);
        let origin = self.check_origin();
        let Some(milters) = self.milters.as_mut() else {
            return Ok((content.to_vec(), EnvelopeChanges::default()));
        };
        let verdict = milters.message(&mut message, &macros, &origin).await;
        self.apply_header_checks(&verdict.checks)?;
        let stage = "END-OF-MESSAGE";
        if verdict.hold {
            if let Some(tx) = self.tx.as_mut() {
                tx.milter_hold = true;
            }
            self.log_cleanup_action("milter-hold", stage, "milter triggers HOLD action");
        }
        match verdict.outcome {
            None => Ok((message.to_content(), verdict.envelope)),
            Some(Outcome::Hold) => unreachable_hold(),
            Some(Outcome::Discard) => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.milter_discard = true;
                }
                self.log_cleanup_action("milter-discard", stage, "milter triggers DISCARD action");
                Ok((message.to_content(), EnvelopeChanges::default()))
            }
            Some(Outcome::Shutdown) => {
                let reply = Reply::new(421, "4.7.0", "Server closing connection");
                self.log_cleanup_action("milter-reject", stage, "4.7.0 Server closing connection");
                Err(reply)
            }
            Some(Outcome::Reply(text)) => {
                let reply = parse_reply(&text);
                let logged = text.get(4..).unwrap_or("").replace("\r\n", " ");
                self.log_cleanup_action("milter-reject", stage, &logged);
                Err(reply)
            }
        }
    }

    /// The message as `milter_header_checks` log lines show it.
    fn check_origin(&self) -> CheckOrigin {
        let tx = self.tx.as_deref();
        CheckOrigin {
            queue_id: tx.and_then(Transaction::queue_id).unwrap_or_default(),
            client: self.client_label.clone(),
            sender: tx.map(|t| t.sender.clone()).unwrap_or_default(),
            recipient: tx
                .and_then(|t| t.recipients.last())
                .map(|r| r.address.clone()),
            proto: Some(self.protocol.to_string()),
            helo: self.helo.clone(),
        }
    }

    /// What `milter_header_checks` decided (already logged): a rejection
    /// ends the transaction, as cleanup's status does (`550`, `451` for a
    /// `4.x.x` reason); DISCARD, HOLD, REDIRECT, BCC and FILTER go with the
    /// transaction.
    fn apply_header_checks(&mut self, checks: &HeaderCheckVerdict) -> Result<(), Reply> {
        if checks.lookup_failed {
            return Err(Reply::new(451, "4.3.0", "Error: queue file write error"));
        }
        if let Some(reason) = &checks.reject {
            let (dsn, text) = reason.split_once(' ').unwrap_or((reason.as_str(), ""));
            let code = if dsn.starts_with('4') { 451 } else { 550 };
            return Err(Reply::new(code, dsn, text));
        }
        let Some(tx) = self.tx.as_mut() else {
            return Ok(());
        };
        tx.milter_discard |= checks.discard;
        tx.milter_hold |= checks.hold;
        if let Some(to) = &checks.redirect {
            tx.actions.push(MessageAction::Redirect(to.clone()));
        }
        for bcc in &checks.bcc {
            tx.actions.push(MessageAction::Bcc(bcc.clone()));
        }
        if let Some(next) = &checks.filter {
            tx.actions.push(MessageAction::Filter(next.clone()));
        }
        Ok(())
    }

    /// cleanup's `ID: ACTION: END-OF-MESSAGE from client: TEXT; from=<>
    /// to=<> proto= helo=<>`.
    fn log_cleanup_action(&self, action: &str, stage: &str, text: &str) {
        gatepost_log::info("cleanup", self.render_action(action, stage, text, None));
    }
}

/// `Milters::message` reports quarantine in `hold`, never as the outcome.
fn unreachable_hold() -> Result<(Vec<u8>, EnvelopeChanges), Reply> {
    Err(Reply::new(451, "4.3.0", "Error: internal error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_from_filters() {
        let r = parse_reply("550 5.7.1 Command rejected");
        assert_eq!(
            (r.code, r.dsn.as_deref(), r.text()),
            (550, Some("5.7.1"), "Command rejected")
        );
        let r = parse_reply("451-4.7.1 first\r\n451 4.7.1 second");
        assert_eq!(r.to_wire(), "451-4.7.1 first\r\n451 4.7.1 second\r\n");
        let r = parse_reply("554 no code here");
        assert_eq!((r.dsn.as_deref(), r.text()), (None, "no code here"));
    }

    #[test]
    fn mail_arguments() {
        assert_eq!(milter_args("FROM:<a@b> SIZE=10"), vec!["<a@b>", "SIZE=10"]);
        assert_eq!(milter_args("TO: <c@d>"), vec!["<c@d>"]);
    }
}
