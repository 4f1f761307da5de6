//! Classification of an access-table (or policy) result value, in the order
//! of Postfix's `check_table_result()` (smtpd_check.c, access(5); docs/restrictions.md#access-table-results).
//! Action words are case-insensitive; the text after the word is optional
//! except where noted. This module only parses; the evaluator acts.

use crate::dsn::dsn_split;

/// One access-table result, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccessResult<'a> {
    /// `DUNNO`: stop searching this table, next restriction.
    Dunno,
    /// `REJECT [D.S.N] [text]`.
    Reject { dsn: String, text: &'a str },
    /// `DEFER [D.S.N] [text]`.
    Defer { dsn: String, text: &'a str },
    /// `HANGUP [text]`.
    Hangup(&'a str),
    /// `INFO [text]`.
    Info(&'a str),
    /// `WARN [text]`.
    Warn(&'a str),
    /// `FILTER transport:destination`.
    Filter(&'a str),
    /// `HOLD [text]`.
    Hold(&'a str),
    /// `DISCARD [text]`.
    Discard(&'a str),
    /// `REDIRECT user@domain`.
    Redirect(&'a str),
    /// `BCC user@domain`.
    Bcc(&'a str),
    /// `DEFER_IF_PERMIT [D.S.N] [text]`.
    DeferIfPermit { dsn: String, text: &'a str },
    /// `DEFER_IF_REJECT [D.S.N] [text]`.
    DeferIfReject { dsn: String, text: &'a str },
    /// `PREPEND header: text`.
    Prepend(&'a str),
    /// `OK`, `RELAY` or all digits; the word is kept for permit logging.
    Permit(&'a str),
    /// `4NN text` / `5NN text` with optional DSN.
    Code {
        code: u16,
        dsn: String,
        text: &'a str,
    },
    /// A value containing `:` that is none of the above: a lookup table
    /// reference, refused.
    TableReference,
    /// Anything else: a restriction list evaluated in place.
    RestrictionList(&'a str),
}

/// Parse `value` as `check_table_result()` does.
pub(crate) fn parse(value: &str) -> AccessResult<'_> {
    let cmd_len = value.find([' ', '\t']).unwrap_or(value.len());
    let word = &value[..cmd_len];
    let text = value[cmd_len..].trim_start();
    let is = |w: &str| word.eq_ignore_ascii_case(w);

    if is("DUNNO") {
        return AccessResult::Dunno;
    }
    if is("REJECT") {
        let (dsn, text) = dsn_split("5.7.1", text);
        return AccessResult::Reject { dsn, text };
    }
    if is("DEFER") {
        let (dsn, text) = dsn_split("4.7.1", text);
        return AccessResult::Defer { dsn, text };
    }
    if is("HANGUP") {
        return AccessResult::Hangup(text);
    }
    if is("INFO") {
        return AccessResult::Info(text);
    }
    if is("WARN") {
        return AccessResult::Warn(text);
    }
    if is("FILTER") {
        return AccessResult::Filter(text);
    }
    if is("HOLD") {
        return AccessResult::Hold(text);
    }
    if is("DISCARD") {
        return AccessResult::Discard(text);
    }
    if is("REDIRECT") {
        return AccessResult::Redirect(text);
    }
    if is("BCC") {
        return AccessResult::Bcc(text);
    }
    if is("DEFER_IF_PERMIT") {
        let (dsn, text) = dsn_split("4.7.1", text);
        return AccessResult::DeferIfPermit { dsn, text };
    }
    if is("DEFER_IF_REJECT") {
        let (dsn, text) = dsn_split("4.7.1", text);
        return AccessResult::DeferIfReject { dsn, text };
    }
    if is("PREPEND") {
        return AccessResult::Prepend(text);
    }
    // alldig(value): note that Postfix's alldig("") is true. A bare `4NN` /
    // `5NN` without text is not a permit: a live Postfix 3.7 was seen
    // falling through to "restriction list" (451 4.3.5).
    let bare_code = value.len() == 3 && matches!(value.as_bytes()[0], b'4' | b'5');
    if !bare_code && value.bytes().all(|c| c.is_ascii_digit()) {
        return AccessResult::Permit(word);
    }
    let wb = word.as_bytes();
    if cmd_len == 3
        && !text.is_empty()
        && matches!(wb[0], b'4' | b'5')
        && wb[1].is_ascii_digit()
        && wb[2].is_ascii_digit()
    {
        let code =
            u16::from(wb[0] - b'0') * 100 + u16::from(wb[1] - b'0') * 10 + u16::from(wb[2] - b'0');
        let def = if wb[0] == b'4' { "4.7.1" } else { "5.7.1" };
        let (dsn, text) = dsn_split(def, text);
        return AccessResult::Code { code, dsn, text };
    }
    if is("OK") || is("RELAY") {
        return AccessResult::Permit(word);
    }
    if value.contains(':') {
        return AccessResult::TableReference;
    }
    AccessResult::RestrictionList(value)
}

/// Postfix `is_header()`: `Name:` where Name is printable ASCII other than
/// space and colon.
pub(crate) fn is_header(text: &str) -> bool {
    let name_len = text
        .bytes()
        .take_while(|&c| c.is_ascii_graphic() && c != b':')
        .count();
    name_len > 0 && text.as_bytes().get(name_len) == Some(&b':')
}

#[cfg(test)]
mod tests {
    use super::AccessResult as A;
    use super::*;

    #[test]
    fn parse_table() {
        let cases: Vec<(&str, A)> = vec![
            ("DUNNO", A::Dunno),
            ("dunno whatever", A::Dunno),
            (
                "REJECT",
                A::Reject {
                    dsn: "5.7.1".into(),
                    text: "",
                },
            ),
            (
                "reject 5.1.8 go away",
                A::Reject {
                    dsn: "5.1.8".into(),
                    text: "go away",
                },
            ),
            (
                "DEFER",
                A::Defer {
                    dsn: "4.7.1".into(),
                    text: "",
                },
            ),
            ("HANGUP bye", A::Hangup("bye")),
            ("INFO note", A::Info("note")),
            ("WARN careful", A::Warn("careful")),
            (
                "FILTER smtp:[127.0.0.1]:10025",
                A::Filter("smtp:[127.0.0.1]:10025"),
            ),
            ("HOLD", A::Hold("")),
            ("DISCARD spam", A::Discard("spam")),
            ("REDIRECT a@b", A::Redirect("a@b")),
            ("BCC a@b", A::Bcc("a@b")),
            (
                "DEFER_IF_PERMIT",
                A::DeferIfPermit {
                    dsn: "4.7.1".into(),
                    text: "",
                },
            ),
            (
                "DEFER_IF_REJECT dir text",
                A::DeferIfReject {
                    dsn: "4.7.1".into(),
                    text: "dir text",
                },
            ),
            ("PREPEND X-Tag: yes", A::Prepend("X-Tag: yes")),
            ("OK", A::Permit("OK")),
            ("relay", A::Permit("relay")),
            ("12345", A::Permit("12345")),
            (
                "451 4.7.1 try later",
                A::Code {
                    code: 451,
                    dsn: "4.7.1".into(),
                    text: "try later",
                },
            ),
            (
                "550 5.1.1 no such user",
                A::Code {
                    code: 550,
                    dsn: "5.1.1".into(),
                    text: "no such user",
                },
            ),
            (
                "550 text",
                A::Code {
                    code: 550,
                    dsn: "5.7.1".into(),
                    text: "text",
                },
            ),
            (
                "450 text",
                A::Code {
                    code: 450,
                    dsn: "4.7.1".into(),
                    text: "text",
                },
            ),
            ("550", A::RestrictionList("550")),
            ("600", A::Permit("600")),
            ("550x text", A::RestrictionList("550x text")),
            ("hash:/etc/x", A::TableReference),
            (
                "permit_mynetworks, reject",
                A::RestrictionList("permit_mynetworks, reject"),
            ),
            ("myclass", A::RestrictionList("myclass")),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value), want, "{value}");
        }
    }

    #[test]
    fn headers() {
        assert!(is_header("X-Tag: yes"));
        assert!(is_header("X:"));
        assert!(!is_header(": x"));
        assert!(!is_header("X Tag: y"));
        assert!(!is_header(""));
    }
}
