//! DATA: the checks before `354`, reading the content through the framer
//! and cleanup(8) (the `gatepost-cleanup` crate, shared with pickup) into
//! the queue file (PREPEND and our Received: header first;
//! `message_size_limit` and `hopcount_limit` enforced), the end-of-data
//! checks, envelope cleanup (canonicalisation, virtual alias expansion),
//! and the durable commit before `250`.

use gatepost_cleanup::{clean_recipients, clean_sender, CleanupContext, MessageCleanup, Source};
use gatepost_policy::{MessageAction, Stage};
use gatepost_proto::{DataReader, Reply, Verb};
use gatepost_queue::{Envelope, EnvelopeRecipient, MessageWriter};

use crate::received::{received_header, ReceivedInfo};
use crate::session::{Flow, Session};
use crate::stream::StreamError;
use crate::transaction::Transaction;

/// Where cleanup's output goes: the queue file, within
/// `message_size_limit`.
struct QueueFileSink<'a> {
    writer: &'a mut MessageWriter,
    limit: u64,
    written: u64,
    too_big: bool,
    write_error: Option<String>,
}

impl QueueFileSink<'_> {
    fn put(&mut self, data: &[u8]) {
        if self.write_error.is_some() || self.too_big {
            return;
        }
        self.written += data.len() as u64;
        if self.limit > 0 && self.written > self.limit {
            self.too_big = true;
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
        if !args.is_empty() {
            return self
                .answer(verb, Reply::new(501, "5.5.4", "Syntax: DATA"))
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
        let verdict = self.check(Stage::Data, None).await;
        if let Some(reply) = verdict.reply {
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
        let settings = self.ctx.settings.clone();
        let Some(mut writer) = tx.writer.take() else {
            return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
        };
        let queue_id = writer.id().to_string();
        let single = if tx.recipients.len() == 1 {
            Some(gatepost_rewrite::quote_address(&tx.recipients[0].original))
        } else {
            None
        };
        let header = received_header(&ReceivedInfo {
            helo: self.helo.as_deref(),
            client_name: &self.client_name,
            client_addr: self.client_addr,
            myhostname: &settings.myhostname,
            mail_name: &settings.mail_name,
            protocol: &self.received_protocol(),
            queue_id: &queue_id,
            single_recipient: single.as_deref(),
            tls: self.received_tls_line(),
            authenticated_sender: self.received_login(),
            date: tx.arrival_local,
        });
        // local_header_rewrite_clients = permit_inet_interfaces: a client on
        // one of our own addresses is in the local rewrite context.
        let rewriter = self.ctx.rewriter.clone();
        let cleanup_ctx = CleanupContext {
            source: Source::Smtp {
                local_header_rewrite: self.client_addr == self.server_addr,
            },
            always_add_missing_headers: self.ctx.always_add_missing_headers,
            myhostname: &settings.myhostname,
            queue_id: &queue_id,
            arrival: tx.arrival_local,
            sender: &tx.sender,
            rewriter: &*rewriter,
            header_size_limit: settings.header_size_limit,
        };
        let mut framer = DataReader::new(self.bare_newline, settings.line_length_limit);
        let mut sink = QueueFileSink {
            writer: &mut writer,
            limit: settings.message_size_limit,
            written: 0,
            too_big: false,
            write_error: None,
        };
        let (result, summary) = {
            let mut cleanup = MessageCleanup::new(&cleanup_ctx, |data: &[u8]| sink.put(data));
            // PREPEND headers from access tables go above our Received:.
            for action in &tx.actions {
                if let MessageAction::Prepend(text) = action {
                    cleanup.prepend(&format!("{}\n", gatepost_log::sanitize(text)));
                }
            }
            cleanup.prepend(&header);
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
        let (too_big, write_error) = (sink.too_big, sink.write_error.take());
        let (hops, message_id) = (summary.hops, summary.message_id);
        tx.writer = Some(writer);
        result?;
        let fail = |tx: &mut Transaction| {
            if let Some(w) = tx.writer.take() {
                w.abort();
            }
        };
        if too_big {
            gatepost_log::warning(
                "cleanup",
                format!("{queue_id}: queue file size limit exceeded"),
            );
            fail(tx);
            return Ok(Reply::new(552, "5.3.4", "Error: message file too big"));
        }
        if framer.saw_bare_lf() && self.bare_newline == gatepost_proto::BareNewlineMode::Reject {
            let text = "bare <LF> received";
            self.with_tx(tx, |s| s.log_action("reject", "END-OF-MESSAGE", text));
            fail(tx);
            return Ok(Reply::new(
                settings.bare_newline_reject_code,
                "5.5.2",
                format!("{} Error: bare <LF> received", settings.myhostname),
            ));
        }
        if let Some(e) = write_error {
            gatepost_log::warning("cleanup", format!("{queue_id}: write queue file: {e}"));
            fail(tx);
            return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
        }
        if hops > settings.hopcount_limit {
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
        let size = framer.size();
        self.tx = Some(std::mem::replace(tx, Transaction::new(String::new())));
        let mut facts = self.facts(None);
        facts.size = size;
        let verdict = self.check_with(Stage::EndOfMessage, facts).await;
        if let Some(t) = self.tx.take() {
            *tx = t;
        }
        if let Some(reply) = verdict.reply {
            fail(tx);
            return Ok(reply);
        }
        tx.actions.extend(verdict.actions);
        self.finish_message(tx, message_id).await
    }

    /// Run `f` with the transaction temporarily put back in the session (for
    /// log lines that show from=/to=).
    fn with_tx(&mut self, tx: &mut Transaction, f: impl FnOnce(&mut Session)) {
        let saved = std::mem::replace(tx, Transaction::new(String::new()));
        self.tx = Some(saved);
        f(self);
        if let Some(t) = self.tx.take() {
            *tx = t;
        }
    }

    /// Cleanup and commit; `250 2.0.0 Ok: queued as ID` only once durable.
    async fn finish_message(
        &mut self,
        tx: &mut Transaction,
        message_id: Option<String>,
    ) -> Result<Reply, StreamError> {
        let Some(writer) = tx.writer.take() else {
            return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
        };
        let queue_id = writer.id().to_string();
        let mut recipients = tx.recipients.clone();
        let mut hold = false;
        for action in &tx.actions {
            match action {
                MessageAction::Discard(_) => {
                    gatepost_log::info(
                        "cleanup",
                        format!("{queue_id}: discarded by access table action"),
                    );
                    writer.abort();
                    return Ok(Reply::new(
                        250,
                        "2.0.0",
                        format!("Ok: queued as {queue_id}"),
                    ));
                }
                MessageAction::Redirect(to) => {
                    recipients = vec![EnvelopeRecipient {
                        address: to.clone(),
                        original: to.clone(),
                        notify: None,
                        orcpt: None,
                    }];
                }
                MessageAction::Bcc(to) => recipients.push(EnvelopeRecipient {
                    address: to.clone(),
                    original: to.clone(),
                    notify: None,
                    orcpt: None,
                }),
                MessageAction::Hold(_) => hold = true,
                // Written with the header at DATA time.
                MessageAction::Prepend(_) => {}
                MessageAction::Filter(next) => {
                    gatepost_log::warning(
                        "cleanup",
                        format!("{queue_id}: FILTER {next}: content filters are not supported; delivering normally"),
                    );
                }
            }
        }
        let given = recipients
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()));
        let expanded: Vec<EnvelopeRecipient> = match clean_recipients(&*self.ctx.rewriter, given) {
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
        let envelope = Envelope {
            sender: clean_sender(&*self.ctx.rewriter, &tx.sender),
            recipients: expanded,
            arrival: tx.arrival,
            client: self.client_label.clone(),
            ret: tx.ret.clone(),
            envid: tx.envid.clone(),
        };
        let committed = if hold {
            writer.commit_held(&envelope).await
        } else {
            writer.commit(&envelope).await
        };
        match committed {
            Ok(id) => Ok(Reply::new(250, "2.0.0", format!("Ok: queued as {id}"))),
            Err(e) => {
                gatepost_log::warning("cleanup", format!("{queue_id}: commit: {e}"));
                Ok(Reply::new(451, "4.3.0", "Error: queue file write error"))
            }
        }
    }
}
