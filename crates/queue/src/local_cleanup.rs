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

use crate::mail_date::mail_date;
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
        if let (true, Some(text)) = (gatepost_rewrite::is_address_header(&h.name), text) {
            out.extend_from_slice(gatepost_rewrite::qualify_header(text, p.qualify).as_bytes());
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
}
