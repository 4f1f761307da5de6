//! Local submissions waiting in `maildrop` (Postfix's postdrop output):
//! what `sendmail` hands to `pickup`, written without any server running.
//!
//! ```text
//! gatepost-maildrop 1\n
//! U 1000\n                  submitting user id
//! T 1700000000.123456789\n  submission time
//! F sender\n                envelope sender as given (-f), may be bare
//! N Full Name\n             -F full name (optional)
//! X\n                       extract recipients from headers (-t)
//! R rcpt\n ...              recipients given as arguments
//! M\n                       end of envelope; the raw message follows
//! ```
//!
//! The file is written in `tmp`, fsynced, and linked into `maildrop` under
//! its queue id (micros + inode, as every queue file), then `maildrop` is
//! fsynced: a submission that `sendmail` reported as accepted survives a
//! crash. Values are escaped like queue-file records. Reading bounds the
//! envelope to `MAX_ENVELOPE_LINES` lines.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::QueueError;
use crate::group_flush::sync_dir;
use crate::layout::{queue_dir, QueueName};
use crate::queue::Queue;
use crate::queue_file::{escape, unescape};
use crate::queue_id::{micros_of, QueueId};
use crate::record_time;

const MAGIC: &str = "gatepost-maildrop 1\n";
const MAX_ENVELOPE_LINES: usize = 100_000;
const ID_ATTEMPTS: usize = 16;

/// One local submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Real user id of the submitter.
    pub uid: u32,
    pub time: SystemTime,
    /// Envelope sender as given (`-f`), or the login name; may lack a domain.
    pub sender: String,
    /// `-F` full name.
    pub full_name: Option<String>,
    /// `-t`: take recipients from To:, Cc: and Bcc:.
    pub extract_recipients: bool,
    /// Recipients given on the command line.
    pub recipients: Vec<String>,
    /// The message as read from standard input (`\n` line ends).
    pub content: Vec<u8>,
}

fn encode(sub: &Submission) -> Vec<u8> {
    let mut head = String::from(MAGIC);
    head.push_str(&format!("U {}\n", sub.uid));
    head.push_str(&format!("T {}\n", record_time::encode(sub.time)));
    head.push_str(&format!("F {}\n", escape(&sub.sender)));
    if let Some(name) = &sub.full_name {
        head.push_str(&format!("N {}\n", escape(name)));
    }
    if sub.extract_recipients {
        head.push_str("X\n");
    }
    for r in &sub.recipients {
        head.push_str(&format!("R {}\n", escape(r)));
    }
    head.push_str("M\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&sub.content);
    out
}

/// Parse a maildrop file.
pub(crate) fn decode(data: &[u8]) -> Result<Submission, String> {
    let rest = data
        .strip_prefix(MAGIC.as_bytes())
        .ok_or("not a maildrop file")?;
    let mut sub = Submission {
        uid: 0,
        time: UNIX_EPOCH,
        sender: String::new(),
        full_name: None,
        extract_recipients: false,
        recipients: Vec::new(),
        content: Vec::new(),
    };
    let (mut pos, mut lines, mut seen_uid) = (0usize, 0usize, false);
    loop {
        lines += 1;
        if lines > MAX_ENVELOPE_LINES {
            return Err("envelope too long".into());
        }
        let end = rest[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("missing end of envelope")?;
        let line =
            std::str::from_utf8(&rest[pos..pos + end]).map_err(|_| "envelope is not UTF-8")?;
        pos += end + 1;
        let (tag, value) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "U" => {
                sub.uid = value.parse().map_err(|_| format!("bad uid {value:?}"))?;
                seen_uid = true;
            }
            "T" => sub.time = record_time::decode(value)?,
            "F" => sub.sender = unescape(value)?,
            "N" => sub.full_name = Some(unescape(value)?),
            "X" => sub.extract_recipients = true,
            "R" => sub.recipients.push(unescape(value)?),
            "M" => break,
            _ => return Err(format!("unknown maildrop record {tag:?}")),
        }
    }
    if !seen_uid {
        return Err("missing user id".into());
    }
    sub.content = rest[pos..].to_vec();
    Ok(sub)
}

fn remove_all(paths: &[std::path::PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// A submission written by root into a queue that belongs to `mail_owner`
/// (privilege separation) is handed to that owner, so that pickup can read
/// and remove it; for anyone else this cannot apply and nothing changes.
fn give_to_queue_owner(file: &std::fs::File, maildrop: &std::path::Path) {
    if let (Ok(dir), Ok(mine)) = (std::fs::metadata(maildrop), file.metadata()) {
        if dir.uid() != mine.uid() && mine.uid() == 0 {
            let _ = std::os::unix::fs::fchown(file, Some(dir.uid()), Some(dir.gid()));
        }
    }
}

impl Queue {
    /// Write a submission into `maildrop` durably; returns its queue id.
    /// Blocking; needs no running server.
    pub fn post_to_maildrop(&self, sub: &Submission) -> Result<QueueId, QueueError> {
        let data = encode(sub);
        let maildrop = queue_dir(self.root(), QueueName::Maildrop);
        let mut rejected = Vec::new();
        for _ in 0..ID_ATTEMPTS {
            let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
            let tmp = self.tmp_dir().join(format!(
                "{}.{}.{:08x}",
                std::process::id(),
                seq,
                rand::random::<u32>()
            ));
            let written = (|| -> std::io::Result<u64> {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)?;
                give_to_queue_owner(&f, &maildrop);
                f.write_all(&data)?;
                f.sync_all()?;
                Ok(f.metadata()?.ino())
            })();
            let ino = match written {
                Ok(ino) => ino,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    remove_all(&rejected);
                    return Err(QueueError::io(&tmp, e));
                }
            };
            let id = QueueId::short_form(micros_of(SystemTime::now()), ino);
            if self.id_in_use(&id) {
                // Keep the file until a unique id exists (its inode stays taken).
                rejected.push(tmp);
                continue;
            }
            let dst = self.path_of(QueueName::Maildrop, &id);
            let linked = std::fs::hard_link(&tmp, &dst);
            rejected.push(tmp);
            match linked {
                Ok(()) => {
                    remove_all(&rejected);
                    sync_dir(&maildrop)?;
                    return Ok(id);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    remove_all(&rejected);
                    return Err(QueueError::io(&dst, e));
                }
            }
        }
        remove_all(&rejected);
        Err(QueueError::io(
            &maildrop,
            std::io::Error::other("cannot allocate a unique queue id"),
        ))
    }

    /// Read a maildrop file.
    pub(crate) fn read_maildrop(&self, id: &QueueId) -> Result<Submission, QueueError> {
        let path = self.path_of(QueueName::Maildrop, id);
        let mut data = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| QueueError::io(&path, e))?;
        decode(&data).map_err(|why| QueueError::Corrupt(id.to_string(), why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Submission {
        Submission {
            uid: 1000,
            time: UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5),
            sender: "alice".into(),
            full_name: Some("Alice \"A\" Liddell".into()),
            extract_recipients: true,
            recipients: vec!["bob".into(), "c\nd@x".into()],
            content: b"Subject: hi\n\nR not a record\nM\n".to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        assert_eq!(decode(&encode(&s)).unwrap(), s);
        let mut bare = s.clone();
        bare.full_name = None;
        bare.extract_recipients = false;
        bare.recipients.clear();
        bare.content.clear();
        assert_eq!(decode(&encode(&bare)).unwrap(), bare);
    }

    #[test]
    fn damaged_files() {
        let good = encode(&sample());
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"gatepost-maildrop 1\nU 1\n".to_vec(),
            b"gatepost-maildrop 1\nF a\nM\n".to_vec(),
            b"gatepost-maildrop 1\nU x\nM\n".to_vec(),
            b"gatepost-maildrop 1\nU 1\nQ z\nM\n".to_vec(),
            good[1..].to_vec(),
        ];
        for c in cases {
            assert!(decode(&c).is_err(), "{:?}", String::from_utf8_lossy(&c));
        }
    }

    #[test]
    fn post_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let id = queue.post_to_maildrop(&sample()).unwrap();
        assert!(QueueId::is_valid(id.as_str()));
        assert_eq!(queue.find(&id), Some(QueueName::Maildrop));
        assert_eq!(queue.read_maildrop(&id).unwrap(), sample());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
