//! BDAT (RFC 3030 CHUNKING) as Postfix's smtpd implements it
//! (docs/smtp-session.md#bdat): offered in EHLO unless
//! `smtpd_discard_ehlo_keywords` removes it; the first BDAT of a
//! transaction runs `smtpd_data_restrictions`; chunk content goes through
//! the BDAT framer (no dot-stuffing, no end-of-data line) into cleanup and
//! the queue file; `BDAT ... LAST` runs the end-of-data checks and commits.
//!
//! After a failed chunk the remaining chunks of the transaction are read
//! and discarded (`551 5.0.0 Discarded N bytes after earlier error`) until
//! `BDAT ... LAST` or RSET, so a pipelining client stays in step.
//!
//! While a message is being received its cleanup pipeline lives in
//! [`Session::receive_chunks`], which reads the commands between chunks
//! itself and hands those other than BDAT to the usual handlers.

use std::sync::Mutex;

use gatepost_cleanup::MessageCleanup;
use gatepost_policy::Stage;
use gatepost_proto::{BareNewlineMode, ChunkReader, Command, DataEvent, Reply, Verb};

use crate::data_phase::{start_content, ContentEnd, QueueFileSink};
use crate::session::{Flow, Session};

/// The protocol state while chunk content is read (and after a chunk,
/// until the next command): `lost connection after BDAT (N bytes)`.
pub(crate) const BDAT_CONTENT: &str = "BDAT content";

/// Postfix's `bdat_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BdatState {
    /// No BDAT in this transaction.
    None,
    /// Chunks are being received into the queue file.
    Receiving,
    /// A chunk failed: later chunks are discarded until LAST or RSET.
    Skipping,
}

/// `BDAT size [LAST]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BdatArgs {
    size: u64,
    last: bool,
}

/// Parse the BDAT arguments as Postfix: a decimal size (within `off_t`)
/// and an optional `LAST`, nothing else.
fn parse_args(args: &str) -> Option<BdatArgs> {
    let words: Vec<&str> = args.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    let (size, last) = match words.as_slice() {
        [size] => (*size, false),
        [size, last] if last.eq_ignore_ascii_case("LAST") => (*size, true),
        _ => return None,
    };
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let size = size
        .parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())?;
    Some(BdatArgs { size, last })
}

/// How the chunk loop of one message ended.
enum LoopEnd {
    /// `BDAT ... LAST` was read: conclude the message.
    Last,
    /// A chunk failed (size, bare LF, write error): its reply.
    ChunkFailed(Reply),
    /// A later BDAT is refused before its content: discard it.
    Skip(BdatArgs, Reply),
    /// A later `BDAT 0` without LAST.
    Null(BdatArgs),
    /// RSET, HELO/EHLO or STARTTLS ended the transaction.
    Abandoned,
    /// The session is over.
    Closed,
}

/// The content accounting of one message, as Postfix's smtpd counts it.
struct Progress {
    /// Content bytes as Postfix counts them (each line + 2).
    act_size: u64,
    limit: u64,
    too_big: bool,
    reject_bare_lf: bool,
    bare_lf: bool,
    queue_id: String,
}

impl Progress {
    /// Take one content line unless an error already stopped the message.
    fn take<O: FnMut(&[u8])>(&mut self, ev: DataEvent, cleanup: &mut MessageCleanup<'_, O>) {
        let DataEvent::Line { bytes, complete } = ev;
        if self.too_big || self.bare_lf {
            return;
        }
        let len = bytes.len() as u64;
        if self.limit > 0 && self.limit.saturating_sub(self.act_size) < len + 2 {
            self.too_big = true;
            gatepost_log::warning(
                "smtpd",
                format!("{}: queue file size limit exceeded", self.queue_id),
            );
            return;
        }
        self.act_size += len + 2;
        cleanup.line(&bytes, complete);
    }
}

impl Session {
    /// The BDAT command, outside a message being received.
    pub(crate) async fn bdat(&mut self, cmd: &Command) -> Flow {
        let verb = Some(Verb::Bdat);
        // The next input would be raw content: hang up.
        if !self.ctx.settings.offers("CHUNKING") {
            let reply = Reply::new(521, "5.5.1", "Error: command not implemented");
            return self.answer(verb, reply).await;
        }
        let Some(args) = self.bdat_args(cmd) else {
            return self.malformed_bdat().await;
        };
        if let Some(flow) = self.refuse_null_chunk(args).await {
            return flow;
        }
        if self.bdat == BdatState::Skipping {
            let text = format!("Discarded {} bytes after earlier error", args.size);
            return self.skip_chunk(args, Reply::new(551, "5.0.0", text)).await;
        }
        // The first BDAT of a transaction is the DATA of the policy checks.
        match self.tx.as_ref() {
            None => {
                let reply = Reply::new(503, "5.5.1", "Error: need RCPT command");
                return self.skip_chunk(args, reply).await;
            }
            Some(tx) if tx.recipients.is_empty() => {
                let reply = Reply::new(554, "5.5.1", "Error: no valid recipients");
                return self.skip_chunk(args, reply).await;
            }
            Some(_) => {}
        }
        let facts = self.facts(None);
        let verdict = self.check_as(Stage::Data, facts, "BDAT").await;
        if let Some(reply) = verdict.reply {
            return self.skip_chunk(args, reply).await;
        }
        if let Some(reply) = self.milter_data().await {
            return self.skip_chunk(args, reply).await;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.actions.extend(verdict.actions);
        }
        if let Some(reply) = self.chunk_too_big(0, args) {
            return self.skip_chunk(args, reply).await;
        }
        self.receive_chunks(args).await
    }

    fn bdat_args(&self, cmd: &Command) -> Option<BdatArgs> {
        let args = parse_args(&cmd.args);
        if args.is_none() {
            gatepost_log::warning(
                "smtpd",
                format!(
                    "{}: malformed BDAT command syntax from {}: {}",
                    self.queue_id_or_noqueue(),
                    self.client_label,
                    gatepost_log::escape_bytes(cmd.line.as_bytes(), 100)
                ),
            );
        }
        args
    }

    async fn malformed_bdat(&mut self) -> Flow {
        let reply = Reply::new(521, "5.5.4", "Syntax: BDAT count [LAST]");
        self.answer(Some(Verb::Bdat), reply).await
    }

    fn queue_id_or_noqueue(&self) -> String {
        self.tx
            .as_ref()
            .and_then(|t| t.queue_id())
            .unwrap_or_else(|| "NOQUEUE".into())
    }

    /// `BDAT 0` without LAST: refused, as Postfix blocks empty-chunk abuse.
    async fn refuse_null_chunk(&mut self, args: BdatArgs) -> Option<Flow> {
        if args.size != 0 || args.last {
            return None;
        }
        gatepost_log::warning(
            "smtpd",
            format!(
                "{}: null BDAT request from {}",
                self.queue_id_or_noqueue(),
                self.client_label
            ),
        );
        let reply = Reply::new(551, "5.7.1", "Null BDAT request");
        Some(self.skip_chunk(args, reply).await)
    }

    /// `552 5.3.4 Chunk exceeds message size limit` when the chunk would
    /// take the message past `message_size_limit`.
    fn chunk_too_big(&self, act_size: u64, args: BdatArgs) -> Option<Reply> {
        let limit = self.ctx.settings.message_size_limit;
        if limit == 0 || act_size.saturating_add(args.size) <= limit {
            return None;
        }
        gatepost_log::warning(
            "smtpd",
            format!(
                "{}: BDAT request from {} exceeds message size limit",
                self.queue_id_or_noqueue(),
                self.client_label
            ),
        );
        Some(Reply::new(552, "5.3.4", "Chunk exceeds message size limit"))
    }

    /// Read and discard a chunk, answer `reply`; after LAST the
    /// transaction ends, otherwise later chunks are discarded too.
    async fn skip_chunk(&mut self, args: BdatArgs, reply: Reply) -> Flow {
        let mut read = 0;
        if let Err(e) = self.stream.read_chunk(args.size, &mut read, |_| {}).await {
            self.counters.record(Some(Verb::Bdat), false);
            self.stream_failed(e).await;
            return Flow::Close;
        }
        let flow = self.answer(Some(Verb::Bdat), reply).await;
        if args.last {
            self.end_transaction();
        } else {
            self.bdat = BdatState::Skipping;
        }
        flow
    }

    /// Receive one message's chunks, from the first accepted BDAT to LAST
    /// (or until the transaction ends otherwise).
    async fn receive_chunks(&mut self, first: BdatArgs) -> Flow {
        let settings = self.ctx.settings.clone();
        let Some(tx) = self.tx.as_mut() else {
            return Flow::Continue;
        };
        let Some(mut writer) = tx.writer.take() else {
            let reply = Reply::new(451, "4.3.0", "Error: queue file write error");
            return self.skip_chunk(first, reply).await;
        };
        let (sender, arrival, actions) = (tx.sender.clone(), tx.arrival_local, tx.actions.clone());
        let queue_id = writer.id().to_string();
        tx.content_id = Some(queue_id.clone());
        let header = match self.tx.as_ref() {
            Some(tx) => self.received_for(tx, &queue_id),
            None => String::new(),
        };
        let rewriter = self.ctx.rewriter.clone();
        let rules = self.ctx.content_rules.clone();
        let log_envelope = match self.tx.as_ref() {
            Some(tx) => self.log_envelope(&sender, &tx.recipients),
            None => self.log_envelope(&sender, &[]),
        };
        let cleanup_ctx = self.cleanup_context(
            &settings,
            &queue_id,
            &sender,
            arrival,
            &rewriter,
            &rules,
            &log_envelope,
        );
        // message_size_limit is enforced on the content, as Postfix's
        // smtpd does for BDAT.
        let sink = Mutex::new(QueueFileSink::new(&mut writer, 0, self.holds_content()));
        let mut framer = ChunkReader::new(settings.line_length_limit);
        let mut progress = Progress {
            act_size: 0,
            limit: settings.message_size_limit,
            too_big: false,
            reject_bare_lf: self.bare_newline == BareNewlineMode::Reject,
            bare_lf: false,
            queue_id: queue_id.clone(),
        };
        self.bdat = BdatState::Receiving;
        let mut received = 0u64;
        let (end, summary) = {
            let mut cleanup = MessageCleanup::new(&cleanup_ctx, |data: &[u8]| {
                if let Ok(mut sink) = sink.lock() {
                    sink.put(data)
                }
            });
            start_content(&mut cleanup, &actions, &header);
            let mut args = first;
            let end = 'chunks: loop {
                self.state = BDAT_CONTENT.into();
                let mut events = Vec::new();
                let read = self
                    .stream
                    .read_chunk(args.size, &mut received, |bytes| {
                        framer.feed(bytes, &mut events);
                        for ev in events.drain(..) {
                            progress.take(ev, &mut cleanup);
                        }
                    })
                    .await;
                if let Some(tx) = self.tx.as_mut() {
                    tx.data_bytes = received;
                    tx.bdat_size = progress.act_size;
                }
                if let Err(e) = read {
                    // Postfix counted the command when it looked it up.
                    self.counters.record(Some(Verb::Bdat), false);
                    self.stream_failed(e).await;
                    break LoopEnd::Closed;
                }
                if args.last {
                    framer.finish(&mut events);
                    for ev in events.drain(..) {
                        progress.take(ev, &mut cleanup);
                    }
                }
                progress.bare_lf |= progress.reject_bare_lf && framer.saw_bare_lf();
                if args.last {
                    break LoopEnd::Last;
                }
                let write_failed = sink.lock().map_or(true, |s| s.write_error.is_some());
                if let Some(reply) = chunk_failure(&progress, write_failed, &settings) {
                    break LoopEnd::ChunkFailed(reply);
                }
                let ok = Reply::new(250, "2.0.0", format!("Ok: {} bytes", args.size));
                if self.answer(Some(Verb::Bdat), ok).await == Flow::Close {
                    break LoopEnd::Closed;
                }
                // The commands between chunks.
                loop {
                    let Some(cmd) = self.next_command().await else {
                        break 'chunks LoopEnd::Closed;
                    };
                    if cmd.verb != Some(Verb::Bdat) {
                        if self.run_command(cmd).await == Flow::Close {
                            break 'chunks LoopEnd::Closed;
                        }
                        if self.bdat != BdatState::Receiving {
                            break 'chunks LoopEnd::Abandoned;
                        }
                        continue;
                    }
                    if self.pipelining_check(&cmd, "BDAT").await == Flow::Close {
                        break 'chunks LoopEnd::Closed;
                    }
                    self.state = "BDAT".into();
                    let Some(next) = self.bdat_args(&cmd) else {
                        self.malformed_bdat().await;
                        break 'chunks LoopEnd::Closed;
                    };
                    if next.size == 0 && !next.last {
                        break 'chunks LoopEnd::Null(next);
                    }
                    if let Some(reply) = self.chunk_too_big(progress.act_size, next) {
                        break 'chunks LoopEnd::Skip(next, reply);
                    }
                    args = next;
                    continue 'chunks;
                }
            };
            (end, cleanup.finish())
        };
        let (write_error, buffered) = match sink.into_inner() {
            Ok(sink) => (sink.write_error, sink.buffer),
            Err(_) => (Some("queue file writer failed".into()), None),
        };
        match end {
            LoopEnd::Last => {
                let content = ContentEnd {
                    too_big: progress.too_big,
                    bare_lf: progress.bare_lf,
                    write_error,
                    hops: summary.hops,
                    message_id: summary.message_id,
                    size: progress.act_size,
                    bdat_bytes: Some(progress.act_size),
                    verdict: summary.verdict,
                    buffered,
                };
                self.conclude_chunks(writer, content).await
            }
            LoopEnd::ChunkFailed(reply) => {
                writer.abort();
                if progress.bare_lf {
                    self.log_action("reject", BDAT_CONTENT, "bare <LF> received");
                }
                self.end_transaction();
                self.bdat = BdatState::Skipping;
                self.answer(Some(Verb::Bdat), reply).await
            }
            LoopEnd::Skip(args, reply) => {
                writer.abort();
                self.skip_chunk(args, reply).await
            }
            LoopEnd::Null(args) => {
                writer.abort();
                self.refuse_null_chunk(args).await.unwrap_or(Flow::Continue)
            }
            LoopEnd::Abandoned => {
                writer.abort();
                Flow::Continue
            }
            LoopEnd::Closed => {
                writer.abort();
                Flow::Close
            }
        }
    }

    /// `BDAT ... LAST`: the checks after the content, commit, final reply.
    async fn conclude_chunks(
        &mut self,
        writer: gatepost_queue::MessageWriter,
        content: ContentEnd,
    ) -> Flow {
        let Some(mut tx) = self.tx.take() else {
            writer.abort();
            return Flow::Continue;
        };
        tx.writer = Some(writer);
        self.state = "END-OF-MESSAGE".into();
        if content.too_big {
            // Postfix's smtpd logged the size warning as it happened.
            if let Some(w) = tx.writer.take() {
                w.abort();
            }
        }
        let too_big = content.too_big;
        let outcome = if too_big {
            Ok(Reply::new(552, "5.3.4", "Error: message file too big"))
        } else {
            self.conclude_content(&mut tx, content).await
        };
        tx.abort();
        self.end_transaction();
        let reply = match outcome {
            Ok(reply) => reply,
            Err(e) => {
                self.stream_failed(e).await;
                return Flow::Close;
            }
        };
        let ok = reply.is_positive();
        self.counters.record(Some(Verb::Bdat), ok);
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

/// The reply for a non-final chunk that stopped the message.
fn chunk_failure(
    progress: &Progress,
    write_failed: bool,
    settings: &crate::settings::SmtpdSettings,
) -> Option<Reply> {
    if progress.bare_lf {
        return Some(Reply::new(
            settings.bare_newline_reject_code,
            "5.5.2",
            format!("{} Error: bare <LF> received", settings.myhostname),
        ));
    }
    if progress.too_big {
        return Some(Reply::new(552, "5.3.4", "Error: message file too big"));
    }
    if write_failed {
        return Some(Reply::new(451, "4.3.0", "Error: queue file write error"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdat_arguments_as_postfix() {
        let ok = |size, last| Some(BdatArgs { size, last });
        assert_eq!(parse_args("5"), ok(5, false));
        assert_eq!(parse_args("0 LAST"), ok(0, true));
        assert_eq!(parse_args("12 last"), ok(12, true));
        for bad in [
            "",
            "x",
            "-5",
            "5 FOO",
            "5 LAST extra",
            "9223372036854775808",
        ] {
            assert_eq!(parse_args(bad), None, "{bad:?}");
        }
    }
}
