//! `milter_header_checks`: header_checks(5) tables applied to each header
//! a filter adds, inserts or changes at end of message, as Postfix's
//! cleanup_milter.c applies them: `REJECT [text]`, `DISCARD`, `HOLD`,
//! `REDIRECT addr`, `BCC addr`, `FILTER transport:destination`, `WARN`,
//! `INFO`, `REPLACE text`, `STRIP`, `IGNORE`, `DUNNO`/`OK` (`PREPEND` is
//! not implemented there either: a warning). After a `REJECT`, `DISCARD`
//! or `REDIRECT` no further rejecting or routing action applies. Each
//! action is logged as `ID: milter-header-ACTION: header TEXT from
//! NAME[ADDR]; from=<S> to=<R> proto=P helo=<H>: TEXT`.

use gatepost_cleanup::ContentAction;
use gatepost_table::MapList;

/// Where the message came from, for the log lines.
#[derive(Debug, Clone, Default)]
pub struct CheckOrigin {
    pub queue_id: String,
    /// `name[addr]` of the client (`localhost[127.0.0.1]` for local
    /// submissions).
    pub client: String,
    pub sender: String,
    /// The last envelope recipient.
    pub recipient: Option<String>,
    pub proto: Option<String>,
    pub helo: Option<String>,
}

/// What the checks decided for the message: the same verdict as cleanup's
/// header checks (REJECT, DISCARD, HOLD, REDIRECT, BCC, FILTER).
pub use gatepost_cleanup::ContentVerdict as HeaderCheckVerdict;

/// What becomes of the header a filter asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Keep,
    /// `REPLACE`: this header text instead.
    Replace(String),
    /// `IGNORE`, `STRIP`, or a failed lookup: not added or changed.
    Drop,
}

/// The checks of one message.
pub(crate) struct HeaderCheckRun<'a> {
    pub maps: &'a MapList,
    pub origin: &'a CheckOrigin,
    pub verdict: &'a mut HeaderCheckVerdict,
}

const MAP: &str = "milter_header_checks";

impl HeaderCheckRun<'_> {
    /// One header as the filter would have it (`Name: value`, folded lines
    /// joined by newlines).
    pub fn check(&mut self, text: &str) -> Fate {
        match self.maps.find(text) {
            Ok(Some(value)) => self.act(text, &value),
            Ok(None) => Fate::Keep,
            Err(_) => {
                gatepost_log::warning(
                    "cleanup",
                    format!(
                        "{}: {MAP} map lookup problem -- message not accepted, try again later",
                        self.origin.queue_id
                    ),
                );
                self.verdict.lookup_failed = true;
                Fate::Drop
            }
        }
    }

    /// Rejecting and routing actions still apply (Postfix
    /// `CLEANUP_FLAG_FILTER_ALL`).
    fn filtering(&self) -> bool {
        self.verdict.output_ok() && self.verdict.redirect.is_none()
    }

    /// Postfix `cleanup_milter_hbc_extend()`, then `hbc_action()`.
    fn act(&mut self, line: &str, value: &str) -> Fate {
        let action = ContentAction::parse(value, MAP, true);
        if action.rejects_or_routes() && !self.filtering() {
            return Fate::Keep;
        }
        match action {
            ContentAction::Bcc(text) => {
                self.log("bcc", line, text);
                self.verdict.bcc.push(text.to_string());
            }
            ContentAction::Reject { reason, warning } => {
                if let Some(w) = warning {
                    warn(w);
                }
                self.log("reject", line, &reason);
                self.verdict.reject = Some(reason);
            }
            ContentAction::Filter(text) => {
                self.verdict.filter = Some(text.to_string());
                self.log("filter", line, text);
            }
            ContentAction::Discard(text) => {
                self.log("discard", line, text);
                self.verdict.discard = true;
            }
            ContentAction::Hold(text) => {
                if !self.verdict.hold && !self.verdict.discard {
                    self.log("hold", line, text);
                    self.verdict.hold = true;
                }
            }
            ContentAction::Redirect(text) => {
                self.verdict.redirect = Some(text.to_string());
                self.log("redirect", line, text);
            }
            ContentAction::Warn(text) => self.log("warning", line, text),
            ContentAction::Info(text) => self.log("info", line, text),
            ContentAction::Replace(text) => {
                self.log("replace", line, text);
                return Fate::Replace(text.to_string());
            }
            ContentAction::Prepend(text) => {
                self.log("prepend", line, text);
                warn("the milter_header/body_checks prepend action is not implemented".into());
            }
            ContentAction::Strip(text) => {
                self.log("strip", line, text);
                return Fate::Drop;
            }
            ContentAction::Ignore => return Fate::Drop,
            ContentAction::Dunno => {}
            ContentAction::Invalid { warning, .. } => warn(warning),
            // PASS is not among the actions of milter_header_checks.
            ContentAction::Pass(_) | ContentAction::Unknown => {
                warn(format!("unsupported command in {MAP} map: {value}"))
            }
        }
        Fate::Keep
    }

    /// Postfix `cleanup_milter_hbc_log()`: the header cut at 60 bytes.
    fn log(&self, action: &str, line: &str, text: &str) {
        let o = self.origin;
        let mut end = line.len().min(60);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let mut out = format!(
            "{}: milter-header-{action}: header {} from {};",
            o.queue_id,
            &line[..end],
            o.client
        );
        out.push_str(&format!(" from=<{}>", o.sender));
        if let Some(r) = &o.recipient {
            out.push_str(&format!(" to=<{r}>"));
        }
        if let Some(p) = &o.proto {
            out.push_str(&format!(" proto={p}"));
        }
        if let Some(h) = &o.helo {
            out.push_str(&format!(" helo=<{h}>"));
        }
        out.push_str(&format!(": {text}"));
        gatepost_log::info("cleanup", gatepost_log::sanitize(&out));
    }
}

fn warn(text: String) {
    gatepost_log::warning("cleanup", text);
}
