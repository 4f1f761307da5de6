//! The header/body pass of cleanup (Postfix `cleanup_message.c`), fed one
//! line at a time as the content arrives: a first line `From ...` becomes
//! `X-Mailbox-Line:`; header lines are recognised as Postfix's
//! `is_header()` does, and the first line that is not one starts the body
//! after an inserted empty line; `Bcc:` is removed; in the "local" header
//! rewrite context bare addresses in address headers get `@$myorigin`;
//! `Received:` headers are counted (for `hopcount_limit`, enforced by the
//! caller); the `Message-Id:` is kept for the log; `sendmail -t`
//! recipients are taken from `To:`, `Cc:`, `Bcc:`. Missing headers are
//! added at the end of the header. The body is copied unchanged.
//!
//! Input bounds: one logical header is held at most `header_size_limit`
//! bytes (its line breaks inside counted); the rest of a longer one is
//! discarded, silently, and the message goes on (cleanup(8)).
//!
//! Every header (ours prepended included) and body line goes through the
//! content checks (`content_checks`), after the MIME state machine
//! (`mime_state`) has told primary, part and nested headers and body lines
//! apart; what they decide is in [`HeaderSummary::verdict`].
//!
//! Parameters honoured: see `cleanup_state`, `cleanup_missing_headers` and
//! `content_rules`.

use gatepost_rewrite::AddressRole;

use crate::cleanup_missing_headers::{missing_headers, SeenHeaders};
use crate::cleanup_state::{AddressRewriter, CleanupContext, Source};
use crate::content_checks::{ContentVerdict, Fate, HeaderClass, Inspector, LogOrigin};
use crate::content_rules::ContentRules;
use crate::header_tokens::limit_address_tokens;
use crate::mime_state::{MimeOut, MimeState};

/// What the header pass learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSummary {
    /// `Received:` headers in the content (ours not counted).
    pub hops: usize,
    /// The message's `Message-Id:` value, or the one added.
    pub message_id: Option<String>,
    /// Addresses from `To:`, `Cc:`, `Bcc:` when recipients are extracted
    /// (`sendmail -t`), in header order.
    pub recipients: Vec<String>,
    /// What the header/body checks and the MIME checks decided.
    pub verdict: ContentVerdict,
}

/// One logical header being collected.
struct OpenHeader {
    /// Lower case, without the colon.
    name: String,
    raw: Vec<u8>,
    /// Longer than `header_size_limit`: the rest is discarded.
    truncated: bool,
}

impl OpenHeader {
    fn dropped(&self) -> bool {
        self.name == "bcc"
    }

    /// `header_address_token_limit`: the value cut after `limit` tokens.
    fn limit_tokens(&mut self, limit: usize) {
        let text = String::from_utf8_lossy(&self.raw).into_owned();
        let Some(colon) = text.find(':') else {
            return;
        };
        let value = text[colon + 1..]
            .strip_suffix('\n')
            .unwrap_or(&text[colon + 1..]);
        let kept = limit_address_tokens(value, limit);
        if kept.len() < value.len() {
            self.raw = format!("{}{kept}\n", &text[..=colon]).into_bytes();
        }
    }

    /// The unfolded value after the colon.
    fn value(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw);
        let unfolded = text.split('\n').collect::<Vec<_>>().join(" ");
        match unfolded.split_once(':') {
            Some((_, v)) => v.trim().to_string(),
            None => String::new(),
        }
    }
}

/// Cleanup of one message's content, writing through `out`.
pub struct MessageCleanup<'a, O: FnMut(&[u8])> {
    ctx: &'a CleanupContext<'a>,
    out: O,
    in_header: bool,
    at_line_start: bool,
    first_line: bool,
    open: Option<OpenHeader>,
    /// The start of a header line whose rest has not arrived.
    partial: Vec<u8>,
    /// Reused for writing body lines.
    line_buf: Vec<u8>,
    seen: SeenHeaders,
    hops: usize,
    recipients: Vec<String>,
    inspector: Inspector<'a>,
    mime: MimeState,
}

impl<'a, O: FnMut(&[u8])> MessageCleanup<'a, O> {
    pub fn new(ctx: &'a CleanupContext<'a>, out: O) -> Self {
        let rules = ctx.rules;
        let report_nesting = rules.has_header_checks()
            || rules.mime.report_8bit_in_header
            || rules.mime.report_8bit_in_7bit_body
            || rules.mime.report_encoding_domain;
        MessageCleanup {
            inspector: Inspector::new(rules, &ctx.log, ctx.queue_id),
            mime: MimeState::new(&rules.mime, report_nesting, ctx.header_size_limit),
            ctx,
            out,
            in_header: true,
            at_line_start: true,
            first_line: true,
            open: None,
            partial: Vec::new(),
            line_buf: Vec::new(),
            seen: SeenHeaders::default(),
            hops: 0,
            recipients: Vec::new(),
        }
    }

    /// Header lines put above the content (trace headers: `PREPEND`
    /// actions, our `Received:`); each ends with `\n`. They are subject to
    /// `header_checks`, as in Postfix, where they reach cleanup as content.
    pub fn prepend(&mut self, lines: &str) {
        let mut headers: Vec<String> = Vec::new();
        for line in lines.split_inclusive('\n') {
            match headers.last_mut() {
                Some(h) if line.starts_with([' ', '\t']) => h.push_str(line),
                _ => headers.push(line.to_string()),
            }
        }
        for header in headers {
            let text = header.strip_suffix('\n').unwrap_or(&header);
            match self.inspector.header(HeaderClass::Primary, text) {
                Fate::Keep => (self.out)(header.as_bytes()),
                Fate::Drop => {}
                Fate::Replace(new) => (self.out)(format!("{new}\n").as_bytes()),
                Fate::Prepend(first) => {
                    (self.out)(format!("{first}\n").as_bytes());
                    (self.out)(header.as_bytes());
                }
            }
        }
    }

    /// One content line without its line end; `complete` is false for a
    /// piece of a long line whose rest follows.
    pub fn line(&mut self, bytes: &[u8], complete: bool) {
        if bytes.is_empty() && !complete {
            return;
        }
        // A header line arriving in pieces is judged whole (up to the
        // held-header bound).
        if self.in_header && self.at_line_start && (!complete || !self.partial.is_empty()) {
            self.partial.extend_from_slice(bytes);
            if !complete && self.partial.len() <= self.ctx.header_size_limit {
                return;
            }
            let whole = std::mem::take(&mut self.partial);
            return self.whole_line(&whole, complete);
        }
        self.whole_line(bytes, complete);
    }

    fn whole_line(&mut self, bytes: &[u8], complete: bool) {
        let line_start = std::mem::replace(&mut self.at_line_start, complete);
        if !self.in_header {
            return self.body_line(bytes, complete);
        }
        if !line_start {
            return self.header_bytes(bytes, complete);
        }
        if std::mem::take(&mut self.first_line) && bytes.starts_with(b"From ") {
            let mut raw = b"X-Mailbox-Line: ".to_vec();
            raw.extend_from_slice(bytes);
            self.open_header("x-mailbox-line".into());
            return self.header_bytes(&raw, complete);
        }
        if bytes.is_empty() && complete {
            self.end_header(true);
            return (self.out)(b"\n");
        }
        let continued = bytes.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if continued && self.open.is_some() {
            return self.header_bytes(bytes, complete);
        }
        if let Some(name_len) = header_name_len(bytes).filter(|_| !continued) {
            let name = String::from_utf8_lossy(&bytes[..name_len]).to_ascii_lowercase();
            self.open_header(name);
            return self.header_bytes(bytes, complete);
        }
        // Not a header line: the body starts here, after an empty line.
        self.end_header(false);
        (self.out)(b"\n");
        self.body_line(bytes, complete);
    }

    /// End of content: the header is completed if the content ended in it.
    pub fn finish(mut self) -> HeaderSummary {
        let partial = std::mem::take(&mut self.partial);
        if !partial.is_empty() {
            self.whole_line(&partial, false);
        }
        if self.in_header {
            if !self.at_line_start {
                self.header_bytes(b"", true);
            }
            // A message that is all header ends there: Postfix adds no
            // empty line after it (checked against Postfix 3.7, both for
            // SMTP and for sendmail submissions).
            self.end_header(true);
        }
        let Self {
            mime, inspector, ..
        } = &mut self;
        let mut sink = |_: &[u8]| {};
        mime.finish(&mut |ev| pass_on(inspector, &mut sink, ev));
        HeaderSummary {
            hops: self.hops,
            message_id: self.seen.message_id.take(),
            recipients: std::mem::take(&mut self.recipients),
            verdict: std::mem::take(&mut self.inspector.verdict),
        }
    }

    /// A line after the primary header, through the MIME state machine and
    /// the checks.
    fn body_line(&mut self, bytes: &[u8], complete: bool) {
        // Most body lines: nothing to check, written as they are.
        if self.inspector.rules().body_checks.is_empty()
            && self.mime.pass_plain_body_line(bytes.len(), complete)
        {
            (self.out)(bytes);
            if complete {
                (self.out)(b"\n");
            }
            return;
        }
        let Self {
            mime,
            inspector,
            out,
            ..
        } = self;
        mime.line(bytes, complete, &mut |ev| pass_on(inspector, out, ev));
    }

    /// A body line, written in one piece.
    fn write_line(&mut self, bytes: &[u8], complete: bool) {
        if !complete {
            return (self.out)(bytes);
        }
        self.line_buf.clear();
        self.line_buf.extend_from_slice(bytes);
        self.line_buf.push(b'\n');
        (self.out)(&self.line_buf);
    }

    fn open_header(&mut self, name: String) {
        self.close_header();
        self.open = Some(OpenHeader {
            name,
            raw: Vec::new(),
            truncated: false,
        });
    }

    /// Bytes of the open header, held until it is complete, up to
    /// `header_size_limit` (the line end closing the header not counted).
    fn header_bytes(&mut self, bytes: &[u8], complete: bool) {
        let limit = self.ctx.header_size_limit;
        let Some(h) = self.open.as_mut() else {
            return self.write_line(bytes, complete);
        };
        if h.truncated {
            return;
        }
        if h.raw.len() + bytes.len() <= limit {
            h.raw.extend_from_slice(bytes);
            if complete {
                h.raw.push(b'\n');
            }
            return;
        }
        let room = limit.saturating_sub(h.raw.len());
        h.raw.extend_from_slice(&bytes[..room.min(bytes.len())]);
        if h.raw.last() != Some(&b'\n') {
            h.raw.push(b'\n');
        }
        h.truncated = true;
    }

    /// The open header is complete: note it, check it, then write it
    /// (rewritten) or drop it.
    fn close_header(&mut self) {
        let Some(mut h) = self.open.take() else {
            return;
        };
        let text = h.raw.strip_suffix(b"\n").unwrap_or(&h.raw).to_vec();
        {
            let Self {
                mime, inspector, ..
            } = self;
            mime.header_seen(&text, &mut |ev| {
                if let MimeOut::Error(error, context) = ev {
                    inspector.mime_error(error, &String::from_utf8_lossy(context));
                }
            });
        }
        if h.name == "received" {
            self.hops += 1;
        }
        match self
            .inspector
            .header(HeaderClass::Primary, &String::from_utf8_lossy(&text))
        {
            Fate::Keep => {}
            Fate::Drop => return,
            Fate::Replace(new) => {
                let name_len = header_name_len(new.as_bytes()).unwrap_or(0);
                h.name = new[..name_len].to_ascii_lowercase();
                h.raw = format!("{new}\n").into_bytes();
            }
            Fate::Prepend(first) => (self.out)(format!("{first}\n").as_bytes()),
        }
        match h.name.as_str() {
            "message-id" => self.seen.message_id = Some(h.value()),
            "date" => self.seen.date = true,
            "from" => self.seen.from = true,
            _ => {}
        }
        let rewrite = self.ctx.rewrites_headers() && gatepost_rewrite::is_address_header(&h.name);
        if rewrite {
            h.limit_tokens(self.ctx.rules.header_address_token_limit);
        }
        if self.ctx.extracts_recipients() && matches!(h.name.as_str(), "to" | "cc" | "bcc") {
            self.recipients
                .extend(gatepost_rewrite::address_list(&h.value()));
        }
        if h.dropped() {
            return;
        }
        match std::str::from_utf8(&h.raw) {
            Ok(text) if rewrite => {
                let out = self.rewrite_header(&h.name, text);
                (self.out)(out.as_bytes());
            }
            _ => (self.out)(&h.raw),
        }
    }

    /// The addresses of a sender or recipient header rewritten (the
    /// header_sender or header_recipient class); a table failure defers
    /// the message.
    fn rewrite_header(&mut self, name: &str, text: &str) -> String {
        let rewriter = self.ctx.rewriter;
        let role = if gatepost_rewrite::is_sender_header(name) {
            AddressRole::HeaderSender
        } else {
            AddressRole::HeaderRecipient
        };
        let failure = std::cell::RefCell::new(None);
        let out = gatepost_rewrite::rewrite_header(text, &|addr| {
            let internal = gatepost_rewrite::unquote_address(addr);
            match rewriter.rewrite_address(&internal, role) {
                Ok(done) => gatepost_rewrite::quote_address(&done),
                Err(e) => {
                    failure.replace(Some(e));
                    addr.to_string()
                }
            }
        });
        if let Some(e) = failure.into_inner() {
            self.inspector.table_failure(&e.to_string());
        }
        out
    }

    /// The primary header ends: with an empty line, or with the first line
    /// that is not a header.
    fn end_header(&mut self, empty_line: bool) {
        if !self.in_header {
            return;
        }
        self.close_header();
        self.in_header = false;
        {
            let Self {
                mime, inspector, ..
            } = self;
            mime.end_of_header(empty_line, &mut |ev| {
                if let MimeOut::Error(error, context) = ev {
                    inspector.mime_error(error, &String::from_utf8_lossy(context));
                }
            });
        }
        let added = missing_headers(self.ctx, &mut self.seen);
        (self.out)(added.as_bytes());
    }
}

/// A MIME state machine output: checked, then written (part headers and
/// body lines) or reported (errors).
fn pass_on(inspector: &mut Inspector<'_>, out: &mut dyn FnMut(&[u8]), ev: MimeOut<'_>) {
    match ev {
        MimeOut::Error(error, context) => {
            inspector.mime_error(error, &String::from_utf8_lossy(context))
        }
        MimeOut::Header(class, raw) => {
            let fate = inspector.header(class, &String::from_utf8_lossy(raw));
            write_with_fate(out, raw, true, fate);
        }
        MimeOut::Body(bytes, complete, offset) => {
            let fate = if inspector.rules().body_checks.is_empty() {
                Fate::Keep
            } else {
                inspector.body(&String::from_utf8_lossy(bytes), offset)
            };
            write_with_fate(out, bytes, complete, fate);
        }
    }
}

fn write_with_fate(out: &mut dyn FnMut(&[u8]), bytes: &[u8], complete: bool, fate: Fate) {
    // Written as it is, then its line end: no copy of the line.
    let mut line = |text: &[u8], end: bool| {
        out(text);
        if end {
            out(b"\n");
        }
    };
    match fate {
        Fate::Keep => line(bytes, complete),
        Fate::Drop => {}
        Fate::Replace(new) => line(new.as_bytes(), complete),
        Fate::Prepend(first) => {
            line(first.as_bytes(), true);
            line(bytes, complete);
        }
    }
}

/// Postfix `is_header()`: the length of the header name when `line` is a
/// header line (a name of printable ASCII other than `:`, optional white
/// space, then `:`).
pub(crate) fn header_name_len(line: &[u8]) -> Option<usize> {
    let (mut name_len, mut in_space) = (0usize, false);
    for &c in line {
        match c {
            b':' => return (name_len > 0).then_some(name_len),
            b' ' | b'\t' => in_space = true,
            c if c.is_ascii_graphic() && !in_space => name_len += 1,
            _ => return None,
        }
    }
    None
}

/// Run cleanup over a whole content held in memory (local submissions):
/// `trace` goes first; returns the cleaned content.
pub fn clean_content(
    ctx: &CleanupContext<'_>,
    trace: &str,
    content: &[u8],
) -> (Vec<u8>, HeaderSummary) {
    let mut out = Vec::with_capacity(content.len() + trace.len() + 256);
    let summary = {
        let mut cleanup = MessageCleanup::new(ctx, |data: &[u8]| out.extend_from_slice(data));
        cleanup.prepend(trace);
        for piece in content.split_inclusive(|b| *b == b'\n') {
            match piece.strip_suffix(b"\n") {
                Some(line) => cleanup.line(line, true),
                None => cleanup.line(piece, false),
            }
        }
        cleanup.finish()
    };
    (out, summary)
}

/// Recipients named in the `To:`, `Cc:` and `Bcc:` headers of `content`
/// (what `sendmail -t` extracts), found by the same header pass.
pub fn header_recipients(content: &[u8]) -> Vec<String> {
    struct AsGiven;
    impl AddressRewriter for AsGiven {
        fn canonicalize(&self, addr: &str) -> String {
            addr.to_string()
        }
        fn expand_virtual_aliases(
            &self,
            addr: &str,
        ) -> Result<Vec<String>, gatepost_rewrite::RewriteError> {
            Ok(vec![addr.to_string()])
        }
    }
    let ctx = CleanupContext {
        source: Source::Local {
            full_name: None,
            extract_recipients: true,
        },
        always_add_missing_headers: false,
        myhostname: "",
        queue_id: "",
        arrival: chrono::Local::now(),
        sender: "",
        rewriter: &AsGiven,
        header_size_limit: usize::MAX,
        rules: &ContentRules::default(),
        log: LogOrigin::default(),
    };
    clean_content(&ctx, "", content).1.recipients
}
