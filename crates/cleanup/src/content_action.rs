//! What a header_checks(5) or body_checks(5) table value asks for (the
//! reading part of Postfix's `cleanup_act()`): the action word, its text,
//! and the warning Postfix logs when the text cannot be used. Read here
//! once, for cleanup's own checks and for `milter_header_checks`; each
//! applies the action its own way.

use crate::cleanup_message::header_name_len;

/// One table value, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentAction<'a> {
    /// `REJECT [text]`: the reply, with its enhanced status code; and the
    /// warning when the text's code was not 4.x.x or 5.x.x (made 4.x.x).
    Reject {
        reason: String,
        warning: Option<String>,
    },
    Pass(&'a str),
    Discard(&'a str),
    Hold(&'a str),
    Warn(&'a str),
    Info(&'a str),
    /// `FILTER transport:destination`.
    Filter(&'a str),
    /// `PREPEND text`: a header line when checking headers.
    Prepend(&'a str),
    /// `REPLACE text`: a header line when checking headers.
    Replace(&'a str),
    /// `REDIRECT user@domain`.
    Redirect(&'a str),
    /// `BCC user@domain`.
    Bcc(&'a str),
    Strip(&'a str),
    Ignore,
    /// `DUNNO` or `OK`.
    Dunno,
    /// A known action whose text it cannot use: skipped, with Postfix's
    /// warning.
    Invalid {
        command: &'a str,
        warning: String,
    },
    /// No action of header_checks(5).
    Unknown,
}

impl<'a> ContentAction<'a> {
    /// Read `value`, found in table `map`; with `header_text`, `PREPEND`
    /// and `REPLACE` need `name: value` text.
    pub fn parse(value: &'a str, map: &str, header_text: bool) -> ContentAction<'a> {
        let (command, text) = match value.find([' ', '\t']) {
            Some(at) => (&value[..at], value[at..].trim_start()),
            None => (value, ""),
        };
        let is = |name: &str| command.eq_ignore_ascii_case(name);
        let invalid = |warning: String| ContentAction::Invalid { command, warning };
        let header = |action: &str| {
            if text.is_empty() {
                Some(format!("{action} action without text in {map} map"))
            } else if header_text && header_name_len(text.as_bytes()).is_none() {
                Some(format!(
                    "bad {action} header text \"{text}\" in {map} map -- need \"headername: headervalue\""
                ))
            } else {
                None
            }
        };
        let address = |action: &str, what: &str| {
            (!text.contains('@'))
                .then(|| format!("bad {action} {what} \"{text}\" in {map} map -- need user@domain"))
        };
        if is("REJECT") {
            let mut reason = if text.is_empty() {
                "5.7.1 message content rejected".to_string()
            } else {
                dsn_prepend("5.7.1", text)
            };
            let mut warning = None;
            if !reason.starts_with(['4', '5']) {
                warning = Some(format!("bad DSN action in {text} -- need 4.x.x or 5.x.x"));
                reason.replace_range(..1, "4");
            }
            return ContentAction::Reject { reason, warning };
        }
        if is("FILTER") {
            return if text.is_empty() {
                invalid(format!("missing FILTER command argument in {map} map"))
            } else if !text.contains(':') {
                invalid(format!(
                    "bad FILTER command {text} in {map} -- need transport:destination"
                ))
            } else {
                ContentAction::Filter(text)
            };
        }
        if is("PREPEND") {
            return header("PREPEND").map_or(ContentAction::Prepend(text), invalid);
        }
        if is("REPLACE") {
            return header("REPLACE").map_or(ContentAction::Replace(text), invalid);
        }
        if is("REDIRECT") {
            return address("REDIRECT", "target").map_or(ContentAction::Redirect(text), invalid);
        }
        if is("BCC") {
            return address("BCC", "address").map_or(ContentAction::Bcc(text), invalid);
        }
        let simple = [
            ("PASS", ContentAction::Pass(text)),
            ("DISCARD", ContentAction::Discard(text)),
            ("HOLD", ContentAction::Hold(text)),
            ("WARN", ContentAction::Warn(text)),
            ("INFO", ContentAction::Info(text)),
            ("STRIP", ContentAction::Strip(text)),
            ("IGNORE", ContentAction::Ignore),
            ("DUNNO", ContentAction::Dunno),
            ("OK", ContentAction::Dunno),
        ];
        simple
            .into_iter()
            .find(|(name, _)| is(name))
            .map_or(ContentAction::Unknown, |(_, action)| action)
    }

    /// Whether it rejects or routes the message (Postfix's "extended"
    /// actions), valid or not.
    pub fn rejects_or_routes(&self) -> bool {
        const EXTENDED: [&str; 6] = ["BCC", "REJECT", "FILTER", "DISCARD", "HOLD", "REDIRECT"];
        match self {
            ContentAction::Reject { .. }
            | ContentAction::Filter(_)
            | ContentAction::Discard(_)
            | ContentAction::Hold(_)
            | ContentAction::Redirect(_)
            | ContentAction::Bcc(_) => true,
            ContentAction::Invalid { command, .. } => {
                EXTENDED.iter().any(|e| command.eq_ignore_ascii_case(e))
            }
            _ => false,
        }
    }
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
    fn dsn_prepend_table() {
        assert_eq!(dsn_prepend("5.7.1", "go away"), "5.7.1 go away");
        assert_eq!(dsn_prepend("5.7.1", "4.7.0 later"), "4.7.0 later");
        assert_eq!(dsn_prepend("5.7.1", "5.1.1"), "5.1.1 ");
        assert_eq!(dsn_prepend("5.7.1", "1.2.3 x"), "5.7.1 1.2.3 x");
    }

    #[test]
    fn values_read_as_postfix_reads_them() {
        let read = |v| ContentAction::parse(v, "header_checks", true);
        assert_eq!(
            read("reject go away"),
            ContentAction::Reject {
                reason: "5.7.1 go away".into(),
                warning: None
            }
        );
        assert_eq!(
            read("REJECT 4.7.0 later"),
            ContentAction::Reject {
                reason: "4.7.0 later".into(),
                warning: None
            }
        );
        assert!(matches!(
            read("REJECT 2.0.0 odd"),
            ContentAction::Reject { reason, warning: Some(_) } if reason == "4.0.0 odd"
        ));
        assert_eq!(
            read("REPLACE X-Spam : yes"),
            ContentAction::Replace("X-Spam : yes")
        );
        assert!(matches!(
            read("REPLACE X Spam: yes"),
            ContentAction::Invalid { .. }
        ));
        assert_eq!(
            ContentAction::parse("PREPEND plain text", "body_checks", false),
            ContentAction::Prepend("plain text")
        );
        assert!(matches!(
            read("BCC nobody"),
            ContentAction::Invalid { command: "BCC", .. }
        ));
        assert!(read("BCC nobody").rejects_or_routes());
        assert_eq!(
            read("FILTER smtp:[127.0.0.1]:10025"),
            ContentAction::Filter("smtp:[127.0.0.1]:10025")
        );
        assert_eq!(read("ok"), ContentAction::Dunno);
        assert_eq!(read("SHOUT"), ContentAction::Unknown);
        assert!(!read("WARN x").rejects_or_routes());
    }
}
