//! The message as a delivery agent copies it (Postfix `mail_copy()`): the
//! prepended `From ` line and `Return-Path:`, `X-Original-To:`,
//! `Delivered-To:` headers (in that order), `>From ` quoting for mailbox
//! files, the blank line that ends an mbox message; plus the collection of
//! existing `Delivered-To:` headers for mail forwarding loop detection
//! (Postfix `delivered_hdr`).

use std::collections::HashSet;

use gatepost_rewrite::quote_address;

/// What to add around the content (Postfix `MAIL_COPY_*` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CopyFlags {
    /// `From sender  date` line (mbox, commands).
    pub from_line: bool,
    /// `>From ` quoting of body lines (mbox).
    pub quote: bool,
    /// Blank line at the end (mbox).
    pub blank: bool,
    pub return_path: bool,
    pub orig_rcpt: bool,
    pub delivered: bool,
}

impl CopyFlags {
    /// Mailbox file delivery (`MAIL_COPY_MBOX`).
    pub fn mbox(delivered: bool) -> CopyFlags {
        CopyFlags {
            from_line: true,
            quote: true,
            blank: true,
            return_path: true,
            orig_rcpt: true,
            delivered,
        }
    }

    /// Maildir delivery: headers only.
    pub fn maildir(delivered: bool) -> CopyFlags {
        CopyFlags {
            return_path: true,
            orig_rcpt: true,
            delivered,
            ..CopyFlags::default()
        }
    }

    /// Pipe to a command: `From ` line and headers, no quoting.
    pub fn command(delivered: bool) -> CopyFlags {
        CopyFlags {
            from_line: true,
            return_path: true,
            orig_rcpt: true,
            delivered,
            ..CopyFlags::default()
        }
    }
}

/// The envelope facts that go into the prepended lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyAttrs<'a> {
    /// Envelope sender, internal form, empty for `<>`.
    pub sender: &'a str,
    /// Original recipient; no `X-Original-To:` when empty.
    pub orig_rcpt: &'a str,
    /// `Delivered-To:` address.
    pub delivered: &'a str,
}

/// Render the message as it is written to the destination.
pub(crate) fn render(content: &[u8], attrs: &CopyAttrs<'_>, flags: CopyFlags) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 256);
    let sender = quote_address(attrs.sender);
    if flags.from_line {
        let who = if attrs.sender.is_empty() {
            "MAILER-DAEMON"
        } else {
            sender.as_str()
        };
        let date = chrono::Local::now().format("%a %b %e %H:%M:%S %Y");
        out.extend_from_slice(format!("From {who}  {date}\n").as_bytes());
    }
    if flags.return_path {
        let path = if attrs.sender.is_empty() {
            ""
        } else {
            sender.as_str()
        };
        out.extend_from_slice(format!("Return-Path: <{path}>\n").as_bytes());
    }
    if flags.orig_rcpt && !attrs.orig_rcpt.is_empty() {
        out.extend_from_slice(
            format!("X-Original-To: {}\n", quote_address(attrs.orig_rcpt)).as_bytes(),
        );
    }
    if flags.delivered {
        out.extend_from_slice(
            format!("Delivered-To: {}\n", quote_address(attrs.delivered)).as_bytes(),
        );
    }
    if flags.quote {
        for line in content.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
    } else {
        out.extend_from_slice(content);
    }
    if !content.is_empty() && !content.ends_with(b"\n") {
        out.push(b'\n');
    }
    if flags.blank {
        out.push(b'\n');
    }
    out
}

/// The lower-cased addresses of all `Delivered-To:` headers in the message
/// header (folded lines joined; the body is not searched).
pub(crate) fn delivered_to_headers(content: &[u8]) -> HashSet<String> {
    let mut found = HashSet::new();
    let mut current: Option<String> = None;
    for line in content.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if let Some(value) = current.as_mut() {
                value.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        if let Some(value) = current.take() {
            found.insert(value.trim().to_lowercase());
        }
        if line.is_empty() {
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = &line[..colon];
            if name.trim_ascii_end().eq_ignore_ascii_case(b"Delivered-To") {
                current = Some(String::from_utf8_lossy(&line[colon + 1..]).into_owned());
            }
        }
    }
    if let Some(value) = current {
        found.insert(value.trim().to_lowercase());
    }
    found
}

/// Whether `address` (any case) appears in the loop-detection set.
pub(crate) fn is_loop(delivered: &HashSet<String>, address: &str) -> bool {
    delivered.contains(&address.to_lowercase())
        || delivered.contains(&quote_address(address).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Subject: hi\nFrom: a@b\n\nFrom the start\n>From kept\nbody";

    fn attrs<'a>(sender: &'a str, orig: &'a str) -> CopyAttrs<'a> {
        CopyAttrs {
            sender,
            orig_rcpt: orig,
            delivered: "bob@example.com",
        }
    }

    #[test]
    fn maildir_copy_prepends_headers_in_postfix_order() {
        let out = render(
            MSG,
            &attrs("alice@example.org", "info@example.com"),
            CopyFlags::maildir(true),
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Return-Path: <alice@example.org>\nX-Original-To: info@example.com\nDelivered-To: bob@example.com\n\
             Subject: hi\nFrom: a@b\n\nFrom the start\n>From kept\nbody\n"
        );
    }

    #[test]
    fn mbox_copy_quotes_and_ends_with_blank_line() {
        let out = render(MSG, &attrs("", ""), CopyFlags::mbox(true));
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("From MAILER-DAEMON  "), "{first}");
        assert_eq!(first.len(), "From MAILER-DAEMON  ".len() + 24, "{first}");
        assert!(
            text.contains("\nReturn-Path: <>\nDelivered-To: bob@example.com\nSubject: hi\n"),
            "{text}"
        );
        assert!(!text.contains("X-Original-To"));
        assert!(text.contains("\n>From the start\n>From kept\nbody\n\n"));
        assert!(text.ends_with("body\n\n"));
    }

    #[test]
    fn no_delivered_header_when_masked() {
        let out = render(
            b"a: b\n\nx\n",
            &attrs("s@x", "o@x"),
            CopyFlags::command(false),
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("From s@x  "));
        assert!(
            text.ends_with("Return-Path: <s@x>\nX-Original-To: o@x\na: b\n\nx\n"),
            "{text}"
        );
    }

    #[test]
    fn delivered_to_collection() {
        let msg = b"Received: x\nDelivered-To: Bob@Example.com\ndelivered-to :\n  folded@example.com\nSubject: s\n\nDelivered-To: body@example.com\n";
        let set = delivered_to_headers(msg);
        assert_eq!(set.len(), 2, "{set:?}");
        assert!(set.contains("bob@example.com"));
        assert!(set.contains("folded@example.com"));
        assert!(!set.contains("body@example.com"));
    }
}
