//! Pickup: moves local submissions from `maildrop` through cleanup (the
//! `gatepost-cleanup` crate, as smtpd does) into `incoming` under a new
//! queue id, logging as Postfix's pickup and cleanup do (`ID: uid=N from=<user>`, then
//! `ID: message-id=<...>`). Recipients are canonicalised (bare names get
//! `@$myorigin`) and expanded through `virtual_alias_maps` when the address
//! rewriter is available. The maildrop file is removed only after the new
//! file is durable, so a crash in between causes at most one duplicate.
//! A damaged file goes to `corrupt`; a table lookup failure leaves the
//! file in maildrop for the next run.

use std::sync::Arc;
use std::time::Duration;

use gatepost_cleanup::{
    clean_content, clean_recipients, clean_sender, local_received_header, AddressRewriter,
    CleanupContext, ContentRules, LogOrigin, Source,
};
use gatepost_rewrite::{AddressRole, RewriteError, Rewriter};
use tokio::sync::Notify;

use crate::content_routing::{apply_content_routing, bounce_all, content_filter};
use crate::envelope::{Envelope, EnvelopeRecipient};
use crate::error::{blocking, QueueError};
use crate::layout::QueueName;
use crate::maildrop::Submission;
use crate::pickup_milter::{milter_submission, Milted};
use crate::queue::Queue;
use crate::queue_id::QueueId;

/// Pickup rescans maildrop this often even without a wakeup (Postfix's
/// pickup polls every 60s).
pub(crate) const PICKUP_POLL: Duration = Duration::from_secs(60);

/// What pickup needs from the configuration (the queue manager, which
/// starts pickup, reads it).
#[derive(Debug, Clone, Default)]
pub struct PickupSettings {
    /// `myhostname`: in the `Received:` header and `Message-Id:`.
    pub myhostname: String,
    /// `mail_name`: in the `Received:` header.
    pub mail_name: String,
    /// `myorigin`: appended to bare addresses when there is no rewriter.
    pub myorigin: String,
    /// Canonicalisation and virtual alias expansion; `None`: bare
    /// addresses only get `@myorigin`.
    pub rewriter: Option<Arc<Rewriter>>,
    /// `header_size_limit`: bytes of one header cleanup keeps.
    pub header_size_limit: usize,
    /// `content_filter`: the after-queue filter recorded in each message.
    pub content_filter: Option<String>,
    /// `non_smtpd_milters` (none with `receive_override_options =
    /// no_milters`).
    pub milters: Option<Arc<gatepost_milter::MilterSettings>>,
    /// header/body checks, MIME limits and strictness.
    pub content_rules: Arc<ContentRules>,
    /// DKIM signing of local submissions (`gatepost_dkim_signing_keys`).
    pub signer: Option<Arc<dyn ContentSigner>>,
}

/// Signs a cleaned message (docs/mail-auth.md): the header to put above
/// `content` for the envelope `sender`, or `None` to leave it unsigned.
pub trait ContentSigner: Send + Sync + std::fmt::Debug {
    fn sign(&self, sender: &str, content: &[u8]) -> Option<String>;
}

/// Address rewriting without a configured rewriter: bare addresses get
/// `@$myorigin`, no virtual aliases.
struct QualifyOnly<'a>(&'a PickupSettings);

impl AddressRewriter for QualifyOnly<'_> {
    fn canonicalize(&self, addr: &str) -> String {
        if addr.contains('@') || addr.is_empty() {
            addr.to_string()
        } else {
            format!("{addr}@{}", self.0.myorigin)
        }
    }

    fn expand_virtual_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError> {
        Ok(vec![addr.to_string()])
    }
}

/// What became of one maildrop file.
#[derive(Debug, PartialEq, Eq)]
enum Picked {
    Queued(QueueId),
    /// Left in maildrop for a later try.
    Retry,
    Gone,
}

async fn pickup_one(queue: &Arc<Queue>, settings: &PickupSettings, id: &QueueId) -> Picked {
    let read = {
        let (q, i) = (queue.clone(), id.clone());
        blocking(&queue.path_of(QueueName::Maildrop, id), move || {
            q.read_maildrop(&i)
        })
        .await
    };
    let sub: Submission = match read {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return Picked::Gone,
        Err(QueueError::Corrupt(_, why)) => {
            gatepost_log::warning("pickup", format!("{id}: corrupt maildrop file: {why}"));
            gatepost_log::warning(
                "pickup",
                format!(
                    "saving corrupt file \"{id}\" from queue \"maildrop\" to queue \"corrupt\""
                ),
            );
            if let Err(e) = queue
                .move_file(id, QueueName::Maildrop, QueueName::Corrupt)
                .await
            {
                gatepost_log::warning("pickup", format!("{id}: {e}"));
            }
            return Picked::Gone;
        }
        Err(e) => {
            gatepost_log::warning("pickup", format!("{id}: {e}"));
            return Picked::Retry;
        }
    };
    let mut writer = match queue.new_message() {
        Ok(w) => w,
        Err(e) => {
            gatepost_log::warning("pickup", format!("{id}: create queue file: {e}"));
            return Picked::Retry;
        }
    };
    let new_id = writer.id().clone();
    let fallback = QualifyOnly(settings);
    let rewriter: &dyn AddressRewriter = match &settings.rewriter {
        Some(rw) => rw.as_ref(),
        None => &fallback,
    };
    // The recipient cleanup knows while it reads the content: the last one
    // given on the command line.
    let last_rcpt = sub.recipients.last().map(|r| {
        rewriter
            .rewrite_address(r, AddressRole::EnvelopeRecipient)
            .unwrap_or_else(|_| rewriter.canonicalize(r))
    });
    let log_sender = clean_sender(rewriter, &sub.sender).unwrap_or_else(|_| sub.sender.clone());
    let ctx = CleanupContext {
        source: Source::Local {
            full_name: sub.full_name.as_deref(),
            extract_recipients: sub.extract_recipients,
        },
        always_add_missing_headers: false,
        myhostname: &settings.myhostname,
        queue_id: new_id.as_str(),
        arrival: sub.time.into(),
        sender: &sub.sender,
        rewriter,
        header_size_limit: settings.header_size_limit,
        rules: &settings.content_rules,
        log: LogOrigin {
            origin: "local",
            sender: &log_sender,
            recipient: last_rcpt.as_deref(),
            proto: None,
            helo: None,
        },
    };
    let trace = local_received_header(
        &settings.myhostname,
        &settings.mail_name,
        Some(sub.uid),
        new_id.as_str(),
        sub.time,
    );
    gatepost_log::info(
        "pickup",
        format!(
            "{new_id}: uid={} from=<{}>",
            sub.uid,
            gatepost_log::sanitize(&sub.sender)
        ),
    );
    let (content, summary) = clean_content(&ctx, &trace, &sub.content);
    let verdict = &summary.verdict;
    let temporary_reject = verdict
        .reject
        .as_deref()
        .is_some_and(|r| r.starts_with('4'));
    if verdict.lookup_failed || temporary_reject {
        // Not accepted now: the file stays in maildrop.
        writer.abort();
        return Picked::Retry;
    }
    if verdict.discard {
        writer.abort();
        return remove_maildrop_file(queue, id, Picked::Gone).await;
    }
    // Command-line recipients first, then those `sendmail -t` extracted.
    let given: Vec<&str> = sub
        .recipients
        .iter()
        .chain(&summary.recipients)
        .map(String::as_str)
        .collect();
    let recipients: Vec<EnvelopeRecipient> =
        match clean_recipients(rewriter, given.iter().map(|r| (*r, *r))) {
            Ok(list) => list
                .into_iter()
                .map(|clean| {
                    let mut rcpt = EnvelopeRecipient::new(&clean.address);
                    rcpt.original = given[clean.from].to_string();
                    rcpt
                })
                .collect(),
            Err(e) => {
                gatepost_log::warning(
                    "cleanup",
                    format!("{new_id}: virtual_alias_maps lookup: {e}"),
                );
                writer.abort();
                return Picked::Retry;
            }
        };
    if recipients.is_empty() {
        gatepost_log::warning(
            "cleanup",
            format!("{new_id}: no recipients found in message header"),
        );
        writer.abort();
        if let Err(e) = queue
            .move_file(id, QueueName::Maildrop, QueueName::Corrupt)
            .await
        {
            gatepost_log::warning("pickup", format!("{id}: {e}"));
        }
        return Picked::Gone;
    }
    let mut sender = match clean_sender(rewriter, &sub.sender) {
        Ok(sender) => sender,
        Err(e) => {
            gatepost_log::warning(
                "cleanup",
                format!("{new_id}: sender_canonical_maps lookup: {e}"),
            );
            writer.abort();
            return Picked::Retry;
        }
    };
    let (mut content, mut recipients, mut hold, mut rejected) = (content, recipients, false, None);
    // header/body checks' FILTER overrides content_filter; a FILTER from
    // milter_header_checks comes later and overrides both.
    let mut filter = content_filter(settings.content_filter.clone(), false, verdict);
    if let Some(milters) = &settings.milters {
        let addrs: Vec<String> = recipients.iter().map(|r| r.address.clone()).collect();
        let milted = milter_submission(
            milters,
            &settings.myhostname,
            new_id.as_str(),
            &sender,
            &addrs,
            &content,
        )
        .await;
        match milted {
            Milted::Queue {
                content: edited,
                changes,
                hold: held,
                checks,
            } => {
                content = edited;
                hold = held || checks.hold;
                if let Some(next) = checks.filter {
                    filter = Some(next);
                }
                if let Some(s) = changes.sender {
                    sender = s;
                }
                recipients.retain(|r| {
                    !changes.deleted.iter().any(|d| {
                        d.eq_ignore_ascii_case(&r.address) || d.eq_ignore_ascii_case(&r.original)
                    })
                });
                recipients.extend(changes.added.iter().map(|a| EnvelopeRecipient::new(a)));
                // milter_header_checks REDIRECT and BCC, as header_checks'.
                let routing = gatepost_cleanup::ContentVerdict {
                    redirect: checks.redirect,
                    bcc: checks.bcc,
                    ..Default::default()
                };
                apply_content_routing(&mut recipients, None, &routing);
            }
            Milted::Reject(reply) => rejected = Some(reply),
            Milted::Tempfail => {
                writer.abort();
                return Picked::Retry;
            }
            Milted::Discard => {
                writer.abort();
                if let Err(e) = queue.remove_file(id, QueueName::Maildrop).await {
                    gatepost_log::warning("pickup", format!("{id}: remove: {e}"));
                }
                return Picked::Gone;
            }
        }
    }
    let signature = settings
        .signer
        .as_ref()
        .and_then(|signer| signer.sign(&sender, &content));
    if let Some(header) = signature {
        if let Err(e) = writer.write_content(header.as_bytes()) {
            gatepost_log::warning("cleanup", format!("{new_id}: write queue file: {e}"));
            return Picked::Retry;
        }
    }
    if let Err(e) = writer.write_content(&content) {
        gatepost_log::warning("cleanup", format!("{new_id}: write queue file: {e}"));
        return Picked::Retry;
    }
    gatepost_log::info(
        "cleanup",
        format!(
            "{new_id}: message-id={}",
            gatepost_log::sanitize(summary.message_id.as_deref().unwrap_or("<>"))
        ),
    );
    apply_content_routing(&mut recipients, None, verdict);
    let envelope = Envelope {
        sender,
        recipients,
        arrival: sub.time,
        client: "local".into(),
        ret: None,
        envid: None,
        filter,
    };
    // A milter's reject (`5XX X.Y.Z text`) or the content checks' one:
    // every recipient is bounced to the sender.
    let reason = match (&rejected, &verdict.reject) {
        (Some(reply), _) => {
            let (dsn, text) = reply_parts(reply);
            Some(format!("{dsn} {text}"))
        }
        (None, reason) => reason.clone(),
    };
    let committed = match &reason {
        Some(reason) => {
            let status = bounce_all(new_id.as_str(), &envelope.recipients, reason, sub.time);
            writer
                .commit_with_status(&envelope, QueueName::Incoming, &status)
                .await
        }
        None if hold || verdict.hold => writer.commit_held(&envelope).await,
        None => writer.commit(&envelope).await,
    };
    match committed {
        Ok(queued) => remove_maildrop_file(queue, id, Picked::Queued(queued)).await,
        Err(e) => {
            gatepost_log::warning("cleanup", format!("{new_id}: commit: {e}"));
            Picked::Retry
        }
    }
}

/// `5XX X.Y.Z text` → (`X.Y.Z`, text).
fn reply_parts(reply: &str) -> (String, String) {
    let rest = reply.get(4..).unwrap_or("");
    match rest.split_once(' ') {
        Some((dsn, text)) if dsn.split('.').count() == 3 => (dsn.to_string(), text.to_string()),
        _ => ("5.7.1".to_string(), rest.to_string()),
    }
}

/// The maildrop file is done with: remove it.
async fn remove_maildrop_file(queue: &Arc<Queue>, id: &QueueId, picked: Picked) -> Picked {
    if let Err(e) = queue.remove_file(id, QueueName::Maildrop).await {
        if !e.is_not_found() {
            gatepost_log::warning("pickup", format!("{id}: remove: {e}"));
        }
    }
    picked
}

/// Pick up everything waiting in maildrop; returns the new queue ids.
pub(crate) async fn pickup_all(queue: &Arc<Queue>, settings: &PickupSettings) -> Vec<QueueId> {
    let files = match queue.scan(QueueName::Maildrop) {
        Ok(f) => f,
        Err(e) => {
            gatepost_log::warning("pickup", format!("scan maildrop: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (id, _) in files {
        if let Picked::Queued(new) = pickup_one(queue, settings, &id).await {
            out.push(new);
        }
    }
    out
}

/// The pickup service: runs at start, on every wakeup and every
/// `PICKUP_POLL`, until the task is dropped.
pub async fn run_pickup(queue: Arc<Queue>, settings: PickupSettings, wakeup: Arc<Notify>) {
    loop {
        let woken = wakeup.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        pickup_all(&queue, &settings).await;
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(PICKUP_POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue_file::{read_content, read_queue_file};
    use std::time::{SystemTime, UNIX_EPOCH};

    fn settings() -> PickupSettings {
        PickupSettings {
            myhostname: "mx.spec.test".into(),
            mail_name: "Postfix".into(),
            myorigin: "spec.test".into(),
            rewriter: None,
            header_size_limit: 102_400,
            content_filter: None,
            milters: None,
            content_rules: Arc::default(),
            signer: None,
        }
    }

    #[tokio::test]
    async fn maildrop_to_incoming() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let sub = Submission {
            uid: 1000,
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            sender: "alice".into(),
            full_name: None,
            extract_recipients: true,
            recipients: vec!["carol@far.example".into()],
            content: b"To: bob\nBcc: dave\nSubject: t\n\nhello\n".to_vec(),
        };
        let md = queue.post_to_maildrop(&sub).unwrap();
        let ids = pickup_all(&queue, &settings()).await;
        assert_eq!(ids.len(), 1);
        assert_eq!(queue.find(&md), None, "maildrop file removed");
        let path = queue.path_of(QueueName::Incoming, &ids[0]);
        let qf = read_queue_file(&path, ids[0].as_str()).unwrap();
        assert_eq!(qf.envelope.sender, "alice@spec.test");
        assert_eq!(qf.envelope.client, "local");
        let rcpts: Vec<(&str, &str)> = qf
            .envelope
            .recipients
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()))
            .collect();
        assert_eq!(
            rcpts,
            vec![
                ("carol@far.example", "carol@far.example"),
                ("bob@spec.test", "bob"),
                ("dave@spec.test", "dave")
            ]
        );
        let text = String::from_utf8(read_content(&path, ids[0].as_str()).unwrap()).unwrap();
        assert!(text.starts_with(&format!(
            "Received: by mx.spec.test (Postfix, from userid 1000)\n\tid {}; ",
            ids[0]
        )));
        assert!(!text.contains("Bcc"));
        assert!(text.contains("\nFrom: alice@spec.test\n\nhello\n"));
    }

    #[tokio::test]
    async fn damaged_and_empty_go_to_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("maildrop/ABCDEF123"), b"garbage").unwrap();
        let sub = Submission {
            uid: 1,
            time: SystemTime::now(),
            sender: "a".into(),
            full_name: None,
            extract_recipients: true,
            recipients: vec![],
            content: b"Subject: no rcpt\n\n".to_vec(),
        };
        let md = queue.post_to_maildrop(&sub).unwrap();
        assert!(pickup_all(&queue, &settings()).await.is_empty());
        assert_eq!(
            queue.find(&QueueId("ABCDEF123".into())),
            Some(QueueName::Corrupt)
        );
        assert_eq!(queue.find(&md), Some(QueueName::Corrupt));
    }
}
