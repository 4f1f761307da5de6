//! `milter_header_checks`: header_checks(5) tables applied to each header
//! a filter adds, inserts or changes at end of message, as Postfix's
//! cleanup_milter.c applies them: `REJECT [text]`, `DISCARD`, `HOLD`,
//! `REDIRECT addr`, `BCC addr`, `FILTER transport:destination`, `WARN`,
//! `INFO`, `REPLACE text`, `STRIP`, `IGNORE`, `DUNNO`/`OK` (`PREPEND` is
//! not implemented there either: a warning). After a `REJECT`, `DISCARD`
//! or `REDIRECT` no further rejecting or routing action applies. Each
//! action is logged as `ID: milter-header-ACTION: header TEXT from
//! NAME[ADDR]; from=<S> to=<R> proto=P helo=<H>: TEXT`.

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
        let (command, text) = match value.find([' ', '\t']) {
            Some(at) => (&value[..at], value[at..].trim_start()),
            None => (value, ""),
        };
        let is = |name: &str| command.eq_ignore_ascii_case(name);
        let extended = ["BCC", "REJECT", "FILTER", "DISCARD", "HOLD", "REDIRECT"];
        if extended.iter().any(|name| is(name)) && !self.filtering() {
            return Fate::Keep;
        }
        if is("BCC") {
            if !text.contains('@') {
                warn(format!(
                    "bad BCC address \"{text}\" in {MAP} map -- need user@domain"
                ));
            } else {
                self.log("bcc", line, text);
                self.verdict.bcc.push(text.to_string());
            }
        } else if is("REJECT") {
            let mut reason = if text.is_empty() {
                "5.7.1 message content rejected".to_string()
            } else {
                dsn_prepend("5.7.1", text)
            };
            if !reason.starts_with(['4', '5']) {
                warn(format!("bad DSN action in {text} -- need 4.x.x or 5.x.x"));
                reason.replace_range(..1, "4");
            }
            self.log("reject", line, &reason);
            self.verdict.reject = Some(reason);
        } else if is("FILTER") {
            if text.is_empty() {
                warn(format!("missing FILTER command argument in {MAP} map"));
            } else if !text.contains(':') {
                warn(format!(
                    "bad FILTER command {text} in {MAP} -- need transport:destination"
                ));
            } else {
                self.verdict.filter = Some(text.to_string());
                self.log("filter", line, text);
            }
        } else if is("DISCARD") {
            self.log("discard", line, text);
            self.verdict.discard = true;
        } else if is("HOLD") {
            if !self.verdict.hold && !self.verdict.discard {
                self.log("hold", line, text);
                self.verdict.hold = true;
            }
        } else if is("REDIRECT") {
            if !text.contains('@') {
                warn(format!(
                    "bad REDIRECT target \"{text}\" in {MAP} map -- need user@domain"
                ));
            } else {
                self.verdict.redirect = Some(text.to_string());
                self.log("redirect", line, text);
            }
        } else if is("WARN") {
            self.log("warning", line, text);
        } else if is("INFO") {
            self.log("info", line, text);
        } else if is("REPLACE") {
            if text.is_empty() {
                warn(format!("REPLACE action without text in {MAP} map"));
            } else if !is_header(text) {
                warn(format!(
                    "bad REPLACE header text \"{text}\" in {MAP} map -- need \"headername: headervalue\""
                ));
            } else {
                self.log("replace", line, text);
                return Fate::Replace(text.to_string());
            }
        } else if is("PREPEND") {
            if text.is_empty() {
                warn(format!("PREPEND action without text in {MAP} map"));
            } else if !is_header(text) {
                warn(format!(
                    "bad PREPEND header text \"{text}\" in {MAP} map -- need \"headername: headervalue\""
                ));
            } else {
                self.log("prepend", line, text);
                warn("the milter_header/body_checks prepend action is not implemented".into());
            }
        } else if is("STRIP") {
            self.log("strip", line, text);
            return Fate::Drop;
        } else if is("IGNORE") {
            return Fate::Drop;
        } else if !(is("DUNNO") || is("OK")) {
            warn(format!("unsupported command in {MAP} map: {value}"));
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

/// `Name: value`: a header name (printable, no blank or colon) then a
/// colon, blanks allowed before it (Postfix `is_header()`).
fn is_header(text: &str) -> bool {
    let Some(colon) = text.find(':') else {
        return false;
    };
    let name = text[..colon].trim_end_matches([' ', '\t']);
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())
}

/// Postfix `dsn_prepend()`: keep a `D.D.D` status the text starts with,
/// else put `default` before it.
fn dsn_prepend(default: &str, text: &str) -> String {
    let (first, rest) = match text.split_once([' ', '\t']) {
        Some((f, r)) => (f, r.trim_start()),
        None => (text, ""),
    };
    let parts: Vec<&str> = first.split('.').collect();
    let is_dsn = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && matches!(parts[0], "2" | "4" | "5");
    if is_dsn {
        format!("{first} {rest}")
    } else {
        format!("{default} {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_headers() {
        assert_eq!(dsn_prepend("5.7.1", "go away"), "5.7.1 go away");
        assert_eq!(dsn_prepend("5.7.1", "4.7.0 later"), "4.7.0 later");
        assert!(is_header("X-Spam: yes"));
        assert!(is_header("X-Spam : yes"));
        assert!(!is_header(": yes"));
        assert!(!is_header("no colon"));
    }
}
