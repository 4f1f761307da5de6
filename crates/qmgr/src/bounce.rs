//! Non-delivery notifications and delay warnings (bounce(8),
//! docs/queue.md#bounces-and-delay-warnings): an RFC 3464
//! `multipart/report` with Postfix's wording (text/plain notification,
//! message/delivery-status report, the original as message/rfc822 up to
//! `bounce_size_limit`, or its headers for `RET=HDRS`), enqueued through the
//! normal `MessageWriter` path.
//!
//! Who gets it: the original sender, from `<>`; a failed bounce (sender
//! `<>`) goes to `2bounce_notice_recipient` as a "Postmaster Copy" from
//! `double_bounce_sender`; a failed postmaster notice (sender is the
//! double-bounce address) is discarded with a warning. Recipients whose DSN
//! `NOTIFY=` excludes `FAILURE` are left out. `mail_name` names the
//! `Received:` and the `X-NAME-Queue-ID`, `X-NAME-Sender`, `Diagnostic-Code:
//! X-NAME` fields.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use gatepost_cleanup::{local_received_header, mail_date, message_id};
use gatepost_queue::manager::{blocking, read_content, Reason};
use gatepost_queue::{Envelope, EnvelopeRecipient, Queue, QueueError, QueueId};

use crate::line_wrap::line_wrap;
use crate::settings::QmgrSettings;

const WRAP_WIDTH: usize = 79;
const WRAP_INDENT: usize = 4;

/// Which notice to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoticeKind {
    /// To the original sender.
    Sender,
    /// Postmaster copy of a failed bounce (double bounce).
    Postmaster,
}

/// The inputs of one notice.
pub(crate) struct Notice<'a> {
    pub kind: NoticeKind,
    pub settings: &'a QmgrSettings,
    pub orig_id: &'a QueueId,
    pub envelope: &'a Envelope,
    /// Failed recipients with their final reason.
    pub failed: &'a [Reason],
    /// The original message, if readable.
    pub content: Option<&'a [u8]>,
    pub new_id: &'a QueueId,
    /// Header `To:` address.
    pub to: &'a str,
    pub now: SystemTime,
    /// Set for a delay warning ("Delayed Mail (still being retried)").
    pub delay: Option<DelayInfo>,
}

/// What a delay warning says about timing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DelayInfo {
    /// `$delay_warning_time_hours`.
    pub warning_hours: u64,
    /// `$maximal_queue_lifetime_days`.
    pub lifetime_days: u64,
    /// `Will-Retry-Until:` (arrival + lifetime).
    pub retry_until: SystemTime,
}

/// Split an smtp client's text `host H[A] said: REPLY (in reply to X command)`
/// into the remote MTA name and the reply, for `Remote-MTA:` and
/// `Diagnostic-Code: smtp; ...`.
fn remote_reply(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("host ")?;
    let (host_addr, reply) = rest.split_once(" said: ")?;
    let host = host_addr.split_once('[').map(|(h, _)| h)?;
    let reply = match reply.rfind(" (in reply to ") {
        Some(pos) if reply.ends_with(" command)") => &reply[..pos],
        _ => reply,
    };
    Some((host, reply))
}

fn push_wrapped(out: &mut String, line: &str) {
    for l in line_wrap(line, WRAP_WIDTH, WRAP_INDENT) {
        out.push_str(&l);
        out.push('\n');
    }
}

fn delay_boilerplate(myhostname: &str, d: &DelayInfo) -> String {
    format!(
        "This is the mail system at host {myhostname}.\n\
         \n\
         ####################################################################\n\
         # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n\
         ####################################################################\n\
         \n\
         Your message could not be delivered for more than {} hour(s).\n\
         It will be retried until it is {} day(s) old.\n\
         \n\
         For further assistance, please send mail to postmaster.\n\
         \n\
         If you do so, please include this problem report. You can\n\
         delete your own text from the attached returned message.\n\
         \n\
         \x20                  The mail system\n",
        d.warning_hours, d.lifetime_days
    )
}

fn failure_boilerplate(myhostname: &str) -> String {
    format!(
        "This is the mail system at host {myhostname}.\n\
         \n\
         I'm sorry to have to inform you that your message could not\n\
         be delivered to one or more recipients. It's attached below.\n\
         \n\
         For further assistance, please send mail to postmaster.\n\
         \n\
         If you do so, please include this problem report. You can\n\
         delete your own text from the attached returned message.\n\
         \n\
         \x20                  The mail system\n"
    )
}

/// The part of the original included in the notice: everything, or the
/// header only, limited to `limit` bytes counted as Postfix does (each line
/// costs its length + 2; 0 = no limit).
fn original_part(content: &[u8], headers_only: bool, limit: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut used: u64 = 0;
    for line in content.split_inclusive(|b| *b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if headers_only && body.is_empty() {
            break;
        }
        if limit != 0 && used >= limit {
            break;
        }
        used += body.len() as u64 + 2;
        out.extend_from_slice(body);
        out.push(b'\n');
    }
    out
}

impl Notice<'_> {
    fn recipient(&self, r: &Reason) -> Option<&EnvelopeRecipient> {
        self.envelope.recipients.get(r.recipient)
    }

    /// Render the whole notice (header and body, `\n` line ends).
    pub fn render(&self) -> Vec<u8> {
        let s = self.settings;
        let epoch = self
            .now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let boundary = format!("{}.{}/{}", self.orig_id, epoch, s.myhostname);
        let headers_only = self.delay.is_some()
            || self.kind == NoticeKind::Sender
                && self
                    .envelope
                    .ret
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case("HDRS"));
        // The returned message starts with its Return-Path, as Postfix's.
        let original = self.content.map(|c| {
            let mut part = format!("Return-Path: <{}>\n", self.envelope.sender).into_bytes();
            part.extend_from_slice(&original_part(c, headers_only, s.bounce_size_limit));
            part
        });
        let date = mail_date(self.now);

        let mut m = local_received_header(
            &s.myhostname,
            &s.mail_name,
            None,
            self.new_id.as_str(),
            self.now,
        );
        m.push_str(&format!("Date: {date}\n"));
        m.push_str(&format!(
            "From: Mail Delivery System <MAILER-DAEMON@{}>\n",
            s.myorigin
        ));
        m.push_str(match (self.kind, self.delay.is_some()) {
            (NoticeKind::Sender, false) => "Subject: Undelivered Mail Returned to Sender\n",
            (NoticeKind::Postmaster, false) => "Subject: Postmaster Copy: Undelivered Mail\n",
            (NoticeKind::Sender, true) => "Subject: Delayed Mail (still being retried)\n",
            (NoticeKind::Postmaster, true) => "Subject: Postmaster Warning: Delayed Mail\n",
        });
        m.push_str(&format!("To: {}\n", self.to));
        m.push_str("Auto-Submitted: auto-replied\n");
        m.push_str("MIME-Version: 1.0\n");
        m.push_str("Content-Type: multipart/report; report-type=delivery-status;\n");
        m.push_str(&format!("\tboundary=\"{boundary}\"\n"));
        // Postfix 3.7 (smtputf8_enable = yes) always labels the report 8bit.
        m.push_str("Content-Transfer-Encoding: 8bit\n");
        m.push_str(&format!(
            "Message-Id: {}\n",
            message_id(self.now, self.new_id.as_str(), &s.myhostname)
        ));
        m.push_str("\nThis is a MIME-encapsulated message.\n");

        // Part 1: human-readable notification.
        m.push_str(&format!("\n--{boundary}\n"));
        m.push_str("Content-Description: Notification\n");
        m.push_str("Content-Type: text/plain; charset=utf-8\n");
        m.push_str("Content-Transfer-Encoding: 8bit\n\n");
        if self.kind == NoticeKind::Sender {
            match &self.delay {
                Some(d) => m.push_str(&delay_boilerplate(&s.myhostname, d)),
                None => m.push_str(&failure_boilerplate(&s.myhostname)),
            }
        }
        for r in self.failed {
            let Some(rcpt) = self.recipient(r) else {
                continue;
            };
            let mut line = format!("<{}>", rcpt.address);
            if !rcpt.original.is_empty() && rcpt.original != rcpt.address {
                line.push_str(&format!(" (expanded from <{}>)", rcpt.original));
            }
            line.push_str(&format!(": {}", r.text));
            m.push('\n');
            push_wrapped(&mut m, &line);
        }

        // Part 2: machine-readable report.
        m.push_str(&format!("\n--{boundary}\n"));
        m.push_str("Content-Description: Delivery report\n");
        m.push_str("Content-Type: message/delivery-status\n\n");
        m.push_str(&format!("Reporting-MTA: dns; {}\n", s.myhostname));
        if let Some(envid) = &self.envelope.envid {
            m.push_str(&format!("Original-Envelope-Id: {envid}\n"));
        }
        m.push_str(&format!("X-{}-Queue-ID: {}\n", s.mail_name, self.orig_id));
        if !self.envelope.sender.is_empty() {
            m.push_str(&format!(
                "X-{}-Sender: rfc822; {}\n",
                s.mail_name, self.envelope.sender
            ));
        }
        m.push_str(&format!(
            "Arrival-Date: {}\n",
            mail_date(self.envelope.arrival)
        ));
        for r in self.failed {
            let Some(rcpt) = self.recipient(r) else {
                continue;
            };
            m.push_str(&format!("\nFinal-Recipient: rfc822; {}\n", rcpt.address));
            match &rcpt.orcpt {
                Some(orcpt) => m.push_str(&format!("Original-Recipient: {orcpt}\n")),
                None if !rcpt.original.is_empty() => {
                    m.push_str(&format!("Original-Recipient: rfc822;{}\n", rcpt.original))
                }
                None => {}
            }
            m.push_str(if self.delay.is_some() {
                "Action: delayed\n"
            } else {
                "Action: failed\n"
            });
            m.push_str(&format!("Status: {}\n", r.dsn));
            match remote_reply(&r.text) {
                Some((host, reply)) => {
                    m.push_str(&format!("Remote-MTA: dns; {host}\n"));
                    push_wrapped(&mut m, &format!("Diagnostic-Code: smtp; {reply}"));
                }
                None => push_wrapped(
                    &mut m,
                    &format!("Diagnostic-Code: X-{}; {}", s.mail_name, r.text),
                ),
            }
            if let Some(d) = &self.delay {
                m.push_str(&format!("Will-Retry-Until: {}\n", mail_date(d.retry_until)));
            }
        }

        // Part 3: the original message (or its header).
        m.push_str(&format!("\n--{boundary}\n"));
        if headers_only {
            m.push_str("Content-Description: Undelivered Message Headers\n");
            m.push_str("Content-Type: text/rfc822-headers\n");
        } else {
            m.push_str("Content-Description: Undelivered Message\n");
            m.push_str("Content-Type: message/rfc822\n");
        }
        m.push_str("Content-Transfer-Encoding: 8bit\n");
        m.push('\n');
        let mut bytes = m.into_bytes();
        match &original {
            Some(o) => bytes.extend_from_slice(o),
            None => bytes.extend_from_slice(b"\t--- Undelivered message unavailable ---\n"),
        }
        bytes.extend_from_slice(format!("\n--{boundary}--\n").as_bytes());
        bytes
    }
}

/// Send the non-delivery notice for the `failed` recipients of message
/// `orig_id` (file at `path`), logging as Postfix's bounce daemon does.
/// Returns the new queue id, or `None` when no notice is due.
pub(crate) async fn send_non_delivery(
    queue: &Arc<Queue>,
    settings: &QmgrSettings,
    orig_id: &QueueId,
    envelope: &Envelope,
    path: &std::path::Path,
    failed: &[Reason],
) -> Result<Option<QueueId>, QueueError> {
    let failed: Vec<Reason> = failed
        .iter()
        .filter(|r| {
            envelope
                .recipients
                .get(r.recipient)
                .is_some_and(|rc| rc.wants_failure_notice())
        })
        .cloned()
        .collect();
    if failed.is_empty() {
        return Ok(None);
    }
    if settings.is_double_bounce_sender(&envelope.sender) {
        gatepost_log::warning(
            "bounce",
            format!("{orig_id}: undeliverable postmaster notification discarded"),
        );
        return Ok(None);
    }
    let (kind, to, from) = if envelope.sender.is_empty() {
        (
            NoticeKind::Postmaster,
            settings.qualify(&settings.double_bounce_recipient),
            settings.qualify(&settings.double_bounce_sender),
        )
    } else {
        (NoticeKind::Sender, envelope.sender.clone(), String::new())
    };
    let content = original_content(path, orig_id).await;
    let mut writer = queue.new_message()?;
    let new_id = writer.id().clone();
    let now = SystemTime::now();
    let notice = Notice {
        kind,
        settings,
        orig_id,
        envelope,
        failed: &failed,
        content: content.as_deref(),
        new_id: &new_id,
        to: &to,
        now,
        delay: None,
    };
    let text = notice.render();
    writer.write_content(&text)?;
    let bounce_env = Envelope {
        sender: from,
        recipients: vec![EnvelopeRecipient::new(&to)],
        arrival: now,
        client: "local".into(),
        ret: None,
        envid: None,
        filter: None,
    };
    gatepost_log::info(
        "cleanup",
        format!(
            "{new_id}: message-id={}",
            message_id(now, new_id.as_str(), &settings.myhostname)
        ),
    );
    let new_id = writer.commit(&bounce_env).await?;
    let who = match kind {
        NoticeKind::Sender => "sender",
        NoticeKind::Postmaster => "postmaster",
    };
    gatepost_log::info(
        "bounce",
        format!("{orig_id}: {who} non-delivery notification: {new_id}"),
    );
    Ok(Some(new_id))
}

/// Whether recipient `r` asked for delay notices (RFC 3461 NOTIFY: absent
/// means the default, FAILURE,DELAY).
fn wants_delay_notice(r: &EnvelopeRecipient) -> bool {
    match &r.notify {
        None => true,
        Some(n) => n.split(',').any(|w| w.trim().eq_ignore_ascii_case("DELAY")),
    }
}

/// Send the one "Delayed Mail (still being retried)" notice for the
/// still-pending recipients `delayed` (their last defer reasons). Never
/// for the null sender or the double-bounce sender. Returns the new queue
/// id, or `None` when no notice is due.
pub(crate) async fn send_delay_warning(
    queue: &Arc<Queue>,
    settings: &QmgrSettings,
    orig_id: &QueueId,
    envelope: &Envelope,
    path: &std::path::Path,
    delayed: &[Reason],
) -> Result<Option<QueueId>, QueueError> {
    if envelope.sender.is_empty() || settings.is_double_bounce_sender(&envelope.sender) {
        return Ok(None);
    }
    let delayed: Vec<Reason> = delayed
        .iter()
        .filter(|r| {
            envelope
                .recipients
                .get(r.recipient)
                .is_some_and(wants_delay_notice)
        })
        .cloned()
        .collect();
    if delayed.is_empty() {
        return Ok(None);
    }
    let content = original_content(path, orig_id).await;
    let mut writer = queue.new_message()?;
    let new_id = writer.id().clone();
    let now = SystemTime::now();
    let notice = Notice {
        kind: NoticeKind::Sender,
        settings,
        orig_id,
        envelope,
        failed: &delayed,
        content: content.as_deref(),
        new_id: &new_id,
        to: &envelope.sender,
        now,
        delay: Some(DelayInfo {
            warning_hours: settings.delay_warning_time.as_secs() / 3600,
            lifetime_days: settings.maximal_queue_lifetime.as_secs() / 86_400,
            retry_until: envelope.arrival + settings.maximal_queue_lifetime,
        }),
    };
    writer.write_content(&notice.render())?;
    let env = Envelope {
        sender: String::new(),
        recipients: vec![EnvelopeRecipient::new(&envelope.sender)],
        arrival: now,
        client: "local".into(),
        ret: None,
        envid: None,
        filter: None,
    };
    gatepost_log::info(
        "cleanup",
        format!(
            "{new_id}: message-id={}",
            message_id(now, new_id.as_str(), &settings.myhostname)
        ),
    );
    let new_id = writer.commit(&env).await?;
    gatepost_log::info(
        "bounce",
        format!("{orig_id}: sender delay notification: {new_id}"),
    );
    Ok(Some(new_id))
}

/// The original message's content, when it can still be read (a notice is
/// sent without it otherwise).
async fn original_content(path: &std::path::Path, orig_id: &QueueId) -> Option<Vec<u8>> {
    let path = path.to_path_buf();
    let id = orig_id.to_string();
    blocking(&path.clone(), move || read_content(&path, &id))
        .await
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn delay_warning_layout() {
        let s = settings();
        let e = env();
        let delayed = [reason(
            1,
            "4.4.1",
            "connect to mx.far.example[192.0.2.1]:25: Connection refused",
        )];
        let content = b"Subject: hi\nFrom: a@ext.example\n\nsecret body\n";
        let (orig, new) = (QueueId("5562DBE20B".into()), QueueId("5219CBE17E".into()));
        let until = UNIX_EPOCH + Duration::from_secs(1_700_432_000);
        let n = Notice {
            kind: NoticeKind::Sender,
            settings: &s,
            orig_id: &orig,
            envelope: &e,
            failed: &delayed,
            content: Some(content),
            new_id: &new,
            to: "a@ext.example",
            now: UNIX_EPOCH + Duration::from_secs(1_700_014_400),
            delay: Some(DelayInfo {
                warning_hours: 4,
                lifetime_days: 5,
                retry_until: until,
            }),
        };
        let text = String::from_utf8(n.render()).unwrap();
        for want in [
            "Subject: Delayed Mail (still being retried)\nTo: a@ext.example\nAuto-Submitted: auto-replied\n".to_string(),
            "This is the mail system at host mx.spec.test.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n\nYour message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n\nFor further assistance, please send mail to postmaster.\n".to_string(),
            "\n<x@far.example>: connect to mx.far.example[192.0.2.1]:25: Connection refused\n".to_string(),
            format!("\nFinal-Recipient: rfc822; x@far.example\nOriginal-Recipient: rfc822;x@far.example\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; connect to mx.far.example[192.0.2.1]:25: Connection\n    refused\nWill-Retry-Until: {}\n", mail_date(until)),
            "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <a@ext.example>\nSubject: hi\nFrom: a@ext.example\n\n--".to_string(),
        ] {
            assert!(text.contains(&want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("secret body"));
        assert!(!text.contains("Action: failed"));
    }

    fn env() -> Envelope {
        let mut r0 = EnvelopeRecipient::new("root@spec.test");
        r0.original = "bob@valias.test".into();
        Envelope {
            sender: "a@ext.example".into(),
            recipients: vec![r0, EnvelopeRecipient::new("x@far.example")],
            arrival: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            client: "localhost[127.0.0.1]".into(),
            ret: None,
            envid: Some("ENV-1".into()),
            filter: None,
        }
    }

    fn reason(i: usize, dsn: &str, text: &str) -> Reason {
        Reason {
            recipient: i,
            dsn: dsn.into(),
            agent: "local".into(),
            relay: "local".into(),
            text: text.into(),
        }
    }

    fn settings() -> QmgrSettings {
        QmgrSettings {
            myhostname: "mx.spec.test".into(),
            myorigin: "spec.test".into(),
            ..QmgrSettings::default()
        }
    }

    #[test]
    fn sender_notice_layout() {
        let s = settings();
        let e = env();
        let failed = [
            reason(0, "5.1.1", "unknown user: \"root\""),
            reason(
                1,
                "5.1.1",
                "host mx.far.example[192.0.2.1] said: 550 5.1.1 <x@far.example>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)",
            ),
        ];
        let content = b"Subject: hi\nFrom: a@ext.example\n\nbody line\n";
        let orig = QueueId("5562DBE20B".into());
        let new = QueueId("5219CBE17E".into());
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let n = Notice {
            kind: NoticeKind::Sender,
            settings: &s,
            orig_id: &orig,
            envelope: &e,
            failed: &failed,
            content: Some(content),
            new_id: &new,
            to: "a@ext.example",
            now,
            delay: None,
        };
        let text = String::from_utf8(n.render()).unwrap();
        let b = "5562DBE20B.1700000100/mx.spec.test";
        for want in [
            "From: Mail Delivery System <MAILER-DAEMON@spec.test>\nSubject: Undelivered Mail Returned to Sender\nTo: a@ext.example\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"5562DBE20B.1700000100/mx.spec.test\"\nContent-Transfer-Encoding: 8bit\n",
            &format!("\n\nThis is a MIME-encapsulated message.\n\n--{b}\nContent-Description: Notification\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nThis is the mail system at host mx.spec.test.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\nFor further assistance, please send mail to postmaster.\n\nIf you do so, please include this problem report. You can\ndelete your own text from the attached returned message.\n\n                   The mail system\n\n<root@spec.test> (expanded from <bob@valias.test>): unknown user: \"root\"\n\n<x@far.example>: host mx.far.example[192.0.2.1] said: 550 5.1.1\n"),
            &format!("\n--{b}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.spec.test\nOriginal-Envelope-Id: ENV-1\nX-Postfix-Queue-ID: 5562DBE20B\nX-Postfix-Sender: rfc822; a@ext.example\nArrival-Date: "),
            "\n\nFinal-Recipient: rfc822; root@spec.test\nOriginal-Recipient: rfc822;bob@valias.test\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Postfix; unknown user: \"root\"\n",
            "\nFinal-Recipient: rfc822; x@far.example\nOriginal-Recipient: rfc822;x@far.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.far.example\nDiagnostic-Code: smtp; 550 5.1.1 <x@far.example>: Recipient address rejected:\n    User unknown in virtual mailbox table\n",
            &format!("\n--{b}\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <a@ext.example>\nSubject: hi\nFrom: a@ext.example\n\nbody line\n\n--{b}--\n"),
            "Message-Id: <",
            ".5219CBE17E@mx.spec.test>\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(text.starts_with("Received: by mx.spec.test (Postfix)\n\tid 5219CBE17E; "));
    }

    #[test]
    fn mail_name_comes_from_the_configuration() {
        let s = QmgrSettings {
            mail_name: "Gatepost".into(),
            ..settings()
        };
        let e = env();
        let failed = [reason(0, "5.1.1", "unknown user: \"root\"")];
        let (orig, new) = (QueueId("5562DBE20B".into()), QueueId("5219CBE17E".into()));
        let n = Notice {
            kind: NoticeKind::Sender,
            settings: &s,
            orig_id: &orig,
            envelope: &e,
            failed: &failed,
            content: None,
            new_id: &new,
            to: "a@ext.example",
            now: UNIX_EPOCH + Duration::from_secs(1_700_000_100),
            delay: None,
        };
        let text = String::from_utf8(n.render()).unwrap();
        assert!(
            text.starts_with("Received: by mx.spec.test (Gatepost)\n"),
            "{text}"
        );
        for want in [
            "\nX-Gatepost-Queue-ID: 5562DBE20B\n",
            "\nX-Gatepost-Sender: rfc822; a@ext.example\n",
            "\nDiagnostic-Code: X-Gatepost; unknown user",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn headers_only_and_size_limit() {
        let mut s = settings();
        let mut hdrs = env();
        hdrs.ret = Some("HDRS".into());
        let full = env();
        let failed = [reason(1, "5.0.0", "nope")];
        let content = b"Subject: hi\n\nsecret body\n";
        let (orig, new) = (QueueId("ABCDE1".into()), QueueId("ABCDE2".into()));
        let render = |s: &QmgrSettings, e: &Envelope| {
            let n = Notice {
                kind: NoticeKind::Sender,
                settings: s,
                orig_id: &orig,
                envelope: e,
                failed: &failed,
                content: Some(content),
                new_id: &new,
                to: "a@ext.example",
                now: SystemTime::now(),
                delay: None,
            };
            String::from_utf8(n.render()).unwrap()
        };
        let text = render(&s, &hdrs);
        assert!(text.contains("Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <a@ext.example>\nSubject: hi\n\n--"));
        assert!(!text.contains("secret body"));
        assert!(render(&s, &full).contains("secret body"));

        // "Subject: hi" (11 + 2 bytes) uses up a 10-byte budget.
        s.bounce_size_limit = 10;
        let text = render(&s, &full);
        assert!(text.contains("message/rfc822\nContent-Transfer-Encoding: 8bit\n\nReturn-Path: <a@ext.example>\nSubject: hi\n\n--"));
    }

    #[test]
    fn postmaster_copy_has_no_boilerplate() {
        let s = settings();
        let mut e = env();
        e.sender.clear();
        let failed = [reason(1, "5.0.0", "nope")];
        let (orig, new) = (QueueId("ABCDE1".into()), QueueId("ABCDE2".into()));
        let n = Notice {
            kind: NoticeKind::Postmaster,
            settings: &s,
            orig_id: &orig,
            envelope: &e,
            failed: &failed,
            content: None,
            new_id: &new,
            to: "postmaster@spec.test",
            now: SystemTime::now(),
            delay: None,
        };
        let text = String::from_utf8(n.render()).unwrap();
        assert!(
            text.contains("Subject: Postmaster Copy: Undelivered Mail\nTo: postmaster@spec.test\n")
        );
        assert!(text.contains(
            "charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\n<x@far.example>: nope\n"
        ));
        assert!(!text.contains("X-Postfix-Sender"));
        assert!(text.contains("\t--- Undelivered message unavailable ---\n"));
    }

    #[test]
    fn remote_reply_parsing() {
        assert_eq!(
            remote_reply("host mx.a[1.2.3.4] said: 550 no (in reply to RCPT TO command)"),
            Some(("mx.a", "550 no"))
        );
        assert_eq!(remote_reply("unknown user"), None);
    }

    #[test]
    fn date_format() {
        let d = mail_date(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert!(d.contains(" 2023 "), "{d}");
        assert!(d.len() >= 31, "{d}");
    }
}
