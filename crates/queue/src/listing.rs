//! Operator views and commands (Postfix's showq/mailq and postsuper):
//! listing the queue, `mailq` output in Postfix's layout, and hold,
//! release, delete, requeue and flush.
//!
//! Commands act by rename (+ directory fsync) and log as `postsuper` does
//! (`ID: placed on hold`, `ID: released from hold`, `ID: removed`,
//! `ID: requeued`). They send the queue manager of this process a request
//! (`Queue::notify_manager`); a queue manager in another process sees the
//! change at its next deferred-queue scan.

use std::fs::File;
use std::time::SystemTime;

use chrono::{DateTime, Local};

use crate::client_facts::parse_queue_file_bytes;
use crate::error::QueueError;
use crate::group_flush::sync_dir;
use crate::layout::{queue_dir, QueueName};
use crate::queue::Queue;
use crate::queue_file::{read_queue_file, QueueFile, RcptState};
use crate::queue_id::QueueId;
use crate::trigger::TriggerRequest;

/// A recipient still to be delivered, with the last temporary failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecipient {
    pub address: String,
    /// Last defer reason (the text of the last `status=deferred` outcome).
    pub reason: Option<String>,
}

/// One message as `mailq` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub id: QueueId,
    pub queue: QueueName,
    /// Message size in bytes as sent over SMTP (CRLF line ends), like the
    /// queue-file size Postfix shows.
    pub size: u64,
    pub arrival: SystemTime,
    /// Envelope sender; empty for `<>`.
    pub sender: String,
    pub recipients: Vec<PendingRecipient>,
}

/// How `mailq` shows the queue file `qf` of message `id` in queue `q`.
fn entry(id: QueueId, q: QueueName, qf: QueueFile) -> QueueEntry {
    let recipients = qf
        .states
        .iter()
        .zip(&qf.envelope.recipients)
        .filter_map(|(st, r)| match st {
            RcptState::Pending(last) => Some(PendingRecipient {
                address: r.address.clone(),
                reason: last.as_ref().map(|l| l.text.clone()),
            }),
            _ => None,
        })
        .collect();
    QueueEntry {
        id,
        queue: q,
        size: qf.wire_size,
        arrival: qf.envelope.arrival,
        sender: qf.envelope.sender,
        recipients,
    }
}

impl Queue {
    /// Messages in incoming, active, deferred, hold and maildrop (the queues
    /// `mailq` shows), in that order and by id within a queue, then those
    /// that live only in the write-ahead log. Files that vanish or cannot
    /// be parsed while listing are skipped.
    pub fn list(&self) -> Result<Vec<QueueEntry>, QueueError> {
        let mut out = Vec::new();
        for q in QueueName::ALL {
            if q == QueueName::Corrupt {
                continue;
            }
            for (id, _) in self.scan(q)? {
                if q == QueueName::Maildrop {
                    if let Ok(sub) = self.read_maildrop(&id) {
                        out.push(QueueEntry {
                            id,
                            queue: q,
                            size: sub.content.len() as u64,
                            arrival: sub.time,
                            sender: sub.sender,
                            recipients: sub
                                .recipients
                                .into_iter()
                                .map(|address| PendingRecipient {
                                    address,
                                    reason: None,
                                })
                                .collect(),
                        });
                    }
                    continue;
                }
                let Ok(qf) = read_queue_file(&self.path_of(q, &id), id.as_str()) else {
                    continue;
                };
                out.push(entry(id, q, qf));
            }
        }
        // Messages the running server committed by their log record alone
        // have no file yet (docs/durability.md, "Unwritten queue files"):
        // listed from the log, with the queue their record names.
        for (id, q, bytes) in crate::wal::logged_only(self.root()) {
            let id = QueueId(id);
            if out.iter().any(|e| e.id == id) {
                continue;
            }
            if let Ok((qf, _, _)) = parse_queue_file_bytes(&bytes, id.as_str()) {
                out.push(entry(id, q, qf));
            }
        }
        Ok(out)
    }

    /// Every message file with its queue (all queues, corrupt included),
    /// and every message that lives in the write-ahead log only (in
    /// `incoming`), for operator commands given `ALL`.
    pub fn list_all(&self) -> Result<Vec<(QueueId, QueueName)>, QueueError> {
        let mut out = Vec::new();
        for q in QueueName::ALL {
            for (id, _) in self.scan(q)? {
                out.push((id, q));
            }
        }
        // Committed by their log record alone, no file yet.
        for (id, q, _) in crate::wal::logged_only(self.root()) {
            if QueueId::is_valid(&id) {
                out.push((QueueId(id), q));
            }
        }
        Ok(out)
    }

    fn locate(&self, id: &QueueId, allowed: &[QueueName]) -> Result<QueueName, QueueError> {
        match self.find(id) {
            Some(q) if allowed.contains(&q) => Ok(q),
            _ => Err(QueueError::NoSuchId(id.to_string())),
        }
    }

    fn rename_sync(&self, id: &QueueId, from: QueueName, to: QueueName) -> Result<(), QueueError> {
        let src = self.path_of(from, id);
        std::fs::rename(&src, self.path_of(to, id)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => QueueError::NoSuchId(id.to_string()),
            _ => QueueError::io(&src, e),
        })?;
        sync_dir(&queue_dir(self.root(), to))?;
        sync_dir(&queue_dir(self.root(), from))
    }

    /// Set the mtime of `id` in `q` (a deferred file's next retry time).
    pub fn touch(&self, q: QueueName, id: &QueueId, when: SystemTime) -> Result<(), QueueError> {
        let path = self.path_of(q, id);
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(when))
            .map_err(|e| QueueError::io(&path, e))
    }

    /// Put a message on hold (`postsuper -h`): it is not scheduled until released.
    pub fn hold(&self, id: &QueueId) -> Result<(), QueueError> {
        use QueueName::*;
        let from = self.locate(id, &[Incoming, Active, Deferred, Maildrop])?;
        self.rename_sync(id, from, Hold)?;
        gatepost_log::info("postsuper", format!("{id}: placed on hold"));
        Ok(())
    }

    /// Release a held message (`postsuper -H`): back to `deferred`, keeping
    /// its scheduled retry time (the file's mtime), as Postfix does; a
    /// message held before any attempt is due at once.
    pub fn release(&self, id: &QueueId) -> Result<(), QueueError> {
        self.locate(id, &[QueueName::Hold])?;
        self.rename_sync(id, QueueName::Hold, QueueName::Deferred)?;
        gatepost_log::info("postsuper", format!("{id}: released from hold"));
        self.notify_manager(TriggerRequest::ScanDeferred);
        Ok(())
    }

    /// Delete a message from whatever queue holds it (`postsuper -d`),
    /// also one that has no queue file yet (docs/durability.md,
    /// "Unwritten queue files"): its tombstone file makes the running
    /// server drop it rather than write it, and its recovery skip it.
    pub fn delete(&self, id: &QueueId) -> Result<(), QueueError> {
        let q = match self.locate(id, &QueueName::ALL) {
            Ok(q) => Some(q),
            Err(QueueError::NoSuchId(_)) if self.in_log_only(id) => None,
            Err(e) => return Err(e),
        };
        // The server's write-ahead log may still hold the message: a
        // durable tombstone first, so that its recovery does not bring
        // the message back (docs/durability.md).
        crate::wal::tombstone_file(self.root(), id.as_str())?;
        // One in the log only may have been written out meanwhile.
        if let Some(q) = q.or_else(|| self.find(id)) {
            let path = self.path_of(q, id);
            std::fs::remove_file(&path).map_err(|e| QueueError::io(&path, e))?;
            sync_dir(&queue_dir(self.root(), q))?;
        }
        gatepost_log::info("postsuper", format!("{id}: removed"));
        Ok(())
    }

    /// Whether `id` lives in the write-ahead log only (committed, no
    /// queue file yet).
    fn in_log_only(&self, id: &QueueId) -> bool {
        crate::wal::logged_only(self.root())
            .iter()
            .any(|(logged, _, _)| logged == id.as_str())
    }

    /// Requeue a message (`postsuper -r`): back to `incoming` for immediate
    /// delivery (also releases a held message).
    pub fn requeue(&self, id: &QueueId) -> Result<(), QueueError> {
        use QueueName::*;
        let from = self.locate(id, &[Incoming, Active, Deferred, Hold, Maildrop])?;
        if from != Incoming {
            self.rename_sync(id, from, Incoming)?;
        }
        gatepost_log::info("postsuper", format!("{id}: requeued"));
        self.kick();
        Ok(())
    }

    /// Make every deferred message due now and wake the queue manager
    /// (`postqueue -f`). Returns the number of deferred messages.
    pub fn flush(&self) -> Result<usize, QueueError> {
        let now = SystemTime::now();
        let mut n = 0;
        for (id, _) in self.scan(QueueName::Deferred)? {
            match self.touch(QueueName::Deferred, &id, now) {
                Ok(()) => n += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        self.notify_manager(TriggerRequest::Flush);
        Ok(n)
    }
}

impl Queue {
    /// ETRN (Postfix's flush(8) `send_site`): make every deferred message
    /// with a pending recipient at `site` (the part after the last `@`,
    /// case-insensitive; `[addr]` as written) due now and have the queue
    /// manager forget which destinations were unreachable. Returns the
    /// number of messages. Postfix finds them in its per-site "fast flush"
    /// logfiles; gatepost reads the deferred queue files.
    pub fn flush_site(&self, site: &str) -> Result<usize, QueueError> {
        let now = SystemTime::now();
        let mut n = 0;
        for (id, _) in self.scan(QueueName::Deferred)? {
            let path = self.path_of(QueueName::Deferred, &id);
            let Ok(qf) = read_queue_file(&path, id.as_str()) else {
                continue;
            };
            let wanted = qf
                .pending()
                .into_iter()
                .filter_map(|i| qf.envelope.recipients.get(i))
                .any(|r| {
                    r.address
                        .rsplit_once('@')
                        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(site))
                });
            if !wanted {
                continue;
            }
            match self.touch(QueueName::Deferred, &id, now) {
                Ok(()) => n += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        self.notify_manager(TriggerRequest::Flush);
        Ok(n)
    }
}

/// `asctime()` truncated to 20 characters, as showq prints the arrival time:
/// `Fri Nov 27 20:28:08 `.
fn arrival_column(t: SystemTime) -> String {
    let dt: DateTime<Local> = DateTime::from(t);
    dt.format("%a %b %e %H:%M:%S ").to_string()
}

/// Render entries in Postfix's `mailq` layout (short queue ids).
pub fn mailq_output(entries: &[QueueEntry]) -> String {
    if entries.is_empty() {
        return "Mail queue is empty\n".to_string();
    }
    let mut out = format!(
        "{:<11} {:>7} {:<20} {}\n",
        "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------"
    );
    let mut total: u64 = 0;
    for (n, e) in entries.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mark = match e.queue {
            QueueName::Active => "*",
            QueueName::Hold => "!",
            _ => "",
        };
        let sender = if e.sender.is_empty() {
            "MAILER-DAEMON"
        } else {
            e.sender.as_str()
        };
        out.push_str(&format!(
            "{:<11} {:>7} {:.20} {}\n",
            format!("{}{mark}", e.id),
            e.size,
            arrival_column(e.arrival),
            gatepost_log::sanitize(sender)
        ));
        let mut saved = String::new();
        for r in &e.recipients {
            let why = r.reason.as_deref().unwrap_or("");
            if why != saved {
                saved = why.to_string();
                let show = if saved.is_empty() {
                    "reason unavailable".to_string()
                } else {
                    gatepost_log::sanitize(&saved)
                };
                let pad = 76usize.saturating_sub(show.len());
                out.push_str(&format!("{:pad$}({show})\n", ""));
            }
            out.push_str(&format!(
                "{:<11} {:>7} {:<20} {}\n",
                "",
                "",
                "",
                gatepost_log::sanitize(&r.address)
            ));
        }
        total += e.size;
    }
    out.push_str(&format!(
        "\n-- {} Kbytes in {} Request{}.\n",
        total / 1024,
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn empty_queue() {
        assert_eq!(mailq_output(&[]), "Mail queue is empty\n");
    }

    #[test]
    fn mailq_layout() {
        let arrival = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let col = arrival_column(arrival);
        assert_eq!(col.len(), 20);
        let entries = vec![
            QueueEntry {
                id: QueueId("5562DBE20B".into()),
                queue: QueueName::Active,
                size: 289,
                arrival,
                sender: "a@ext.example".into(),
                recipients: vec![PendingRecipient {
                    address: "root@spec.test".into(),
                    reason: None,
                }],
            },
            QueueEntry {
                id: QueueId("A8DF1BEE41".into()),
                queue: QueueName::Deferred,
                size: 2000,
                arrival,
                sender: String::new(),
                recipients: vec![
                    PendingRecipient {
                        address: "x@relay.test".into(),
                        reason: Some(
                            "connect to 127.0.0.1[127.0.0.1]:9: Connection refused".into(),
                        ),
                    },
                    PendingRecipient {
                        address: "y@relay.test".into(),
                        reason: Some(
                            "connect to 127.0.0.1[127.0.0.1]:9: Connection refused".into(),
                        ),
                    },
                    PendingRecipient {
                        address: "z@relay.test".into(),
                        reason: None,
                    },
                ],
            },
            QueueEntry {
                id: QueueId("B1".repeat(3)),
                queue: QueueName::Hold,
                size: 10,
                arrival,
                sender: "h@x".into(),
                recipients: vec![],
            },
        ];
        let pad41 = " ".repeat(41);
        let reason = "connect to 127.0.0.1[127.0.0.1]:9: Connection refused";
        let want = format!(
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
             5562DBE20B*     289 {col} a@ext.example\n\
             {pad41}root@spec.test\n\
             \n\
             A8DF1BEE41     2000 {col} MAILER-DAEMON\n\
             {}({reason})\n\
             {pad41}x@relay.test\n\
             {pad41}y@relay.test\n\
             {}(reason unavailable)\n\
             {pad41}z@relay.test\n\
             \n\
             B1B1B1!          10 {col} h@x\n\
             \n\
             -- 2 Kbytes in 3 Requests.\n",
            " ".repeat(76 - reason.len()),
            " ".repeat(76 - "reason unavailable".len()),
        );
        assert_eq!(mailq_output(&entries), want);
    }
}
