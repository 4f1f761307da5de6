//! header_checks(5) and body_checks as cleanup(8) applies them (Postfix
//! `cleanup_act()`): one lookup per logical header (folded lines joined by
//! newlines) or body line, then the action of the result: `REJECT [text]`,
//! `DISCARD`, `HOLD`, `REDIRECT addr`, `BCC addr`, `FILTER transport:dest`
//! (the last one wins; `gatepost_queue::content_filter` records it),
//! `REPLACE text`, `PREPEND text`, `IGNORE`, `WARN`, `INFO`, `PASS`,
//! `STRIP`, `DUNNO`, `OK`. After `REJECT`, `DISCARD`, `PASS` or `REDIRECT`
//! no further header or body line is looked up (Postfix clears
//! `CLEANUP_FLAG_FILTER`).
//! Each action is logged as Postfix does:
//! `ID: ACTION: header NAME: VALUE from ORIGIN; from=<S> to=<R> proto=P helo=<H>: TEXT`.
//! The message-level outcome is gathered in a [`ContentVerdict`].

use gatepost_table::MapList;

use crate::cleanup_message::header_name_len;
use crate::content_action::ContentAction;
use crate::content_rules::ContentRules;

/// Where the message came from, for the action log lines.
#[derive(Debug, Clone, Default)]
pub struct LogOrigin<'a> {
    /// `name[addr]` of the SMTP client, or `local`.
    pub origin: &'a str,
    /// The envelope sender after cleanup's rewriting (canonical maps).
    pub sender: &'a str,
    /// The (last) envelope recipient known when the content is inspected.
    pub recipient: Option<&'a str>,
    /// `ESMTP`, `SMTP`, ... for SMTP submissions.
    pub proto: Option<&'a str>,
    pub helo: Option<&'a str>,
}

/// The message-level result of the content inspection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentVerdict {
    /// `REJECT` or a MIME error: the reason with its DSN status
    /// (`5.7.1 text`; a `4.x.x` status defers).
    pub reject: Option<String>,
    pub discard: bool,
    pub hold: bool,
    /// `REDIRECT`: the one recipient the message goes to.
    pub redirect: Option<String>,
    /// `BCC`: recipients added.
    pub bcc: Vec<String>,
    /// `FILTER transport:destination`: the last one that matched.
    pub filter: Option<String>,
    /// A check table could not be searched: the message must be deferred.
    pub lookup_failed: bool,
}

impl ContentVerdict {
    /// Whether the content is still written and inspected (Postfix
    /// `CLEANUP_OUT_OK`): not after a rejection, a discard or a failure.
    pub fn output_ok(&self) -> bool {
        self.reject.is_none() && !self.discard && !self.lookup_failed
    }
}

/// Which header a header belongs to (Postfix `MIME_HDR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderClass {
    Primary,
    Multipart,
    Nested,
}

/// What becomes of one header or body line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Keep,
    Replace(String),
    Drop,
    /// Written before it (a header for header checks, a body line for
    /// body checks), then the line itself.
    Prepend(String),
}

/// MIME headers go to `mime_header_checks` in every header.
fn is_mime_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "content-description"
            | "content-disposition"
            | "content-id"
            | "content-transfer-encoding"
            | "content-type"
            | "mime-version"
    )
}

/// The checks of one message and what they decided.
pub(crate) struct Inspector<'a> {
    rules: &'a ContentRules,
    log: &'a LogOrigin<'a>,
    queue_id: &'a str,
    pub(crate) verdict: ContentVerdict,
    /// Lookups go on (Postfix `CLEANUP_FLAG_FILTER`): not after `REJECT`,
    /// `DISCARD`, `PASS` or `REDIRECT`.
    checking: bool,
}

impl<'a> Inspector<'a> {
    pub(crate) fn new(rules: &'a ContentRules, log: &'a LogOrigin<'a>, queue_id: &'a str) -> Self {
        Inspector {
            rules,
            log,
            queue_id,
            verdict: ContentVerdict::default(),
            checking: true,
        }
    }

    pub(crate) fn rules(&self) -> &ContentRules {
        self.rules
    }

    /// One logical header (without its final newline).
    pub(crate) fn header(&mut self, class: HeaderClass, text: &str) -> Fate {
        if !self.verdict.output_ok() {
            return Fate::Keep;
        }
        let name_len = header_name_len(text.as_bytes()).unwrap_or(0);
        let (maps, param) = match class {
            _ if is_mime_header(&text[..name_len]) => {
                (&self.rules.mime_header_checks, "mime_header_checks")
            }
            HeaderClass::Primary => (&self.rules.header_checks, "header_checks"),
            HeaderClass::Multipart => (&self.rules.mime_header_checks, "mime_header_checks"),
            HeaderClass::Nested => (&self.rules.nested_header_checks, "nested_header_checks"),
        };
        self.check(maps, param, "header", text)
    }

    /// One body line (or piece of a long one) at `offset` in its part.
    pub(crate) fn body(&mut self, text: &str, offset: usize) -> Fate {
        let limit = self.rules.body_checks_size_limit;
        if !self.verdict.output_ok() || (limit > 0 && offset >= limit) {
            return Fate::Keep;
        }
        let maps = &self.rules.body_checks;
        self.check(maps, "body_checks", "body", text)
    }

    fn check(&mut self, maps: &MapList, param: &str, context: &str, text: &str) -> Fate {
        if maps.is_empty() || !self.checking {
            return Fate::Keep;
        }
        match maps.find(text) {
            Ok(Some(value)) => self.act(context, text, &value, param),
            Ok(None) => Fate::Keep,
            Err(failure) => {
                gatepost_log::warning(
                    "cleanup",
                    format!(
                        "{}: {} map lookup problem -- message not accepted, try again later",
                        self.queue_id, failure.table
                    ),
                );
                self.verdict.lookup_failed = true;
                Fate::Keep
            }
        }
    }

    /// Postfix `cleanup_act()`.
    fn act(&mut self, context: &str, content: &str, value: &str, map: &str) -> Fate {
        let log =
            |me: &Self, action: &str, text: &str| me.log_action(action, context, content, text);
        match ContentAction::parse(value, map, context == "header") {
            ContentAction::Reject { reason, warning } => {
                if let Some(w) = warning {
                    self.warn(w);
                }
                log(self, "reject", &reason);
                self.verdict.reject = Some(reason);
                self.checking = false;
            }
            ContentAction::Pass(text) => {
                log(self, "pass", text);
                self.checking = false;
            }
            ContentAction::Discard(text) => {
                log(self, "discard", text);
                self.verdict.discard = true;
                self.checking = false;
            }
            ContentAction::Hold(text) => {
                if !self.verdict.hold && !self.verdict.discard {
                    log(self, "hold", text);
                    self.verdict.hold = true;
                }
            }
            ContentAction::Warn(text) => log(self, "warning", text),
            ContentAction::Info(text) => log(self, "info", text),
            ContentAction::Filter(text) => {
                self.verdict.filter = Some(text.to_string());
                log(self, "filter", text);
            }
            ContentAction::Prepend(text) => {
                log(self, "prepend", text);
                return Fate::Prepend(text.to_string());
            }
            ContentAction::Replace(text) => {
                log(self, "replace", text);
                return Fate::Replace(text.to_string());
            }
            ContentAction::Redirect(text) => {
                self.verdict.redirect = Some(text.to_string());
                log(self, "redirect", text);
                self.checking = false;
            }
            ContentAction::Bcc(text) => {
                self.verdict.bcc.push(text.to_string());
                log(self, "bcc", text);
            }
            ContentAction::Strip(text) => {
                log(self, "strip", text);
                return Fate::Drop;
            }
            ContentAction::Ignore => return Fate::Drop,
            ContentAction::Dunno => {}
            ContentAction::Invalid { warning, .. } => self.warn(warning),
            ContentAction::Unknown => self.warn(format!("unknown command in {map} map: {value}")),
        }
        Fate::Keep
    }

    /// A table used while rewriting header addresses failed: the message
    /// is not accepted now (Postfix `CLEANUP_STAT_WRITE`).
    pub(crate) fn table_failure(&mut self, why: &str) {
        gatepost_log::warning(
            "cleanup",
            format!(
                "{}: {why} -- message not accepted, try again later",
                self.queue_id
            ),
        );
        self.verdict.lookup_failed = true;
    }

    fn warn(&self, text: String) {
        gatepost_log::warning("cleanup", text);
    }

    /// Postfix `cleanup_act_log()`.
    fn log_action(&self, action: &str, class: &str, content: &str, text: &str) {
        let content: String = content.chars().take(200).collect();
        let mut line = format!(
            "{}: {action}: {class} {content} from {};",
            self.queue_id, self.log.origin
        );
        line.push_str(&format!(" from=<{}>", self.log.sender));
        if let Some(rcpt) = self.log.recipient {
            line.push_str(&format!(" to=<{rcpt}>"));
        }
        if let Some(proto) = self.log.proto {
            line.push_str(&format!(" proto={proto}"));
        }
        if let Some(helo) = self.log.helo {
            line.push_str(&format!(" helo=<{helo}>"));
        }
        if !text.is_empty() {
            line.push_str(&format!(": {text}"));
        }
        gatepost_log::info("cleanup", gatepost_log::sanitize(&line));
    }

    /// A MIME error (Postfix `cleanup_mime_error_callback()`): logged, and
    /// the message rejected with the error's text, once.
    pub(crate) fn mime_error(&mut self, error: MimeError, context: &str) {
        if self.verdict.reject.is_some() {
            return;
        }
        let context: String = context.chars().take(100).collect();
        gatepost_log::info(
            "cleanup",
            gatepost_log::sanitize(&format!(
                "{}: reject: mime-error {}: {context} from {}; from=<{}> to=<{}>",
                self.queue_id,
                error.text(),
                self.log.origin,
                self.log.sender,
                self.log.recipient.unwrap_or("unknown")
            )),
        );
        self.verdict.reject = Some(format!("5.6.0 {}", error.text()));
    }
}

/// The MIME errors cleanup rejects mail for (Postfix `MIME_ERR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MimeError {
    Nesting,
    EightBitInHeader,
    EightBitIn7BitBody,
    EncodingDomain,
}

impl MimeError {
    fn text(self) -> &'static str {
        match self {
            MimeError::Nesting => "MIME nesting exceeds safety limit",
            MimeError::EightBitInHeader => "improper use of 8-bit data in message header",
            MimeError::EightBitIn7BitBody => "improper use of 8-bit data in message body",
            MimeError::EncodingDomain => "invalid message/* or multipart/* encoding domain",
        }
    }
}
