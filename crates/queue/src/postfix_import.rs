//! `gatepost queue import-postfix DIR`: move the mail of a stopped Postfix
//! from its queue directory `DIR` into gatepost's queue.
//!
//! `DIR/pid/master.pid` is locked for the whole import (Postfix's master
//! holds that lock while it runs, so a running Postfix is refused and
//! cannot start meanwhile). Every file in `DIR/{incoming,active,deferred,
//! hold,maildrop}` (hashed subdirectories too) is read with
//! `postfix_records` and written with the normal durable writer:
//!
//! * `hold` → `hold`: held messages stay held;
//! * `deferred` → `deferred`, keeping the file's time (Postfix's and our
//!   next-retry time);
//! * `incoming`, `active` → `incoming`: delivered recipients (`D` records)
//!   are recorded as sent, so they are not delivered twice;
//! * `maildrop` (postdrop's output, not yet cleaned up) → our `maildrop`,
//!   for pickup and cleanup as any local submission.
//!
//! Each message is logged as `import: OLDID -> NEWID`; Postfix's file (and
//! its defer/bounce/trace logs) is removed only once our copy is on disk.
//! A file that cannot be read is left where it is, with a warning.

use std::fs::{self, File, TryLockError};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::envelope::{Envelope, EnvelopeRecipient};
use crate::error::QueueError;
use crate::layout::{queue_dir, QueueName};
use crate::maildrop::Submission;
use crate::postfix_layout::POSTFIX_MESSAGE_QUEUES;
use crate::postfix_records::{parse_postfix_file, PostfixMessage};
use crate::queue::Queue;
use crate::queue_file::StatusRecord;

/// Postfix's per-message log directories.
const POSTFIX_LOG_DIRS: [&str; 3] = ["defer", "bounce", "trace"];

/// How deep Postfix's hashed queue subdirectories may go (`hash_queue_depth`).
const MAX_HASH_DEPTH: usize = 4;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// `(Postfix id, gatepost id, queue it went to)`.
    pub imported: Vec<(String, String, QueueName)>,
    /// Files left in place, with the reason.
    pub skipped: Vec<String>,
}

/// The queue files under `dir`, hashed subdirectories included.
fn queue_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), QueueError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(QueueError::io(dir, e)),
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()).map_err(|err| QueueError::io(dir, err)))
        .collect::<Result<_, _>>()?;
    found.sort();
    for path in found {
        let meta = path
            .symlink_metadata()
            .map_err(|e| QueueError::io(&path, e))?;
        if meta.is_dir() && depth < MAX_HASH_DEPTH {
            queue_files(&path, depth + 1, out)?;
        } else if meta.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Lock Postfix's pid file as its master does; a lock already taken means
/// Postfix is running. The returned file keeps the lock.
fn lock_postfix(dir: &Path) -> Result<Option<File>, QueueError> {
    let pid_file = dir.join("pid/master.pid");
    let file = match File::open(&pid_file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(QueueError::io(&pid_file, e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(QueueError::PostfixRunning(dir.display().to_string())),
        Err(TryLockError::Error(e)) => Err(QueueError::io(&pid_file, e)),
    }
}

/// Remove `path` and make the removal durable.
fn remove_durably(path: &Path) -> Result<(), QueueError> {
    fs::remove_file(path).map_err(|e| QueueError::io(path, e))?;
    if let Some(parent) = path.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| QueueError::io(parent, e))?;
    }
    Ok(())
}

/// Remove Postfix's defer/bounce/trace logs of message `id`, if any.
fn remove_logs(dir: &Path, id: &str) {
    for log in POSTFIX_LOG_DIRS {
        let mut files = Vec::new();
        if queue_files(&dir.join(log), 0, &mut files).is_err() {
            continue;
        }
        for f in files {
            if f.file_name().is_some_and(|n| n == id) {
                let _ = fs::remove_file(&f);
            }
        }
    }
}

fn envelope_of(msg: &PostfixMessage) -> (Envelope, Vec<StatusRecord>) {
    let recipients = msg
        .recipients
        .iter()
        .map(|r| EnvelopeRecipient {
            address: r.address.clone(),
            original: r.original.clone().unwrap_or_else(|| r.address.clone()),
            notify: r.notify.clone(),
            orcpt: r.orcpt.clone(),
        })
        .collect();
    let done = msg
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, r)| r.done)
        .map(|(i, _)| StatusRecord::Sent(i))
        .collect();
    let envelope = Envelope {
        sender: msg.sender.clone(),
        recipients,
        arrival: msg.arrival,
        client: msg.client.clone().unwrap_or_else(|| "local".to_string()),
        ret: msg.ret.clone(),
        envid: msg.envid.clone(),
        filter: None,
    };
    (envelope, done)
}

impl Queue {
    /// Move the messages of the stopped Postfix whose queue directory is
    /// `dir` into this queue (see the module header).
    pub async fn import_postfix(self: &Arc<Self>, dir: &Path) -> Result<ImportReport, QueueError> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same(dir, self.root()) {
            return Err(QueueError::PostfixQueue {
                dir: dir.display().to_string(),
                evidence: "it is also gatepost's queue_directory".to_string(),
            });
        }
        if !dir.is_dir() {
            return Err(QueueError::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            ));
        }
        let _lock = lock_postfix(dir)?;
        let mut report = ImportReport::default();
        for q in POSTFIX_MESSAGE_QUEUES {
            let mut files = Vec::new();
            queue_files(&queue_dir(dir, q), 0, &mut files)?;
            for path in files {
                let old_id = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match self.import_one(q, &path).await {
                    Ok((new_id, to)) => {
                        gatepost_log::info("import", format!("{old_id} -> {new_id}"));
                        remove_durably(&path)?;
                        remove_logs(dir, &old_id);
                        report.imported.push((old_id, new_id, to));
                    }
                    Err(why) => {
                        let line = format!("{}: {why}; left in place", path.display());
                        gatepost_log::warning("import", &line);
                        report.skipped.push(line);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Write one Postfix file into this queue: the new id and queue.
    async fn import_one(
        self: &Arc<Self>,
        from: QueueName,
        path: &Path,
    ) -> Result<(String, QueueName), String> {
        let meta = fs::metadata(path).map_err(|e| e.to_string())?;
        // Postfix's cleanup sets the owner execute bit once a queue file
        // is complete; without it the file is an unfinished write.
        if from == QueueName::Incoming && meta.permissions().mode() & 0o100 == 0 {
            return Err("incomplete queue file (never committed by Postfix)".to_string());
        }
        let bytes = fs::read(path).map_err(|e| e.to_string())?;
        let msg = parse_postfix_file(&bytes).map_err(|why| format!("cannot read: {why}"))?;
        if !msg.redirects.is_empty() {
            return Err(format!(
                "redirect records ({}) cannot be imported",
                msg.redirects.join(", ")
            ));
        }
        if from == QueueName::Maildrop {
            let sub = Submission {
                uid: meta.uid(),
                time: msg.arrival,
                sender: msg.sender.clone(),
                full_name: msg.full_name.clone(),
                extract_recipients: msg.recipients.is_empty(),
                recipients: msg.recipients.iter().map(|r| r.address.clone()).collect(),
                content: msg.content,
            };
            let id = self.post_to_maildrop(&sub).map_err(|e| e.to_string())?;
            return Ok((id.to_string(), QueueName::Maildrop));
        }
        if msg.recipients.is_empty() {
            return Err("no recipients".to_string());
        }
        let (envelope, done) = envelope_of(&msg);
        let to = match from {
            QueueName::Hold => QueueName::Hold,
            QueueName::Deferred => QueueName::Deferred,
            _ => QueueName::Incoming,
        };
        let mut writer = self.new_message().map_err(|e| e.to_string())?;
        writer
            .write_content(&msg.content)
            .map_err(|e| e.to_string())?;
        let id = writer
            .commit_with_status(&envelope, to, &done)
            .await
            .map_err(|e| e.to_string())?;
        if to == QueueName::Deferred {
            if let Ok(next_try) = meta.modified() {
                self.touch(to, &id, next_try).map_err(|e| e.to_string())?;
            }
        }
        Ok((id.to_string(), to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::mailq_output;
    use crate::queue_file::{read_content, read_queue_file, RcptState};
    use crate::queue_id::QueueId;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// The queue files of a stopped Postfix 3.7 (three messages sent over
    /// SMTP, one of them then held with `postsuper -h`, and one `sendmail`
    /// submission left in maildrop), in a tree laid out as Postfix's.
    fn postfix_tree() -> tempfile::TempDir {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix-3.7");
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        queue_files(&fixtures, 0, &mut files).unwrap();
        for f in files {
            let rel = f.strip_prefix(&fixtures).unwrap();
            let to = dir.path().join(rel);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(&f, &to).unwrap();
        }
        for sub in ["incoming", "active", "private", "public", "pid", "defer/5"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        fs::write(dir.path().join("defer/5/54C8D98C7EB"), "recipient=bob\n").unwrap();
        fs::write(dir.path().join("pid/master.pid"), "          4242\n").unwrap();
        dir
    }

    fn at(secs: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    #[test]
    fn a_postfix_queue_directory_is_refused() {
        let postfix = postfix_tree();
        let err = Queue::open(postfix.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{} is a Postfix queue directory (",
                postfix.path().display()
            )),
            "{err}"
        );
        assert!(err.contains("gatepost queue import-postfix"), "{err}");
        assert!(
            !postfix.path().join("tmp").exists(),
            "nothing created in Postfix's tree"
        );
    }

    #[tokio::test]
    async fn import_of_a_stopped_postfix_queue() {
        let postfix = postfix_tree();
        let ours = tempfile::tempdir().unwrap();
        let queue = Queue::open(ours.path()).unwrap();
        let report = queue.import_postfix(postfix.path()).await.unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        let moved: Vec<(&str, QueueName)> = report
            .imported
            .iter()
            .map(|(old, _, q)| (old.as_str(), *q))
            .collect();
        assert_eq!(
            moved,
            vec![
                ("54C8D98C7EB", QueueName::Deferred),
                ("695FD98C7EF", QueueName::Deferred),
                ("5D8BE98C7E7", QueueName::Hold),
                ("BB1CB98C2A9", QueueName::Maildrop),
            ]
        );
        let new_id = |old: &str| {
            let (_, new, q) = report.imported.iter().find(|(o, _, _)| o == old).unwrap();
            (QueueId(new.clone()), *q)
        };

        // Several recipients, DSN options kept.
        let (id, q) = new_id("54C8D98C7EB");
        let path = queue.path_of(q, &id);
        let file = read_queue_file(&path, id.as_str()).unwrap();
        let env = &file.envelope;
        assert_eq!(env.sender, "alice@sender.example");
        assert_eq!(env.arrival, at(1796170883, 281354));
        assert_eq!(env.client, "localhost[127.0.0.1]");
        assert_eq!(
            (env.ret.as_deref(), env.envid.as_deref()),
            (Some("HDRS"), Some("env-1"))
        );
        let rcpts: Vec<(&str, &str, Option<&str>, Option<&str>)> = env
            .recipients
            .iter()
            .map(|r| {
                (
                    r.address.as_str(),
                    r.original.as_str(),
                    r.notify.as_deref(),
                    r.orcpt.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rcpts,
            vec![
                (
                    "bob@remote.example",
                    "bob@remote.example",
                    Some("SUCCESS,FAILURE"),
                    Some("rfc822;Bob@Remote.Example")
                ),
                (
                    "carol@remote.example",
                    "carol@remote.example",
                    None,
                    Some("rfc822;carol@remote.example")
                ),
                (
                    "dave@other.example",
                    "dave@other.example",
                    None,
                    Some("rfc822;dave@other.example")
                ),
            ]
        );
        assert!(file
            .states
            .iter()
            .all(|s| matches!(s, RcptState::Pending(None))));
        let content = String::from_utf8(read_content(&path, id.as_str()).unwrap()).unwrap();
        assert!(content.starts_with("Received: from client.example (localhost [127.0.0.1])\n\tby vm.example (Postfix) with ESMTP id 54C8D98C7EB;\n"), "{content}");
        assert!(content.ends_with("Date: Wed,  2 Dec 2026 00:21:23 +0000 (UTC)\n\nHello Bob and Carol.\nA second line.\n.leading dot line\n"), "{content}");
        // Postfix's next-retry time is kept.
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(mtime > at(1796170883, 281354), "{mtime:?}");

        // The null sender, a long line.
        let (id, q) = new_id("695FD98C7EF");
        let path = queue.path_of(q, &id);
        let file = read_queue_file(&path, id.as_str()).unwrap();
        assert_eq!(file.envelope.sender, "");
        let content = String::from_utf8(read_content(&path, id.as_str()).unwrap()).unwrap();
        assert!(
            content.contains(&format!("\n\n{}\nend\n", "long line ".repeat(120))),
            "{content}"
        );

        // Held stays held.
        let (id, q) = new_id("5D8BE98C7E7");
        assert_eq!(q, QueueName::Hold);
        let file = read_queue_file(&queue.path_of(q, &id), id.as_str()).unwrap();
        assert_eq!(file.envelope.recipients[0].address, "erin@remote.example");

        // sendmail's submission waits for pickup, as any local submission.
        let (id, _) = new_id("BB1CB98C2A9");
        let sub = queue.read_maildrop(&id).unwrap();
        assert_eq!(
            (sub.sender.as_str(), sub.recipients.as_slice()),
            ("root@vm.example", &["frank@remote.example".to_string()][..])
        );
        assert!(!sub.extract_recipients);
        assert_eq!(sub.content, b"Subject: from sendmail\nTo: frank@remote.example\n\nSubmitted while Postfix was stopped.\n");

        // mailq shows them (sizes as Postfix's mailq, but for the long
        // line: Postfix counts its record framing, 1531 there, one byte
        // more for a line over 127 bytes); Postfix's files are gone.
        let listing = mailq_output(&queue.list().unwrap());
        for (sender, size) in [
            ("alice@sender.example", "     403 "),
            ("hold@sender.example", "!     353 "),
            ("MAILER-DAEMON", "    1530 "),
        ] {
            let line = listing
                .lines()
                .find(|l| l.ends_with(sender))
                .unwrap_or_default();
            assert!(line.contains(size), "{sender} {size:?} in\n{listing}");
        }
        assert!(listing.contains("\n                                         dave@other.example\n"));
        let mut left = Vec::new();
        queue_files(postfix.path(), 0, &mut left).unwrap();
        assert_eq!(left, vec![postfix.path().join("pid/master.pid")]);
    }

    /// A message Postfix was delivering (in `active`, one recipient done)
    /// goes to `incoming` with that recipient sent; an unfinished file in
    /// `incoming` is left in place.
    #[tokio::test]
    async fn active_with_a_done_recipient_and_an_unfinished_file() {
        use crate::postfix_records::rec;
        use std::os::unix::fs::PermissionsExt;
        let postfix = tempfile::tempdir().unwrap();
        let mut file = Vec::new();
        for (k, d) in [
            (b'T', "1700000000 0"),
            (b'S', "s@example"),
            (b'D', "done@example"),
            (b'R', "todo@example"),
            (b'M', ""),
            (b'N', "Subject: x"),
            (b'N', ""),
            (b'N', "body"),
            (b'X', ""),
            (b'E', ""),
        ] {
            file.extend(rec(k, d));
        }
        for (dir, mode) in [("active/A", 0o700), ("incoming", 0o600)] {
            fs::create_dir_all(postfix.path().join(dir)).unwrap();
            let path = postfix.path().join(dir).join("ABCDEF123");
            fs::write(&path, &file).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        let ours = tempfile::tempdir().unwrap();
        let queue = Queue::open(ours.path()).unwrap();
        let report = queue.import_postfix(postfix.path()).await.unwrap();
        assert_eq!(report.skipped.len(), 1, "{report:?}");
        assert!(
            report.skipped[0].contains("incomplete queue file"),
            "{report:?}"
        );
        assert!(postfix.path().join("incoming/ABCDEF123").exists());
        let (_, new, q) = &report.imported[0];
        assert_eq!(*q, QueueName::Incoming);
        let file = read_queue_file(&queue.path_of(*q, &QueueId(new.clone())), new).unwrap();
        assert_eq!(file.states, vec![RcptState::Sent, RcptState::Pending(None)]);
        assert_eq!(file.pending(), vec![1]);
    }

    #[tokio::test]
    async fn a_running_postfix_is_refused() {
        let postfix = postfix_tree();
        let master = File::open(postfix.path().join("pid/master.pid")).unwrap();
        master.lock().unwrap();
        let ours = tempfile::tempdir().unwrap();
        let queue = Queue::open(ours.path()).unwrap();
        let err = queue.import_postfix(postfix.path()).await.unwrap_err();
        assert!(matches!(err, QueueError::PostfixRunning(_)), "{err}");
        assert!(queue.list().unwrap().is_empty());
        // Importing a queue into itself is refused too.
        let err = queue.import_postfix(ours.path()).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("it is also gatepost's queue_directory"),
            "{err}"
        );
    }
}
