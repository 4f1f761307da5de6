//! Reply text post-processing shared by every restriction reply
//! (smtpd_check.c `smtpd_check_reject()`, docs/restrictions.md#reply-post-processing
//! steps 1, 2, 4 and 5), and conversion of the final `CODE DSN TEXT` string into a
//! [`gatepost_proto::Reply`].

use gatepost_proto::Reply;

use crate::dsn::dsn_valid;

/// The generic replacement for a malformed code or DSN.
pub(crate) const GENERIC_REPLY: &str = "450 4.7.1 Service unavailable";

/// RFC 5321 limit Postfix applies to restriction replies.
pub(crate) const MAX_REPLY: usize = 510;

/// Step 1: format `CODE DSN TEXT` and validate code and DSN. Returns the
/// text and a warning when a generic reply had to be substituted.
pub(crate) fn format(code: u16, dsn: &str, text: &str) -> (String, Option<String>) {
    let s = format!("{code} {dsn} {text}");
    if !(400..=599).contains(&code) {
        return (
            GENERIC_REPLY.to_string(),
            Some(format!("SMTP reply code configuration error: {s}")),
        );
    }
    if dsn_valid(&s[4..]) == 0 {
        return (
            GENERIC_REPLY.to_string(),
            Some(format!("DSN detail code configuration error: {s}")),
        );
    }
    (s, None)
}

/// Step 2: cut to 510 bytes (on a character boundary) and replace
/// non-printable characters with spaces.
pub(crate) fn sanitize(s: &str) -> String {
    let mut end = s.len().min(MAX_REPLY);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Steps 4 and 5: `soft_bounce` turns a leading 5 into 4, then the DSN's
/// first digit is forced to the code's.
pub(crate) fn finish(s: &str, soft_bounce: bool) -> String {
    let mut b: Vec<char> = s.chars().collect();
    if soft_bounce && b.first() == Some(&'5') {
        b[0] = '4';
    }
    if b.len() > 4 {
        b[4] = b[0];
    }
    b.into_iter().collect()
}

/// Parse a finished `CODE DSN TEXT` string into a reply.
pub(crate) fn to_reply(s: &str) -> Reply {
    let code = s.get(..3).and_then(|c| c.parse::<u16>().ok());
    let rest = s.get(4..).unwrap_or("");
    let (dsn, text) = rest.split_once(' ').unwrap_or((rest, ""));
    match code {
        Some(code) if dsn_valid(dsn) > 0 => Reply::new(code, dsn, text),
        _ => Reply::new(451, "4.3.5", "Server configuration error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_and_validation() {
        assert_eq!(format(554, "5.7.1", "<a>: x").0, "554 5.7.1 <a>: x");
        let (s, w) = format(250, "2.0.0", "ok");
        assert_eq!(s, GENERIC_REPLY);
        assert_eq!(
            w.as_deref(),
            Some("SMTP reply code configuration error: 250 2.0.0 ok")
        );
        let (s, w) = format(550, "5.x.1", "bad");
        assert_eq!(s, GENERIC_REPLY);
        assert_eq!(
            w.as_deref(),
            Some("DSN detail code configuration error: 550 5.x.1 bad")
        );
    }

    #[test]
    fn truncation_and_printable() {
        let long = format!("554 5.7.1 {}", "x".repeat(600));
        assert_eq!(sanitize(&long).len(), 510);
        assert_eq!(sanitize("554 5.7.1 a\tb\r\nc"), "554 5.7.1 a b  c");
        let multibyte = format!("554 5.7.1 {}", "é".repeat(300));
        assert!(sanitize(&multibyte).len() <= 510);
    }

    #[test]
    fn soft_bounce_and_agreement() {
        assert_eq!(finish("550 5.1.1 x", true), "450 4.1.1 x");
        assert_eq!(finish("550 4.1.8 x", false), "550 5.1.8 x");
        assert_eq!(finish("450 5.7.1 x", false), "450 4.7.1 x");
        assert_eq!(finish("556 4.1.10 x", false), "556 5.1.10 x");
    }

    #[test]
    fn reply_conversion() {
        let r = to_reply("554 5.7.1 <x@far.example>: Relay access denied");
        assert_eq!(
            r,
            Reply::new(554, "5.7.1", "<x@far.example>: Relay access denied")
        );
        assert_eq!(to_reply("junk").code, 451);
    }
}
