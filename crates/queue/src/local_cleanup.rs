//! Cleanup for local submissions (what Postfix's cleanup does for mail that
//! pickup reads from maildrop): the `Received: by HOST (Postfix, from userid
//! N)` header first; `Bcc:` removed; recipients extracted from `To:`, `Cc:`
//! and `Bcc:` for `sendmail -t` (added to the command-line ones, as Postfix
//! does); `Message-Id:`, `Date:` and `From:` added when missing (local
//! submissions are always in the "local" rewrite context); bare addresses
//! get `@$myorigin`. A pure function of the submission: no I/O.
//!
//! Input bounds: header lines are handled one logical header at a time; the
//! body is copied verbatim.

use chrono::{DateTime, Local};

use crate::bounce::mail_date;
use crate::maildrop::Submission;

/// `$mail_name`.
const MAIL_NAME: &str = "Postfix";

/// The cleaned-up message, ready for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CleanMessage {
    pub content: Vec<u8>,
    /// Recipients as given (command line, then extracted headers), deduplicated.
    pub recipients: Vec<String>,
    /// The `Message-Id:` value (the message's own or the one added).
    pub message_id: String,
}

/// Inputs besides the submission.
pub(crate) struct CleanupParams<'a> {
    pub myhostname: &'a str,
    /// `$myorigin`, for `From:` when the sender is bare.
    pub qualify: &'a dyn Fn(&str) -> String,
    pub queue_id: &'a str,
}

/// Split a header value into addresses (RFC 5322 address list: display
/// names, quoted strings, comments, angle addresses, groups).
pub(crate) fn parse_address_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut item = String::new();
    let mut angle: Option<String> = None;
    let (mut in_quote, mut depth, mut in_angle) = (false, 0usize, false);
    let mut chars = value.chars();
    let mut flush = |item: &mut String, angle: &mut Option<String>| {
        let addr = match angle.take() {
            Some(a) => a.trim().to_string(),
            None => item.trim().to_string(),
        };
        if !addr.is_empty() {
            out.push(addr);
        }
        item.clear();
    };
    while let Some(c) = chars.next() {
        if in_quote {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        if in_angle {
                            angle.get_or_insert_with(String::new).push(n);
                        }
                    }
                }
                '"' => in_quote = false,
                _ => {
                    if in_angle {
                        angle.get_or_insert_with(String::new).push(c);
                    }
                }
            }
            if in_angle && !in_quote && c == '"' {
                angle.get_or_insert_with(String::new).push('"');
            }
            continue;
        }
        if depth > 0 {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '\\' => {
                    chars.next();
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_quote = true;
                if in_angle {
                    angle.get_or_insert_with(String::new).push('"');
                }
            }
            '(' => depth = 1,
            '<' => {
                in_angle = true;
                angle = Some(String::new());
            }
            '>' => in_angle = false,
            ':' if !in_angle => item.clear(), // group name
            ',' | ';' if !in_angle => flush(&mut item, &mut angle),
            _ if in_angle => angle.get_or_insert_with(String::new).push(c),
            c if c.is_whitespace() => item.push(' '),
            _ => item.push(c),
        }
    }
    flush(&mut item, &mut angle);
    out
}

/// Quote a full name for `From: NAME <addr>` when it has specials.
fn quote_phrase(name: &str) -> String {
    let special = name
        .chars()
        .any(|c| "()<>[]:;@\\,.\"".contains(c) || c.is_control());
    if !special {
        return name.to_string();
    }
    let mut q = String::from("\"");
    for c in name.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Headers whose addresses are qualified in the local rewrite context, as
/// Postfix's cleanup does (canonical address rewriting of message headers).
const ADDRESS_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "resent-from",
    "resent-sender",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "resent-reply-to",
    "return-receipt-to",
    "errors-to",
];

/// Append `@$myorigin` (via `qualify`) to the bare addresses of one
/// address header, keeping every other byte (display names, comments,
/// folding) as it was: `Cc: carol, Bob <bob>` becomes
/// `Cc: carol@ORIGIN, Bob <bob@ORIGIN>`.
pub(crate) fn qualify_header(header: &str, qualify: &dyn Fn(&str) -> String) -> String {
    let Some(colon) = header.find(':') else {
        return header.to_string();
    };
    let chars: Vec<(usize, char)> = header
        .char_indices()
        .skip_while(|(i, _)| *i <= colon)
        .collect();
    // (insert position, address text) for each address that needs a domain.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let (mut in_quote, mut depth) = (false, 0usize);
    let mut angle: Option<(String, bool)> = None; // (address text, has @)
    let mut bare = String::new();
    let mut bare_end = None::<usize>;
    let mut bare_words = 0usize;
    let mut had_angle = false;
    // End of one list item: a lone word without `@` is a bare address.
    let flush = |bare: &mut String,
                 bare_end: &mut Option<usize>,
                 words: &mut usize,
                 had_angle: &mut bool,
                 inserts: &mut Vec<(usize, String)>| {
        if !*had_angle && *words == 1 && !bare.contains('@') && !bare.is_empty() {
            if let Some(end) = *bare_end {
                inserts.push((end, bare.clone()));
            }
        }
        bare.clear();
        *bare_end = None;
        *words = 0;
        *had_angle = false;
    };
    let mut prev_space = true;
    let mut iter = chars.iter().peekable();
    while let Some(&(i, c)) = iter.next() {
        if in_quote {
            if c == '\\' {
                iter.next();
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        if depth > 0 {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '\\' => {
                    iter.next();
                }
                _ => {}
            }
            prev_space = true;
            continue;
        }
        if let Some((text, at)) = angle.as_mut() {
            if c == '>' {
                if let Some((text, at)) = angle.take() {
                    let t = text.trim().to_string();
                    if !at && !t.is_empty() {
                        inserts.push((i, t));
                    }
                }
                had_angle = true;
            } else {
                if c == '@' {
                    *at = true;
                }
                if !c.is_whitespace() {
                    text.push(c);
                }
            }
            continue;
        }
        match c {
            '"' => {
                in_quote = true;
                bare_words += 2; // a quoted phrase: not a bare address
            }
            '(' => depth = 1,
            '<' => angle = Some((String::new(), false)),
            ':' => {
                // A group's display name.
                bare.clear();
                bare_end = None;
                bare_words = 0;
            }
            ',' | ';' => flush(
                &mut bare,
                &mut bare_end,
                &mut bare_words,
                &mut had_angle,
                &mut inserts,
            ),
            c if c.is_whitespace() => prev_space = true,
            c => {
                if prev_space {
                    bare_words += 1;
                }
                prev_space = false;
                bare.push(c);
                bare_end = Some(i + c.len_utf8());
            }
        }
        if c.is_whitespace() || c == ',' || c == ';' || c == ':' {
            prev_space = true;
        }
    }
    flush(
        &mut bare,
        &mut bare_end,
        &mut bare_words,
        &mut had_angle,
        &mut inserts,
    );
    let mut out = header.to_string();
    inserts.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (pos, addr) in inserts {
        let q = qualify(&addr);
        if let Some(suffix) = q.strip_prefix(addr.as_str()) {
            if !suffix.is_empty() {
                out.insert_str(pos, suffix);
            }
        }
    }
    out
}

/// One logical header: its lines (first + continuations).
struct Header {
    name: String,
    lines: Vec<u8>,
}

impl Header {
    fn value(&self) -> String {
        let text = String::from_utf8_lossy(&self.lines);
        let unfolded: String = text.split('\n').collect::<Vec<_>>().join(" ");
        match unfolded.split_once(':') {
            Some((_, v)) => v.trim().to_string(),
            None => String::new(),
        }
    }
}

/// Split the content into its header block and the body (which keeps its
/// leading empty line, if any).
fn split_header(content: &[u8]) -> (Vec<Header>, &[u8]) {
    let mut headers: Vec<Header> = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let end = content[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|p| pos + p + 1)
            .unwrap_or(content.len());
        let line = &content[pos..end];
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        if bare.is_empty() {
            break;
        }
        if bare[0] == b' ' || bare[0] == b'\t' {
            match headers.last_mut() {
                Some(h) => h.lines.extend_from_slice(line),
                None => break,
            }
        } else {
            let name_end = bare.iter().position(|b| *b == b':');
            let valid = name_end.is_some_and(|n| {
                n > 0 && bare[..n].iter().all(|b| b.is_ascii_graphic() && *b != b':')
            });
            let Some(n) = name_end.filter(|_| valid) else {
                break;
            };
            headers.push(Header {
                name: String::from_utf8_lossy(&bare[..n]).to_ascii_lowercase(),
                lines: line.to_vec(),
            });
        }
        pos = end;
    }
    (headers, &content[pos..])
}

/// Recipients named in the `To:`, `Cc:` and `Bcc:` headers of `content`
/// (what `sendmail -t` extracts).
pub fn header_recipients(content: &[u8]) -> Vec<String> {
    let (headers, _) = split_header(content);
    headers
        .iter()
        .filter(|h| matches!(h.name.as_str(), "to" | "cc" | "bcc"))
        .flat_map(|h| parse_address_list(&h.value()))
        .collect()
}

/// Build the queued content and recipient list of a local submission.
pub(crate) fn clean_submission(sub: &Submission, p: &CleanupParams<'_>) -> CleanMessage {
    let date = mail_date(sub.time);
    let mut out = format!(
        "Received: by {} ({MAIL_NAME}, from userid {})\n\tid {}; {date}\n",
        p.myhostname, sub.uid, p.queue_id
    )
    .into_bytes();
    let (headers, body) = split_header(&sub.content);
    let mut recipients: Vec<String> = Vec::new();
    let add = |r: String, list: &mut Vec<String>| {
        if !list.contains(&r) {
            list.push(r);
        }
    };
    for r in &sub.recipients {
        add(r.clone(), &mut recipients);
    }
    let (mut message_id, mut has_date, mut has_from) = (None, false, false);
    for h in &headers {
        match h.name.as_str() {
            "to" | "cc" | "bcc" if sub.extract_recipients => {
                for a in parse_address_list(&h.value()) {
                    add(a, &mut recipients);
                }
            }
            _ => {}
        }
        match h.name.as_str() {
            "bcc" => continue,
            "message-id" => message_id = Some(h.value()),
            "date" => has_date = true,
            "from" => has_from = true,
            _ => {}
        }
        let text = std::str::from_utf8(&h.lines).ok();
        if let (true, Some(text)) = (ADDRESS_HEADERS.contains(&h.name.as_str()), text) {
            out.extend_from_slice(qualify_header(text, p.qualify).as_bytes());
        } else {
            out.extend_from_slice(&h.lines);
        }
        if !h.lines.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    let message_id = match message_id {
        Some(id) => id,
        None => {
            let stamp = DateTime::<Local>::from(sub.time).format("%Y%m%d%H%M%S");
            let id = format!("<{stamp}.{}@{}>", p.queue_id, p.myhostname);
            out.extend_from_slice(format!("Message-Id: {id}\n").as_bytes());
            id
        }
    };
    if !has_date {
        out.extend_from_slice(format!("Date: {date}\n").as_bytes());
    }
    if !has_from {
        let sender = if sub.sender.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            (p.qualify)(&sub.sender)
        };
        let line = match sub.full_name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) if !sub.sender.is_empty() => {
                format!("From: {} <{sender}>\n", quote_phrase(name))
            }
            _ => format!("From: {sender}\n"),
        };
        out.extend_from_slice(line.as_bytes());
    }
    // The empty line between header and body (added when the submission
    // had none).
    if !body.starts_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(body);
    CleanMessage {
        content: out,
        recipients,
        message_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn sub(content: &str, extract: bool, rcpts: &[&str]) -> Submission {
        Submission {
            uid: 1000,
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            sender: "alice".into(),
            full_name: None,
            extract_recipients: extract,
            recipients: rcpts.iter().map(|r| r.to_string()).collect(),
            content: content.as_bytes().to_vec(),
        }
    }

    fn clean(s: &Submission) -> CleanMessage {
        let q = |a: &str| {
            if a.contains('@') {
                a.to_string()
            } else {
                format!("{a}@spec.test")
            }
        };
        clean_submission(
            s,
            &CleanupParams {
                myhostname: "mx.spec.test",
                qualify: &q,
                queue_id: "5562DBE20B",
            },
        )
    }

    #[test]
    fn extracted_header_recipients() {
        let got = header_recipients(b"To: a@x, B <b@y>\nSubject: s\nCC: c\nbcc: d\n\nTo: body@z\n");
        assert_eq!(got, vec!["a@x", "b@y", "c", "d"]);
        assert!(header_recipients(b"Subject: none\n\n").is_empty());
    }

    #[test]
    fn address_lists() {
        let cases: &[(&str, &[&str])] = &[
            ("bob", &["bob"]),
            (
                "bob@x.example, carol@y.example",
                &["bob@x.example", "carol@y.example"],
            ),
            ("Bob Smith <bob@x.example>", &["bob@x.example"]),
            (
                "\"Smith, Bob\" <bob@x.example>, c@y",
                &["bob@x.example", "c@y"],
            ),
            ("bob@x.example (Bob, the builder)", &["bob@x.example"]),
            ("friends: a@x, b@y;, c@z", &["a@x", "b@y", "c@z"]),
            ("undisclosed-recipients:;", &[]),
            ("<\"odd user\"@x.example>", &["\"odd user\"@x.example"]),
            ("", &[]),
        ];
        for (value, want) in cases {
            assert_eq!(parse_address_list(value), *want, "{value}");
        }
    }

    #[test]
    fn adds_postfix_headers_and_strips_bcc() {
        let s = sub(
            "To: bob, Carol <carol@far.example>\nBcc: secret@spec.test\n  , more\nSubject: hi\n\nbody\nBcc: in body stays\n",
            true,
            &["extra"],
        );
        let m = clean(&s);
        let date = mail_date(s.time);
        let stamp = DateTime::<Local>::from(s.time).format("%Y%m%d%H%M%S");
        let want = format!(
            "Received: by mx.spec.test (Postfix, from userid 1000)\n\tid 5562DBE20B; {date}\n\
             To: bob@spec.test, Carol <carol@far.example>\nSubject: hi\n\
             Message-Id: <{stamp}.5562DBE20B@mx.spec.test>\nDate: {date}\nFrom: alice@spec.test\n\
             \nbody\nBcc: in body stays\n"
        );
        assert_eq!(String::from_utf8(m.content).unwrap(), want);
        assert_eq!(
            m.recipients,
            vec![
                "extra",
                "bob",
                "carol@far.example",
                "secret@spec.test",
                "more"
            ]
        );
        assert_eq!(m.message_id, format!("<{stamp}.5562DBE20B@mx.spec.test>"));
    }

    #[test]
    fn keeps_existing_headers_and_full_name() {
        let mut s = sub(
            "From: me@x.example\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\nTo: t@x\n\nhi\n",
            false,
            &["r@x"],
        );
        let m = clean(&s);
        let text = String::from_utf8(m.content).unwrap();
        assert!(text.ends_with("From: me@x.example\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\nTo: t@x\n\nhi\n"));
        assert_eq!(m.message_id, "<a@b>");
        assert_eq!(m.recipients, vec!["r@x"]);

        s.content = b"Subject: x\n\nhi\n".to_vec();
        s.full_name = Some("Alice Liddell".into());
        let text = String::from_utf8(clean(&s).content).unwrap();
        assert!(
            text.contains("\nFrom: Alice Liddell <alice@spec.test>\n\nhi\n"),
            "{text}"
        );
        s.full_name = Some("Liddell, Alice".into());
        let text = String::from_utf8(clean(&s).content).unwrap();
        assert!(
            text.contains("\nFrom: \"Liddell, Alice\" <alice@spec.test>\n"),
            "{text}"
        );
    }

    #[test]
    fn body_without_header_and_empty_message() {
        let s = sub("just text\nmore\n", false, &["r@x"]);
        let text = String::from_utf8(clean(&s).content).unwrap();
        assert!(
            text.ends_with("From: alice@spec.test\n\njust text\nmore\n"),
            "{text}"
        );
        let s = sub("", false, &["r@x"]);
        let text = String::from_utf8(clean(&s).content).unwrap();
        assert!(text.ends_with("From: alice@spec.test\n\n"), "{text}");
    }

    #[test]
    fn header_addresses_are_qualified() {
        let q = |a: &str| format!("{a}@mx.spec.test");
        let cases = [
            ("Cc: carol\n", "Cc: carol@mx.spec.test\n"),
            (
                "To: bob@spec.test, carol\n",
                "To: bob@spec.test, carol@mx.spec.test\n",
            ),
            (
                "To: Carol Smith <carol>\n",
                "To: Carol Smith <carol@mx.spec.test>\n",
            ),
            (
                "To: \"Smith, C\" <carol>, dave\n",
                "To: \"Smith, C\" <carol@mx.spec.test>, dave@mx.spec.test\n",
            ),
            (
                "To: carol (Carol Smith)\n",
                "To: carol@mx.spec.test (Carol Smith)\n",
            ),
            (
                "To: undisclosed-recipients:;\n",
                "To: undisclosed-recipients:;\n",
            ),
            (
                "To: team: carol, bob@x.example;\n",
                "To: team: carol@mx.spec.test, bob@x.example;\n",
            ),
            ("From: <>\n", "From: <>\n"),
            ("To: a,\n\tb\n", "To: a@mx.spec.test,\n\tb@mx.spec.test\n"),
        ];
        for (input, want) in cases {
            assert_eq!(qualify_header(input, &q), want, "{input:?}");
        }
    }
}
