//! DATA: the checks before `354`, reading the content through the framer
//! and cleanup(8) (the `gatepost-cleanup` crate, shared with pickup) into
//! the queue file (PREPEND and our Received: header first;
//! `message_size_limit` and `hopcount_limit` enforced), the end-of-data
//! checks, envelope cleanup (canonicalisation, virtual alias expansion),
//! and the durable commit before `250`.

use chrono::{DateTime, Local};
use gatepost_cleanup::{
    clean_recipients, clean_sender, CleanupContext, ContentRules, ContentVerdict, LogOrigin,
    MessageCleanup, Source,
};
use gatepost_mailauth::DmarcAction;
use gatepost_milter::EnvelopeChanges;
use gatepost_policy::{MessageAction, Stage};
use gatepost_proto::{DataReader, Reply, Verb};
use gatepost_queue::{Envelope, EnvelopeRecipient, MessageWriter};
use gatepost_rewrite::{AddressRole, Rewriter};

use crate::content_verdict;
use crate::mail_auth::AuthMode;
use crate::received::{received_header, ReceivedInfo};
use crate::session::{Flow, Session};
use crate::settings::SmtpdSettings;
use crate::stream::StreamError;
use crate::transaction::Transaction;

/// Where cleanup's output goes: the queue file, within
/// `message_size_limit`.
pub(crate) struct QueueFileSink<'a> {
    writer: &'a mut MessageWriter,
    limit: u64,
    written: u64,
    pub(crate) too_big: bool,
    pub(crate) write_error: Option<String>,
    /// With milters, or with DKIM signing or verification
    /// (docs/mail-auth.md), the content is held here until the end of the
    /// data.
    pub(crate) buffer: Option<Vec<u8>>,
}

/// The session and envelope (as cleanup has rewritten it) for cleanup's
/// log lines.
pub(crate) struct LogEnvelope {
    origin: String,
    sender: String,
    recipient: Option<String>,
    proto: &'static str,
    helo: Option<String>,
}

/// What reading the content produced, for the checks after it.
pub(crate) struct ContentEnd {
    pub(crate) too_big: bool,
    pub(crate) bare_lf: bool,
    pub(crate) write_error: Option<String>,
    pub(crate) hops: usize,
    pub(crate) message_id: Option<String>,
    /// Content size as Postfix counts it, for the end-of-data checks.
    pub(crate) size: u64,
    /// BDAT: the content size for `250 2.0.0 Ok: N bytes queued as ID`.
    pub(crate) bdat_bytes: Option<u64>,
    /// What the header/body checks decided.
    pub(crate) verdict: ContentVerdict,
    /// The content held back (`QueueFileSink::buffer`).
    pub(crate) buffered: Option<Vec<u8>>,
}

/// What the end of the content hands to the commit.
struct Finish<'a> {
    message_id: Option<String>,
    bdat_bytes: Option<u64>,
    milter_changes: EnvelopeChanges,
    verdict: &'a ContentVerdict,
}

/// `250 2.0.0 Ok: queued as ID`, after BDAT `Ok: N bytes queued as ID`.
fn queued_reply(id: &str, bdat_bytes: Option<u64>) -> Reply {
    match bdat_bytes {
        Some(n) => Reply::new(250, "2.0.0", format!("Ok: {n} bytes queued as {id}")),
        None => Reply::new(250, "2.0.0", format!("Ok: queued as {id}")),
    }
}

/// The first lines of every message: PREPEND headers from access tables
/// above our `Received:`.
pub(crate) fn start_content<O: FnMut(&[u8])>(
    cleanup: &mut MessageCleanup<'_, O>,
    actions: &[MessageAction],
    received: &str,
) {
    for action in actions {
        if let MessageAction::Prepend(text) = action {
            cleanup.prepend(&format!("{}\n", gatepost_log::sanitize(text)));
        }
    }
    cleanup.prepend(received);
}

impl QueueFileSink<'_> {
    /// `limit` 0: no limit; `hold_for_milters`: buffer the content instead
    /// of writing it (the milters may replace it).
    pub(crate) fn new(
        writer: &mut MessageWriter,
        limit: u64,
        hold_for_milters: bool,
    ) -> QueueFileSink<'_> {
        QueueFileSink {
            writer,
            limit,
            written: 0,
            too_big: false,
            write_error: None,
            buffer: hold_for_milters.then(Vec::new),
        }
    }

    pub(crate) fn put(&mut self, data: &[u8]) {
        if self.write_error.is_some() || self.too_big {
            return;
        }
        self.written += data.len() as u64;
        if self.limit > 0 && self.written > self.limit {
            self.too_big = true;
            return;
        }
        if let Some(buffer) = self.buffer.as_mut() {
            buffer.extend_from_slice(data);
            return;
        }
        if let Err(e) = self.writer.write_content(data) {
            self.write_error = Some(e.to_string());
        }
    }
}

impl Session {
    pub(crate) async fn data(&mut self, args: &str) -> Flow {
        let verb = Some(Verb::Data);
        if self.bdat != crate::bdat::BdatState::None {
            return self
                .answer(verb, Reply::new(503, "5.5.1", "Error: DATA after BDAT"))
                .await;
        }
        match &self.tx {
            None => {
                return self
                    .answer(verb, Reply::new(503, "5.5.1", "Error: need RCPT command"))
                    .await
            }
            // Postfix answers this whether or not RCPT was tried.
            Some(tx) if tx.recipients.is_empty() => {
                return self
                    .answer(verb, Reply::new(554, "5.5.1", "Error: no valid recipients"))
                    .await;
            }
            Some(_) => {}
        }
        if !args.is_empty() {
            return self
                .answer(verb, Reply::new(501, "5.5.4", "Syntax: DATA"))
                .await;
        }
        let verdict = self.check(Stage::Data, None).await;
        if let Some(reply) = verdict.reply {
            return self.answer(verb, reply).await;
        }
        if let Some(reply) = self.milter_data().await {
            return self.answer(verb, reply).await;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.actions.extend(verdict.actions);
        }
        if self
            .reply(Reply::plain(354, "End data with <CR><LF>.<CR><LF>"))
            .await
            == Flow::Close
        {
            return Flow::Close;
        }
        let Some(mut tx) = self.tx.take() else {
            return Flow::Close;
        };
        let outcome = self.receive_content(&mut tx).await;
        self.policy_state.reset_transaction();
        match outcome {
            Err(e) => {
                // Postfix counted the command when it looked it up.
                self.counters.record(verb, false);
                let bytes = tx.data_bytes;
                match e {
                    StreamError::Timeout => {
                        self.tx = Some(tx);
                        self.state = "DATA".into();
                        gatepost_log::info(
                            "smtpd",
                            format!(
                                "timeout after DATA ({bytes} bytes) from {}",
                                self.client_label
                            ),
                        );
                        let reply = Reply::new(
                            421,
                            "4.4.2",
                            format!("{} Error: timeout exceeded", self.ctx.settings.myhostname),
                        );
                        let _ = self.reply(reply).await;
                    }
                    _ => {
                        gatepost_log::info(
                            "smtpd",
                            format!(
                                "lost connection after DATA ({bytes} bytes) from {}",
                                self.client_label
                            ),
                        );
                        tx.abort();
                    }
                }
                Flow::Close
            }
            Ok(reply) => {
                self.state = "END-OF-MESSAGE".into();
                let ok = reply.is_positive();
                self.counters.record(verb, ok);
                if ok {
                    self.errors = 0;
                    self.junk = 0;
                }
                let flow = self.reply(reply).await;
                if !ok {
                    self.errors += 1;
                }
                flow
            }
        }
    }

    /// Read the content and finish the transaction; returns the final reply.
    async fn receive_content(&mut self, tx: &mut Transaction) -> Result<Reply, StreamError> {
        // The context is shared: no copy of the settings per message.
        let ctx = self.ctx.clone();
        let settings = &ctx.settings;
        let Some(mut writer) = tx.writer.take() else {
            return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
        };
        let queue_id = writer.id().to_string();
        let header = self.received_for(tx, &queue_id);
        let rewriter = self.ctx.rewriter.clone();
        let rules = self.ctx.content_rules.clone();
        let log_envelope = self.log_envelope(&tx.sender, &tx.recipients);
        let cleanup_ctx = self.cleanup_context(
            settings,
            &queue_id,
            &tx.sender,
            tx.arrival_local,
            &rewriter,
            &rules,
            &log_envelope,
        );
        let mut framer = DataReader::new(self.bare_newline, settings.line_length_limit);
        let mut sink = QueueFileSink::new(
            &mut writer,
            settings.message_size_limit,
            self.holds_content(),
        );
        let (result, summary) = {
            let mut cleanup = MessageCleanup::new(&cleanup_ctx, |data: &[u8]| sink.put(data));
            start_content(&mut cleanup, &tx.actions, &header);
            let data_bytes = &mut tx.data_bytes;
            let result = self
                .stream
                .read_data(&mut framer, |bytes, complete| {
                    *data_bytes += bytes.len() as u64 + if complete { 2 } else { 0 };
                    cleanup.line(bytes, complete);
                })
                .await;
            (result, cleanup.finish())
        };
        let end = ContentEnd {
            too_big: sink.too_big,
            bare_lf: framer.saw_bare_lf(),
            write_error: sink.write_error.take(),
            hops: summary.hops,
            message_id: summary.message_id,
            size: framer.size(),
            bdat_bytes: None,
            verdict: summary.verdict,
            buffered: sink.buffer.take(),
        };
        tx.writer = Some(writer);
        result?;
        if end.too_big {
            gatepost_log::warning(
                "cleanup",
                format!("{queue_id}: queue file size limit exceeded"),
            );
        }
        self.conclude_content(tx, end).await
    }

    /// Our `Received:` header for the message being received.
    pub(crate) fn received_for(&self, tx: &Transaction, queue_id: &str) -> String {
        let single = if tx.recipients.len() == 1 {
            Some(gatepost_rewrite::quote_address(&tx.recipients[0].original))
        } else {
            None
        };
        let settings = &self.ctx.settings;
        received_header(&ReceivedInfo {
            helo: self.helo.as_deref(),
            client_name: &self.client_name,
            client_addr: self.client_addr,
            myhostname: &settings.myhostname,
            mail_name: &settings.mail_name,
            protocol: &self.received_protocol(),
            queue_id,
            single_recipient: single.as_deref(),
            tls: self.received_tls_line(),
            authenticated_sender: self.received_login(),
            date: tx.arrival_local,
        })
    }

    /// Whether the content waits for the end of the data before it is
    /// written: milters may replace it, DKIM headers go above it.
    pub(crate) fn holds_content(&self) -> bool {
        self.milters_active() || self.auth_mode() != AuthMode::Off
    }

    /// The envelope as cleanup will rewrite it, for its log lines.
    pub(crate) fn log_envelope(
        &self,
        sender: &str,
        recipients: &[EnvelopeRecipient],
    ) -> LogEnvelope {
        let rewriter = &self.ctx.rewriter;
        LogEnvelope {
            origin: self.client_label.clone(),
            proto: self.protocol,
            helo: self.helo.clone(),
            sender: clean_sender(&**rewriter, sender).unwrap_or_else(|_| sender.to_string()),
            recipient: recipients.last().map(|r| {
                rewriter
                    .rewrite_address(&r.address, AddressRole::EnvelopeRecipient)
                    .unwrap_or_else(|_| rewriter.canonicalize(&r.address))
            }),
        }
    }

    /// cleanup(8)'s view of this session, for one message.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cleanup_context<'a>(
        &self,
        settings: &'a SmtpdSettings,
        queue_id: &'a str,
        sender: &'a str,
        arrival: DateTime<Local>,
        rewriter: &'a Rewriter,
        rules: &'a ContentRules,
        log: &'a LogEnvelope,
    ) -> CleanupContext<'a> {
        CleanupContext {
            // local_header_rewrite_clients = permit_inet_interfaces: a
            // client on one of our own addresses is in the local rewrite
            // context.
            source: Source::Smtp {
                local_header_rewrite: self.client_addr == self.server_addr,
            },
            always_add_missing_headers: self.ctx.always_add_missing_headers,
            myhostname: &settings.myhostname,
            queue_id,
            arrival,
            sender,
            rewriter,
            header_size_limit: settings.header_size_limit,
            rules,
            log: LogOrigin {
                origin: &log.origin,
                sender: &log.sender,
                recipient: log.recipient.as_deref(),
                proto: Some(log.proto),
                helo: log.helo.as_deref(),
            },
        }
    }

    /// The checks after the content (size, bare LF, write errors, hops,
    /// `smtpd_end_of_data_restrictions`), then cleanup and commit; the
    /// final reply.
    pub(crate) async fn conclude_content(
        &mut self,
        tx: &mut Transaction,
        end: ContentEnd,
    ) -> Result<Reply, StreamError> {
        // The context is shared: no copy of the settings per message.
        let ctx = self.ctx.clone();
        let settings = &ctx.settings;
        let queue_id = tx.queue_id().unwrap_or_default();
        let fail = |tx: &mut Transaction| {
            if let Some(w) = tx.writer.take() {
                w.abort();
            }
        };
        if end.too_big {
            fail(tx);
            return Ok(Reply::new(552, "5.3.4", "Error: message file too big"));
        }
        if end.bare_lf && self.bare_newline == gatepost_proto::BareNewlineMode::Reject {
            let text = "bare <LF> received";
            self.with_tx(tx, |s| s.log_action("reject", "END-OF-MESSAGE", text));
            fail(tx);
            return Ok(Reply::new(
                settings.bare_newline_reject_code,
                "5.5.2",
                format!("{} Error: bare <LF> received", settings.myhostname),
            ));
        }
        if let Some(e) = end.write_error {
            gatepost_log::warning("cleanup", format!("{queue_id}: write queue file: {e}"));
            fail(tx);
            return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
        }
        if end.hops > settings.hopcount_limit {
            gatepost_log::info(
                "cleanup",
                format!(
                    "{queue_id}: reject: header Received: too many hops; from=<{}>",
                    tx.sender
                ),
            );
            fail(tx);
            return Ok(Reply::new(554, "5.4.0", "Error: too many hops"));
        }
        self.tx = Some(Box::new(std::mem::replace(
            tx,
            Transaction::new(String::new()),
        )));
        let mut facts = self.facts(None);
        facts.size = end.size;
        let verdict = self.check_with(Stage::EndOfMessage, facts).await;
        if let Some(t) = self.tx.take() {
            *tx = *t;
        }
        if let Some(reply) = verdict.reply {
            fail(tx);
            return Ok(reply);
        }
        tx.actions.extend(verdict.actions);
        if let Some(reply) = content_verdict::refusal(&end.verdict) {
            fail(tx);
            return Ok(reply);
        }
        if end.verdict.discard {
            fail(tx);
            return Ok(queued_reply(&queue_id, end.bdat_bytes));
        }
        let mut changes = EnvelopeChanges::default();
        if let Some(mut content) = end.buffered {
            let auth_mode = self.auth_mode();
            let auth_client = self.auth_client();
            // Inbound: SPF, DKIM and DMARC on the message as received.
            let mut auth_headers = String::new();
            let mut verified = None;
            if auth_mode == AuthMode::Verify {
                let outcome = auth_client
                    .auth_headers(auth_mode, &tx.sender, &content)
                    .await;
                if let Some((action, domain)) = outcome.dmarc {
                    if let Some(reply) = self.dmarc_verdict(tx, action, &domain) {
                        fail(tx);
                        return Ok(reply);
                    }
                }
                auth_headers = outcome.headers;
                verified = outcome.verified;
            }
            if self.milters_active() {
                match self.milter_end_of_message(tx, &content).await {
                    Ok((edited, edits)) => {
                        content = edited;
                        changes = edits;
                    }
                    Err(reply) => {
                        fail(tx);
                        return Ok(reply);
                    }
                }
            }
            // Outbound: the signature covers the message as the milters
            // left it.
            if auth_mode == AuthMode::Sign {
                let sender = changes.sender.as_deref().unwrap_or(&tx.sender);
                auth_headers = auth_client
                    .auth_headers(auth_mode, sender, &content)
                    .await
                    .headers;
            }
            // Forwarded: the ARC set, above the Authentication-Results it
            // repeats, covers the message as the milters left it.
            if let Some(verified) = verified.filter(|_| self.ctx.mail_auth.arc_sealing.is_some()) {
                let mut recipients = tx.recipients.clone();
                apply_milter_recipients(&mut recipients, &changes);
                let set = auth_client.arc_seal(&verified, &recipients, &content);
                auth_headers.insert_str(0, &set);
            }
            let written = tx.writer.as_mut().map(|w| {
                w.write_content(auth_headers.as_bytes())
                    .and_then(|()| w.write_content(&content))
            });
            if let Some(Err(e)) = written {
                gatepost_log::warning("cleanup", format!("{queue_id}: write queue file: {e}"));
                fail(tx);
                return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
            }
        }
        let finish = Finish {
            message_id: end.message_id,
            bdat_bytes: end.bdat_bytes,
            milter_changes: changes,
            verdict: &end.verdict,
        };
        self.finish_message(tx, finish).await
    }

    /// `gatepost_dmarc_enforce`: a reject reply (logged as Postfix logs an
    /// END-OF-MESSAGE reject), or a HOLD action for the queue.
    fn dmarc_verdict(
        &mut self,
        tx: &mut Transaction,
        action: DmarcAction,
        domain: &str,
    ) -> Option<Reply> {
        match action {
            DmarcAction::Reject => {
                let text = format!("Email rejected per DMARC policy for {domain}");
                self.with_tx(tx, |s| {
                    s.log_action("reject", "END-OF-MESSAGE", &format!("550 5.7.1 {text}"))
                });
                Some(Reply::new(550, "5.7.1", text))
            }
            DmarcAction::Quarantine => {
                let text = format!("DMARC policy quarantine for {domain}");
                self.with_tx(tx, |s| s.log_action("hold", "END-OF-MESSAGE", &text));
                tx.actions.push(MessageAction::Hold(text));
                None
            }
            DmarcAction::None => None,
        }
    }

    /// Run `f` with the transaction temporarily put back in the session (for
    /// log lines that show from=/to=).
    fn with_tx(&mut self, tx: &mut Transaction, f: impl FnOnce(&mut Session)) {
        let saved = std::mem::replace(tx, Transaction::new(String::new()));
        self.tx = Some(Box::new(saved));
        f(self);
        if let Some(t) = self.tx.take() {
            *tx = *t;
        }
    }

    /// Cleanup and commit; `250 2.0.0 Ok: queued as ID` only once durable.
    async fn finish_message(
        &mut self,
        tx: &mut Transaction,
        finish: Finish<'_>,
    ) -> Result<Reply, StreamError> {
        let Finish {
            message_id,
            bdat_bytes,
            milter_changes,
            verdict: content,
        } = finish;
        let Some(mut writer) = tx.writer.take() else {
            return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
        };
        if let Some(identity) = &tx.sender_auth {
            writer.set_sender_auth(identity);
        }
        if let Some(facts) = self.client_facts(tx) {
            writer.set_client_facts(facts);
        }
        let queue_id = writer.id().to_string();
        if tx.milter_discard {
            writer.abort();
            return Ok(queued_reply(&queue_id, bdat_bytes));
        }
        let mut recipients = tx.recipients.clone();
        apply_milter_recipients(&mut recipients, &milter_changes);
        let mut hold = tx.milter_hold;
        let mut filter = self.ctx.content_filter.clone();
        let mut redirect = None;
        for action in &tx.actions {
            match action {
                MessageAction::Discard(_) => {
                    gatepost_log::info(
                        "cleanup",
                        format!("{queue_id}: discarded by access table action"),
                    );
                    writer.abort();
                    return Ok(queued_reply(&queue_id, bdat_bytes));
                }
                MessageAction::Redirect(to) => redirect = Some(to.as_str()),
                MessageAction::Bcc(to) => recipients.push(EnvelopeRecipient {
                    address: to.clone(),
                    original: to.clone(),
                    notify: None,
                    orcpt: None,
                }),
                MessageAction::Hold(_) => hold = true,
                // Written with the header at DATA time.
                MessageAction::Prepend(_) => {}
                MessageAction::Filter(next) => filter = Some(next.clone()),
            }
        }
        gatepost_queue::apply_content_routing(&mut recipients, redirect, content);
        let filter = gatepost_queue::content_filter(filter, redirect.is_some(), content);
        let hold = hold || content.hold;
        let given = recipients
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()));
        let expanded: Vec<EnvelopeRecipient> = match self.clean_recipients(given) {
            Ok(list) => list
                .into_iter()
                .map(|clean| EnvelopeRecipient {
                    address: clean.address,
                    ..recipients[clean.from].clone()
                })
                .collect(),
            Err(e) => {
                gatepost_log::warning(
                    "cleanup",
                    format!("{queue_id}: virtual_alias_maps lookup: {e}"),
                );
                writer.abort();
                return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
            }
        };
        gatepost_log::info(
            "cleanup",
            format!(
                "{queue_id}: message-id={}",
                message_id.unwrap_or_else(|| "<>".into())
            ),
        );
        let sender = milter_changes.sender.as_deref().unwrap_or(&tx.sender);
        let sender = if self.ctx.no_address_mappings {
            sender.to_string()
        } else {
            match clean_sender(&*self.ctx.rewriter, sender) {
                Ok(sender) => sender,
                Err(e) => {
                    gatepost_log::warning(
                        "cleanup",
                        format!("{queue_id}: sender_canonical_maps lookup: {e}"),
                    );
                    writer.abort();
                    return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
                }
            }
        };
        let envelope = Envelope {
            sender,
            recipients: expanded,
            arrival: tx.arrival,
            client: self.client_label.clone(),
            ret: tx.ret.clone(),
            envid: tx.envid.clone(),
            filter,
        };
        let committed = if hold {
            writer.commit_held(&envelope).await
        } else {
            writer.commit(&envelope).await
        };
        match committed {
            Ok(id) => Ok(queued_reply(&id.to_string(), bdat_bytes)),
            Err(e) => {
                gatepost_log::warning("cleanup", format!("{queue_id}: commit: {e}"));
                Ok(Reply::new(451, "4.3.0", "Error: queue file write error"))
            }
        }
    }
}

impl Session {
    /// cleanup's recipient mappings, skipped with `receive_override_options
    /// = no_address_mappings`.
    fn clean_recipients<'g>(
        &self,
        given: impl Iterator<Item = (&'g str, &'g str)>,
    ) -> Result<Vec<gatepost_cleanup::CleanRecipient>, gatepost_rewrite::RewriteError> {
        if self.ctx.no_address_mappings {
            return Ok(given
                .enumerate()
                .map(|(from, (address, _))| gatepost_cleanup::CleanRecipient {
                    address: address.to_string(),
                    from,
                })
                .collect());
        }
        clean_recipients(&*self.ctx.rewriter, given)
    }
}

/// Recipients deleted (`SMFIR_DELRCPT`, matched as received or as
/// rewritten, case-insensitively) and added (`SMFIR_ADDRCPT`) by milters.
fn apply_milter_recipients(recipients: &mut Vec<EnvelopeRecipient>, changes: &EnvelopeChanges) {
    recipients.retain(|r| {
        !changes
            .deleted
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&r.original) || d.eq_ignore_ascii_case(&r.address))
    });
    for added in &changes.added {
        recipients.push(EnvelopeRecipient {
            address: added.clone(),
            original: added.clone(),
            notify: None,
            orcpt: None,
        });
    }
}
