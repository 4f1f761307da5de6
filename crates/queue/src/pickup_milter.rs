//! `non_smtpd_milters` for mail that pickup takes from maildrop, as
//! Postfix's cleanup emulates an SMTP session for it: CONNECT from
//! `localhost` `127.0.0.1`, HELO `localhost`, MAIL, one RCPT per
//! recipient, DATA, then the message with its end-of-message edits. A
//! reject bounces the message to its sender, a tempfail leaves it in
//! maildrop for the next run, discard drops it, quarantine holds it.
//! `milter_header_checks` apply to the headers they add or change.

use std::net::{IpAddr, Ipv4Addr};

use gatepost_milter::{
    CheckOrigin, Client, EnvelopeChanges, HeaderCheckVerdict, Macros, Message, MilterSettings,
    Milters, Outcome,
};

/// What the filters made of a local submission.
pub(crate) enum Milted {
    /// Queue it: the content as edited, the envelope changes, held or not.
    Queue {
        content: Vec<u8>,
        changes: EnvelopeChanges,
        hold: bool,
        /// `milter_header_checks` actions (HOLD, REDIRECT, BCC, FILTER).
        checks: HeaderCheckVerdict,
    },
    /// Bounce every recipient with this reply (`5XX X.Y.Z text`).
    Reject(String),
    /// Try again later.
    Tempfail,
    Discard,
}

fn log(queue_id: &str, action: &str, text: &str, sender: &str, rcpt: Option<&str>) {
    let to = rcpt.map(|r| format!(" to=<{r}>")).unwrap_or_default();
    gatepost_log::info(
        "cleanup",
        format!(
            "{queue_id}: {action}: END-OF-MESSAGE from localhost[127.0.0.1]: {text}; from=<{}>{to}",
            gatepost_log::sanitize(sender)
        ),
    );
}

/// Run the filters over one submission.
pub(crate) async fn milter_submission(
    settings: &std::sync::Arc<MilterSettings>,
    myhostname: &str,
    queue_id: &str,
    sender: &str,
    recipients: &[String],
    content: &[u8],
) -> Milted {
    let mut milters = Milters::new(settings.clone(), "cleanup");
    let mut macros = Macros::new();
    for (k, v) in [
        ("j", myhostname.to_string()),
        ("daemon_name", settings.daemon_name.clone()),
        ("v", settings.version_macro.clone()),
        ("_", "localhost [127.0.0.1]".to_string()),
        ("client_addr", "127.0.0.1".to_string()),
        ("client_name", "localhost".to_string()),
        ("i", queue_id.to_string()),
        ("mail_addr", sender.to_string()),
    ] {
        macros.insert(k.to_string(), v);
    }
    let client = Client {
        name: "localhost",
        addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port: 0,
    };
    let single = (recipients.len() == 1).then(|| recipients[0].as_str());
    let mut outcome = milters.connect(&client, &macros).await;
    if outcome.is_none() {
        outcome = milters.helo("localhost", &macros).await;
    }
    if outcome.is_none() {
        outcome = milters.mail(&[format!("<{sender}>")], &macros).await;
    }
    for rcpt in recipients {
        if outcome.is_some() {
            break;
        }
        macros.insert("rcpt_addr".into(), rcpt.clone());
        outcome = milters.rcpt(&[format!("<{rcpt}>")], &macros).await;
    }
    macros.remove("rcpt_addr");
    if outcome.is_none() {
        outcome = milters.data(&macros).await;
    }
    let mut message = Message::parse(content);
    let mut hold = false;
    let mut changes = EnvelopeChanges::default();
    let mut checks = HeaderCheckVerdict::default();
    if outcome.is_none() {
        let origin = CheckOrigin {
            queue_id: queue_id.to_string(),
            client: "localhost[127.0.0.1]".into(),
            sender: sender.to_string(),
            recipient: recipients.last().cloned(),
            proto: None,
            helo: None,
        };
        let verdict = milters.message(&mut message, &macros, &origin).await;
        outcome = verdict.outcome;
        hold = verdict.hold;
        changes = verdict.envelope;
        checks = verdict.checks;
    }
    milters.quit().await;
    // A header check's rejection or discard was logged when it was made.
    if checks.lookup_failed {
        return Milted::Tempfail;
    }
    if let Some(reason) = &checks.reject {
        return if reason.starts_with('5') {
            Milted::Reject(format!("550 {reason}"))
        } else {
            Milted::Tempfail
        };
    }
    if checks.discard {
        return Milted::Discard;
    }
    match outcome {
        None | Some(Outcome::Hold) => {
            let hold = hold || outcome.is_some();
            if hold {
                log(
                    queue_id,
                    "milter-hold",
                    "milter triggers HOLD action",
                    sender,
                    single,
                );
            }
            Milted::Queue {
                content: message.to_content(),
                changes,
                hold,
                checks,
            }
        }
        Some(Outcome::Discard) => {
            log(
                queue_id,
                "milter-discard",
                "milter triggers DISCARD action",
                sender,
                single,
            );
            Milted::Discard
        }
        Some(Outcome::Shutdown) => {
            log(
                queue_id,
                "milter-reject",
                "4.7.0 Server closing connection",
                sender,
                single,
            );
            Milted::Tempfail
        }
        Some(Outcome::Reply(text)) => {
            log(
                queue_id,
                "milter-reject",
                text.get(4..).unwrap_or(""),
                sender,
                single,
            );
            if text.starts_with('5') {
                Milted::Reject(text)
            } else {
                Milted::Tempfail
            }
        }
    }
}
