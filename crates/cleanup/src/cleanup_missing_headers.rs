//! Headers cleanup adds at the end of the header when the message has
//! none (Postfix `cleanup_header_done_callback`), only in the "local"
//! header rewrite context or with `always_add_missing_headers = yes`:
//! `Message-Id: <YYYYMMDDhhmmss.QUEUEID@$myhostname>`, `Date:` (the
//! arrival time), `From:` (the canonical envelope sender, `MAILER-DAEMON`
//! for `<>`, with the full name of a local submitter). Parameters
//! honoured: `myhostname`, `always_add_missing_headers`.

use chrono::{DateTime, Local};

use crate::cleanup_envelope::clean_sender;
use crate::cleanup_state::CleanupContext;
use crate::mail_date::mail_date;

/// Which of the headers cleanup may add the message already has.
#[derive(Debug, Default)]
pub(crate) struct SeenHeaders {
    pub message_id: Option<String>,
    pub date: bool,
    pub from: bool,
}

/// The lines to add (each ended by `\n`); records an added Message-Id in
/// `seen`.
pub(crate) fn missing_headers(ctx: &CleanupContext<'_>, seen: &mut SeenHeaders) -> String {
    let mut out = String::new();
    if !ctx.adds_missing_headers() {
        return out;
    }
    if seen.message_id.is_none() {
        let id = message_id(ctx.arrival, ctx.queue_id, ctx.myhostname);
        out.push_str(&format!("Message-Id: {id}\n"));
        seen.message_id = Some(id);
    }
    if !seen.date {
        out.push_str(&format!("Date: {}\n", mail_date(ctx.arrival)));
    }
    if !seen.from {
        out.push_str(&from_header(ctx));
    }
    out
}

/// The `Message-Id:` value cleanup makes:
/// `<YYYYMMDDhhmmss.QUEUEID@$myhostname>` (arrival time, local).
pub fn message_id(arrival: impl Into<DateTime<Local>>, queue_id: &str, myhostname: &str) -> String {
    let arrival: DateTime<Local> = arrival.into();
    format!(
        "<{}.{queue_id}@{myhostname}>",
        arrival.format("%Y%m%d%H%M%S")
    )
}

fn from_header(ctx: &CleanupContext<'_>) -> String {
    if ctx.sender.is_empty() {
        return "From: MAILER-DAEMON\n".to_string();
    }
    // A lookup failure defers the message when the envelope is cleaned.
    let cleaned = clean_sender(ctx.rewriter, ctx.sender)
        .unwrap_or_else(|_| ctx.rewriter.canonicalize(ctx.sender));
    let sender = gatepost_rewrite::quote_address(&cleaned);
    match ctx.full_name() {
        Some(name) => format!("From: {} <{sender}>\n", quote_phrase(name)),
        None => format!("From: {sender}\n"),
    }
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
