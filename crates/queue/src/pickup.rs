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
    CleanupContext, Source,
};
use gatepost_rewrite::{RewriteError, Rewriter};
use tokio::sync::Notify;

use crate::envelope::{Envelope, EnvelopeRecipient};
use crate::error::{blocking, QueueError};
use crate::layout::QueueName;
use crate::maildrop::Submission;
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
    };
    let trace = local_received_header(
        &settings.myhostname,
        &settings.mail_name,
        Some(sub.uid),
        new_id.as_str(),
        sub.time,
    );
    let (content, summary) = clean_content(&ctx, &trace, &sub.content);
    gatepost_log::info(
        "pickup",
        format!(
            "{new_id}: uid={} from=<{}>",
            sub.uid,
            gatepost_log::sanitize(&sub.sender)
        ),
    );
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
    let signature = settings
        .signer
        .as_ref()
        .and_then(|signer| signer.sign(&sub.sender, &content));
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
    let sender = clean_sender(rewriter, &sub.sender);
    gatepost_log::info(
        "cleanup",
        format!(
            "{new_id}: message-id={}",
            gatepost_log::sanitize(summary.message_id.as_deref().unwrap_or("<>"))
        ),
    );
    let envelope = Envelope {
        sender,
        recipients,
        arrival: sub.time,
        client: "local".into(),
        ret: None,
        envid: None,
    };
    match writer.commit(&envelope).await {
        Ok(queued) => {
            if let Err(e) = queue.remove_file(id, QueueName::Maildrop).await {
                if !e.is_not_found() {
                    gatepost_log::warning("pickup", format!("{id}: remove: {e}"));
                }
            }
            Picked::Queued(queued)
        }
        Err(e) => {
            gatepost_log::warning("cleanup", format!("{new_id}: commit: {e}"));
            Picked::Retry
        }
    }
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
