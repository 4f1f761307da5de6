//! DATA: the checks before `354`, reading the content through the framer
//! into the queue file (Received: header first, missing Message-Id/Date
//! added for local clients, `message_size_limit` and `hopcount_limit`
//! enforced), the end-of-data checks, cleanup (virtual alias expansion,
//! canonicalisation), and the durable commit before `250`.

use gatepost_policy::{MessageAction, Stage};
use gatepost_proto::{DataEvent, DataReader, Reply, Verb};
use gatepost_queue::{Envelope, EnvelopeRecipient, MessageWriter};

use crate::received::{received_header, rfc5322_date, ReceivedInfo};
use crate::session::{Flow, Session};
use crate::stream::StreamError;
use crate::transaction::Transaction;

/// Streams content lines into the queue file and watches the header.
struct ContentSink<'a> {
    writer: &'a mut MessageWriter,
    limit: u64,
    written: u64,
    too_big: bool,
    write_error: Option<String>,
    in_header: bool,
    at_line_start: bool,
    first_line: bool,
    hops: usize,
    message_id: Option<String>,
    has_date: bool,
    has_from: bool,
    /// Lines to add at the end of the header when missing.
    add_missing: Option<MissingHeaders>,
    current_header: Option<String>,
    /// Local rewrite context: bare addresses in address headers get
    /// `@$myorigin` (the rewriter's canonicalisation), as Postfix's cleanup.
    qualify: Option<&'a gatepost_rewrite::Rewriter>,
    /// Raw bytes of the address header being collected for rewriting.
    pending: Option<Vec<u8>>,
    /// The current header is a `Bcc:`, which cleanup removes.
    dropping: bool,
}

/// An address header longer than this is stored as it came.
const MAX_REWRITTEN_HEADER: usize = 64 * 1024;

struct MissingHeaders {
    message_id: String,
    date: String,
    /// The envelope sender, for a missing From: (none for `<>`).
    from: Option<String>,
}

impl ContentSink<'_> {
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

    /// Write header or body bytes, or keep them while an address header is
    /// being collected.
    fn emit(&mut self, data: &[u8]) {
        if self.dropping {
            return;
        }
        if let Some(p) = self.pending.as_mut() {
            if p.len() + data.len() <= MAX_REWRITTEN_HEADER {
                p.extend_from_slice(data);
                return;
            }
            let mut raw = self.pending.take().unwrap_or_default();
            raw.extend_from_slice(data);
            self.put(&raw);
            return;
        }
        self.put(data);
    }

    /// Write the collected address header, its bare addresses qualified.
    fn flush_pending(&mut self) {
        let Some(raw) = self.pending.take() else {
            return;
        };
        match (std::str::from_utf8(&raw), self.qualify) {
            (Ok(text), Some(rw)) => {
                let out = gatepost_rewrite::qualify_header(text, &|a| rw.canonicalize(a));
                self.put(out.as_bytes());
            }
            _ => self.put(&raw),
        }
    }

    fn event(&mut self, ev: DataEvent) {
        let DataEvent::Line { bytes, complete } = ev;
        let line_start = self.at_line_start;
        self.at_line_start = complete;
        if self.first_line && line_start {
            self.first_line = false;
            if bytes.starts_with(b"From ") {
                let mut v = b"X-Mailbox-Line: ".to_vec();
                v.extend_from_slice(&bytes);
                return self.finish_line(v, complete);
            }
            if bytes.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                self.end_header();
                self.put(b"\n");
            }
        }
        if self.in_header && line_start {
            if bytes.is_empty() && complete {
                self.end_header();
                self.put(b"\n");
                return;
            }
            let text = String::from_utf8_lossy(&bytes);
            if text.starts_with([' ', '\t']) {
                if let Some(h) = self.current_header.as_mut() {
                    h.push_str(text.trim());
                }
            } else if text.contains(':') {
                self.close_header();
                let name = text.split(':').next().unwrap_or("").trim();
                // Postfix's cleanup removes Bcc: from every message.
                self.dropping = name.eq_ignore_ascii_case("bcc");
                if self.qualify.is_some() {
                    let name = text.split(':').next().unwrap_or("").trim();
                    if gatepost_rewrite::is_address_header(name) {
                        self.pending = Some(Vec::new());
                    }
                }
                self.current_header = Some(text.to_string());
            } else {
                // Not a header line: the body starts here (Postfix does the same).
                self.end_header();
            }
        }
        self.finish_line(bytes, complete);
    }

    fn finish_line(&mut self, mut bytes: Vec<u8>, complete: bool) {
        if complete {
            bytes.push(b'\n');
        }
        self.emit(&bytes);
    }

    fn close_header(&mut self) {
        self.flush_pending();
        self.dropping = false;
        if let Some(h) = self.current_header.take() {
            let (name, value) = h.split_once(':').unwrap_or((&h, ""));
            let name = name.trim();
            if name.eq_ignore_ascii_case("received") {
                self.hops += 1;
            } else if name.eq_ignore_ascii_case("message-id") {
                self.message_id = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("date") {
                self.has_date = true;
            } else if name.eq_ignore_ascii_case("from") {
                self.has_from = true;
            }
        }
    }

    fn end_header(&mut self) {
        if !self.in_header {
            return;
        }
        self.close_header();
        self.in_header = false;
        if let Some(missing) = self.add_missing.take() {
            if self.message_id.is_none() {
                let line = format!("Message-Id: {}\n", missing.message_id);
                self.put(line.as_bytes());
                self.message_id = Some(missing.message_id);
            }
            if !self.has_date {
                let line = format!("Date: {}\n", missing.date);
                self.put(line.as_bytes());
            }
            if let (false, Some(from)) = (self.has_from, missing.from) {
                let line = format!("From: {from}\n");
                self.put(line.as_bytes());
            }
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
                let bytes = tx.writer.as_ref().map(|w| w.content_size()).unwrap_or(0);
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
                } else {
                    self.errors += 1;
                }
                self.reply(reply).await
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
        let local_client =
            self.client_addr == self.server_addr || self.ctx.always_add_missing_headers;
        let add_missing = local_client.then(|| MissingHeaders {
            message_id: format!(
                "<{}.{}@{}>",
                tx.arrival_local.format("%Y%m%d%H%M%S"),
                queue_id,
                settings.myhostname
            ),
            date: rfc5322_date(&tx.arrival_local),
            from: (!tx.sender.is_empty()).then(|| gatepost_rewrite::quote_address(&tx.sender)),
        });
        // local_header_rewrite_clients = permit_inet_interfaces: a client on
        // one of our own addresses is in the local rewrite context.
        let rewriter = self.ctx.rewriter.clone();
        let rewrite_local = self.client_addr == self.server_addr;
        let mut framer = DataReader::new(self.bare_newline, settings.line_length_limit);
        let (result, sink_state) = {
            let mut sink = ContentSink {
                writer: &mut writer,
                limit: settings.message_size_limit,
                written: 0,
                too_big: false,
                write_error: None,
                in_header: true,
                at_line_start: true,
                first_line: true,
                hops: 0,
                message_id: None,
                has_date: false,
                has_from: false,
                add_missing,
                current_header: None,
                qualify: rewrite_local.then_some(&*rewriter),
                pending: None,
                dropping: false,
            };
            // PREPEND headers from access tables go above our Received:.
            for action in &tx.actions {
                if let MessageAction::Prepend(text) = action {
                    sink.put(format!("{}\n", gatepost_log::sanitize(text)).as_bytes());
                }
            }
            sink.put(header.as_bytes());
            let result = self
                .stream
                .read_data(&mut framer, |ev| sink.event(ev))
                .await;
            sink.end_header();
            let state = (
                sink.too_big,
                sink.write_error.take(),
                sink.hops,
                sink.message_id.take(),
            );
            (result, state)
        };
        tx.writer = Some(writer);
        result?;
        let (too_big, write_error, hops, message_id) = sink_state;
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
        let mut expanded = Vec::new();
        for rcpt in recipients {
            let canonical = self.ctx.rewriter.canonicalize(&rcpt.address);
            match self.ctx.rewriter.expand_virtual_aliases(&canonical) {
                Ok(list) => {
                    for address in list {
                        if !expanded.iter().any(|r: &EnvelopeRecipient| {
                            r.address == address && r.original == rcpt.original
                        }) {
                            expanded.push(EnvelopeRecipient {
                                address,
                                original: rcpt.original.clone(),
                                notify: rcpt.notify.clone(),
                                orcpt: rcpt.orcpt.clone(),
                            });
                        }
                    }
                }
                Err(e) => {
                    gatepost_log::warning(
                        "cleanup",
                        format!("{queue_id}: virtual_alias_maps lookup: {e}"),
                    );
                    writer.abort();
                    return Ok(Reply::new(451, "4.3.0", "Error: queue file write error"));
                }
            }
        }
        gatepost_log::info(
            "cleanup",
            format!(
                "{queue_id}: message-id={}",
                message_id.unwrap_or_else(|| "<>".into())
            ),
        );
        let envelope = Envelope {
            sender: self.ctx.rewriter.canonicalize(&tx.sender),
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
