//! The write path for new messages (Postfix's cleanup output): a file in
//! `tmp` named `PID.SEQ.RANDOM` (its inode gives the queue id), content
//! collected in memory, then at commit the envelope, the content-length
//! header, one write of the whole queue file, a no-clobber link into
//! `incoming` under the queue id, and one group-committed flush
//! (`GroupFlush`) shared with every other message committed at the same
//! time. With the write-ahead log (the server) the same bytes are appended
//! to it as one record and the flush is the log segment's `fdatasync`;
//! without it (and for messages over the log's record limit, streamed to
//! the file) the flush is the file's `fdatasync` and the fsync of
//! `incoming`. A message whose bytes go to this process's queue manager
//! skips the file's write and link: it is committed by its log record
//! alone, and its file written only when something needs it
//! (`unwritten`). Only then is the message safe and may the client be told
//! `250` (docs/durability.md).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use crate::committed_copy::CommittedCopy;
use crate::envelope::Envelope;
use crate::error::{here_or_blocking, may_block_briefly, QueueError};
use crate::group_flush::{Flush, GroupFlush};
use crate::layout::{queue_dir, QueueName};
use crate::queue::Queue;
use crate::queue_file::{
    encode_envelope, encode_status, header, header_len, Checksums, StatusRecord,
};
use crate::queue_id::{micros_of, QueueId};
use crate::recycle::{Spare, SparePool, StaleBytes};
use crate::unwritten::Unwritten;
use crate::wal;

/// The line ends (`\n`) in `bytes`.
fn line_ends(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// How many times to retry when a fresh id collides with an existing file.
const ID_ATTEMPTS: usize = 16;

/// A message being written. Content is stored as lines ending in `\n`
/// (the caller writes header lines, including `Received:`, then the body).
#[derive(Debug)]
pub struct MessageWriter {
    queue: Arc<Queue>,
    id: QueueId,
    /// The tmp file; `None` once committed or aborted.
    tmp_path: Option<PathBuf>,
    out: Option<Sink>,
    size: u64,
    /// Line ends written (each is CRLF on the wire).
    lines: u64,
    /// The `AUTH=` identity to store (record `A`).
    sender_auth: Option<String>,
    /// The client's attributes to store (records `Y`).
    client_facts: Option<crate::ClientFacts>,
    /// What a reused file still holds of an earlier message.
    stale: StaleBytes,
    /// The file's inode number (the queue id's second part).
    inode: u64,
}

/// Where the content goes until commit.
#[derive(Debug)]
enum Sink {
    /// In memory: room for a log record's prefix and the queue file's
    /// header, then the content; the tmp file is still empty.
    Memory { file: File, buf: Vec<u8> },
    /// Too large for the log: streamed to the tmp file after its header,
    /// with the content's checksum kept as it goes.
    File {
        out: BufWriter<File>,
        crc: crc32fast::Hasher,
    },
}

fn create_tmp(queue: &Queue) -> Result<(Spare, QueueId), QueueError> {
    // A spare is written where it is, in `spare/` (docs/durability.md).
    let spare = match queue.spares.take(queue.root()) {
        Some(spare) => spare,
        None => {
            let seq = queue.tmp_seq.fetch_add(1, Ordering::Relaxed);
            let name = format!(
                "{}.{}.{:08x}",
                std::process::id(),
                seq,
                rand::random::<u32>()
            );
            let path = queue.tmp_dir().join(name);
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| QueueError::io(&path, e))?;
            match file.metadata() {
                Ok(meta) => Spare {
                    path,
                    file,
                    inode: meta.ino(),
                    stale: StaleBytes::default(),
                },
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(QueueError::io(&path, e));
                }
            }
        }
    };
    let id = QueueId::short_form(micros_of(SystemTime::now()), spare.inode);
    Ok((spare, id))
}

/// Give the written file `src` its queue name `name` in `dst_dir` (the
/// open queue directory; by its path `dst` when it could not be opened),
/// never replacing an existing file (ids stay unique): one
/// `renameat2(RENAME_NOREPLACE)`, or link and unlink where the filesystem
/// has no such rename. A spare is named relative to `spare/` (`spares`).
pub(crate) fn publish(
    src: &Path,
    spares: &SparePool,
    dst_dir: Option<&File>,
    name: &str,
    dst: &Path,
) -> Result<(), QueueError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    let renamed = match (spares.relative(src), dst_dir) {
        (Some((spare_dir, spare)), Some(dir)) => {
            renameat_with(spare_dir, spare, dir, name, RenameFlags::NOREPLACE)
        }
        (None, Some(dir)) => renameat_with(CWD, src, dir, name, RenameFlags::NOREPLACE),
        (_, None) => renameat_with(CWD, src, CWD, dst, RenameFlags::NOREPLACE),
    };
    match renamed {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL) => {
            std::fs::hard_link(src, dst).map_err(|e| QueueError::io(dst, e))?;
            let _ = std::fs::remove_file(src);
            Ok(())
        }
        Err(e) => Err(QueueError::io(dst, e.into())),
    }
}

impl MessageWriter {
    /// Allocate the tmp file and a queue id not used by any queued file.
    pub(crate) fn create(queue: Arc<Queue>) -> Result<MessageWriter, QueueError> {
        // Colliding files are kept open until a unique one exists so that the
        // next file cannot reuse their inode (and hence their id).
        let mut rejected: Vec<PathBuf> = Vec::new();
        let mut found = None;
        for _ in 0..ID_ATTEMPTS {
            let (spare, id) = create_tmp(&queue)?;
            if queue.id_in_use(&id) {
                rejected.push(spare.path);
                continue;
            }
            found = Some((spare, id));
            break;
        }
        for path in &rejected {
            let _ = std::fs::remove_file(path);
        }
        let (
            Spare {
                path,
                file,
                stale,
                inode,
            },
            id,
        ) = found.ok_or_else(|| {
            QueueError::io(
                &queue.tmp_dir(),
                std::io::Error::other("cannot allocate a unique queue id"),
            )
        })?;
        let buf = vec![0u8; wal::record_prefix(id.as_str()) + header_len(id.as_str())];
        Ok(MessageWriter {
            queue,
            id,
            tmp_path: Some(path),
            out: Some(Sink::Memory { file, buf }),
            size: 0,
            lines: 0,
            sender_auth: None,
            client_facts: None,
            stale,
            inode,
        })
    }

    pub fn id(&self) -> &QueueId {
        &self.id
    }

    pub fn write_content(&mut self, data: &[u8]) -> Result<(), QueueError> {
        let start = self.content_start();
        // The common case, a line that still fits in memory, first.
        if let Some(Sink::Memory { buf, .. }) = self.out.as_mut() {
            if buf.len() + data.len() <= start + wal::MAX_PAYLOAD {
                buf.extend_from_slice(data);
                self.size += data.len() as u64;
                return Ok(());
            }
        }
        let path = &self.tmp_path;
        let io = |e| QueueError::io(path.as_deref().unwrap_or(std::path::Path::new("")), e);
        match self.out.take() {
            // Past the log's record limit: from here on to the file.
            Some(Sink::Memory { file, buf }) => {
                // Lines held in memory are counted at commit; from here on
                // as they are written.
                self.lines += line_ends(&buf[start..]) + line_ends(data);
                let prefix = wal::record_prefix(self.id.as_str());
                let mut crc = crc32fast::Hasher::new();
                crc.update(&buf[start..]);
                crc.update(data);
                let mut out = BufWriter::with_capacity(64 * 1024, file);
                out.write_all(&buf[prefix..]).map_err(io)?;
                out.write_all(data).map_err(io)?;
                self.out = Some(Sink::File { out, crc });
            }
            Some(Sink::File { mut out, mut crc }) => {
                out.write_all(data).map_err(io)?;
                crc.update(data);
                self.lines += line_ends(data);
                self.out = Some(Sink::File { out, crc });
            }
            None => return Err(io(std::io::Error::other("message already closed"))),
        }
        self.size += data.len() as u64;
        Ok(())
    }

    /// Where the content starts in the memory sink's buffer (after room
    /// for the log record's prefix and the queue file's header).
    fn content_start(&self) -> usize {
        wal::record_prefix(self.id.as_str()) + header_len(self.id.as_str())
    }

    /// Line ends of the content written so far.
    fn content_lines(&self) -> u64 {
        match &self.out {
            Some(Sink::Memory { buf, .. }) => line_ends(&buf[self.content_start()..]),
            _ => self.lines,
        }
    }

    pub fn content_size(&self) -> u64 {
        self.size
    }

    /// Write the envelope, link the file into `incoming`, flush the file and
    /// the directory (shared with concurrent commits: group commit), then
    /// kick qmgr.
    /// Only after this returns Ok may the client be told `250`.
    pub async fn commit(self, envelope: &Envelope) -> Result<QueueId, QueueError> {
        self.commit_into(envelope, QueueName::Incoming, &[]).await
    }

    /// Commit into `hold` instead (access-table HOLD action): durable the
    /// same way, never scheduled until released.
    pub async fn commit_held(self, envelope: &Envelope) -> Result<QueueId, QueueError> {
        self.commit_into(envelope, QueueName::Hold, &[]).await
    }

    /// Commit into `target` with status records already in the file (a
    /// message moved from Postfix's queue: delivered recipients stay done).
    pub(crate) async fn commit_with_status(
        self,
        envelope: &Envelope,
        target: QueueName,
        status: &[StatusRecord],
    ) -> Result<QueueId, QueueError> {
        self.commit_into(envelope, target, status).await
    }

    async fn commit_into(
        mut self,
        envelope: &Envelope,
        target: QueueName,
        status: &[StatusRecord],
    ) -> Result<QueueId, QueueError> {
        if envelope.recipients.is_empty() {
            return Err(QueueError::Corrupt(
                self.id.to_string(),
                "no recipients".into(),
            ));
        }
        let tmp = self.tmp_path.clone().unwrap_or_default();
        let lines = self.content_lines();
        let out = self
            .out
            .take()
            .ok_or_else(|| QueueError::io(&tmp, std::io::Error::other("message already closed")))?;
        // The SMTP size goes before the envelope's end record.
        let mut trailer = encode_envelope(envelope);
        if let Some(end) = trailer.rfind("E\n") {
            trailer.insert_str(end, &format!("L {}\n", self.size + lines));
            if let Some(auth) = &self.sender_auth {
                trailer.insert_str(end, &crate::sender_auth::record(auth));
            }
            if let Some(facts) = &self.client_facts {
                trailer.insert_str(end, &crate::client_facts::records(facts));
            }
        }
        let envelope_crc = crc32fast::hash(trailer.as_bytes());
        for rec in status {
            trailer.push_str(&encode_status(rec));
        }
        let content_start = self.content_start();
        let size = self.size;
        let stale = self.stale;
        let dst = self.queue.path_of(target, &self.id);
        let src = tmp.clone();
        let dir = queue_dir(self.queue.root(), target);
        let log = self.queue.wal().cloned();
        let id = self.id.as_str().to_string();
        let flush_dir = dir.clone();
        let dirs = self.queue.dir_handles();
        let spares = self.queue.spares.clone();
        // A new message whose bytes go to this process's queue manager is
        // committed by its log record alone: its file is written only when
        // something needs it (`unwritten`). Room for the copy comes first.
        // Past the copies' budget the queue manager reads the bytes back
        // from the log instead (`CommittedCopy::logged`).
        let unwritten = matches!((&out, &log), (Sink::Memory { .. }, Some(_)))
            && target == QueueName::Incoming
            && self.queue.manager_connected();
        let room = match &out {
            Sink::Memory { buf, .. } if unwritten => {
                let capacity = buf.capacity().max(buf.len() + trailer.len());
                self.queue.copies.reserve(capacity, size)
            }
            _ => None,
        };
        // A message held in memory is committed on the session's own
        // thread: a few page-cache writes cost less than the hand-over to
        // a blocking thread and back (docs/durability.md, "A new message").
        // Not when its record would start a new log segment, which may
        // mean creating and zero-filling a file.
        let inline = match &out {
            Sink::Memory { buf, .. } => {
                let record = (buf.len() + trailer.len()) as u64;
                may_block_briefly() && log.as_ref().is_none_or(|log| log.has_room(record))
            }
            Sink::File { .. } => false,
        };
        // Done, or the flushes still to wait for.
        let work = move || {
            let io = |e| QueueError::io(&src, e);
            let sums = |content: u32| Checksums {
                content,
                envelope: envelope_crc,
            };
            let end = (header_len(&id) + trailer.len()) as u64 + size;
            // Filler over what a reused file holds beyond the new end.
            let filler = stale.filler_after(end);
            let (file, logged) = match out {
                Sink::Memory { file, mut buf } => {
                    let head = header(size, &id, sums(crc32fast::hash(&buf[content_start..])));
                    let prefix = wal::record_prefix(&id);
                    buf.reserve_exact(trailer.len());
                    buf.extend_from_slice(trailer.as_bytes());
                    buf[prefix..prefix + head.len()].copy_from_slice(head.as_bytes());
                    if !unwritten {
                        let record_len = buf.len();
                        buf.resize(record_len + filler, b'\n');
                        file.write_all_at(&buf[prefix..], 0).map_err(io)?;
                        buf.truncate(record_len);
                    }
                    (file, Some(buf))
                }
                Sink::File { out, crc } => {
                    let head = header(size, &id, sums(crc.finalize()));
                    let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
                    file.write_all(trailer.as_bytes()).map_err(io)?;
                    file.write_all(&vec![b'\n'; filler]).map_err(io)?;
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    file.write_all(head.as_bytes()).map_err(io)?;
                    (file, None)
                }
            };
            if !unwritten {
                publish(
                    &src,
                    &spares,
                    crate::queue::dir_handle(&dirs, target),
                    &id,
                    &dst,
                )?;
            }
            match (log, logged) {
                // The queue file is written before its record: a checkpoint
                // that retires the record's segment covers the file. An
                // unwritten one is registered before the checkpoint of the
                // record's segment may start (the guard), which writes it
                // out first.
                // The record goes back with the flush still to wait for:
                // its queue file's bytes may be sent to the queue manager.
                (Some(log), Some(mut record)) => {
                    wal::seal(&mut record, wal::Kind::Message, target, &id);
                    let appended = if unwritten {
                        log.append_pending(&mut record)
                            .map(|(place, guard)| (place.file.clone(), Some((file, guard, place))))
                    } else {
                        log.append(&mut record).map(|segment| (segment, None))
                    };
                    match appended {
                        Ok((segment, pending)) => {
                            let committer = GroupFlush::log();
                            let flushes = vec![Flush::Data(segment)];
                            // Nobody else flushing the log: this thread
                            // does it, with no hand-over.
                            match committer.flush_here(&flushes) {
                                Some(Ok(())) => Ok((Some(record), None, pending)),
                                Some(Err(e)) => {
                                    let _ = std::fs::remove_file(&dst);
                                    Err(QueueError::io(&flush_dir, e))
                                }
                                None => Ok((Some(record), Some((committer, flushes)), pending)),
                            }
                        }
                        Err(e) => {
                            let _ = std::fs::remove_file(&dst);
                            Err(QueueError::io(&dst, e))
                        }
                    }
                }
                _ => Ok((
                    None,
                    Some((
                        GroupFlush::global(),
                        vec![Flush::Data(Arc::new(file)), Flush::Dir(flush_dir)],
                    )),
                    None,
                )),
            }
        };
        let committed = here_or_blocking(inline, &tmp, work).await;
        self.tmp_path = None;
        let (record, waiting, pending) = match committed {
            Ok(done) => done,
            Err(e) => {
                if unwritten {
                    self.give_back_unwritten(tmp);
                }
                return Err(e);
            }
        };
        if let Some((committer, flushes)) = waiting {
            if let Err(e) = committer.flush(flushes).await {
                // Not durable: the client is told to try again, and the
                // file must not be delivered behind its back.
                let _ = std::fs::remove_file(self.queue.path_of(target, &self.id));
                if pending.is_some() {
                    self.give_back_unwritten(tmp);
                }
                return Err(QueueError::io(&dir, e));
            }
        }
        let prefix = wal::record_prefix(self.id.as_str());
        let place = pending.as_ref().map(|(_, _, place)| place.clone());
        let copy = match (record, room) {
            (Some(record), Some(room)) => CommittedCopy::new(record, prefix, room),
            (Some(record), None) if unwritten => {
                place.and_then(|place| CommittedCopy::logged(&record, prefix, place))
            }
            (Some(record), None) if target == QueueName::Incoming => {
                let capacity = record.capacity();
                (self.queue.copies.reserve(capacity, size))
                    .and_then(|room| CommittedCopy::new(record, prefix, room))
            }
            _ => None,
        };
        if let (Some((file, guard, _)), Some(bytes)) = (pending, &copy) {
            let spare = Spare {
                path: tmp,
                file,
                inode: self.inode,
                stale: self.stale,
            };
            let message = Unwritten {
                spare,
                bytes: bytes.clone(),
                seq: guard.seq(),
                carried: false,
                since: std::time::Instant::now(),
            };
            self.queue.unwritten.insert(self.id.as_str(), message);
            drop(guard);
        }
        if target == QueueName::Incoming {
            self.queue.announce_committed(&self.id, copy);
        } else {
            self.queue.kick();
        }
        Ok(self.id.clone())
    }

    /// Store the `AUTH=` identity of MAIL FROM with the message.
    pub fn set_sender_auth(&mut self, identity: &str) {
        self.sender_auth = Some(identity.to_string());
    }

    /// Store the submitting client's attributes with the message.
    pub fn set_client_facts(&mut self, facts: crate::ClientFacts) {
        self.client_facts = Some(facts);
    }

    /// The spare of a message whose commit by its record alone failed
    /// (never written, never renamed) goes back to the pool.
    fn give_back_unwritten(&self, tmp: PathBuf) {
        let _ = self.queue.spares.give(self.queue.root(), &tmp);
    }

    /// Throw the message away (RSET, rejected, lost connection).
    pub fn abort(mut self) {
        self.discard();
    }

    fn discard(&mut self) {
        self.out = None;
        if let Some(path) = self.tmp_path.take() {
            let _ = self.queue.spares.give(self.queue.root(), &path);
        }
    }
}

impl Drop for MessageWriter {
    /// A writer dropped without commit (e.g. a cancelled task) is aborted.
    fn drop(&mut self) {
        self.discard();
    }
}

#[cfg(test)]
mod tests {
    use crate::envelope::{Envelope, EnvelopeRecipient};
    use crate::layout::QueueName;
    use crate::queue::Queue;

    /// The size Postfix logs counts a CRLF per line, and the content's
    /// checksum holds: the same whether the content stayed in memory or
    /// went to the file past the log's limit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn size_and_checksum_are_right_held_or_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let envelope = Envelope {
            sender: "a@spec.test".into(),
            recipients: vec![EnvelopeRecipient::new("b@spec.test")],
            arrival: std::time::SystemTime::now(),
            client: "local".into(),
            ret: None,
            envid: None,
            filter: None,
        };
        let line = [b'x'; 99];
        for lines in [3usize, 11_000] {
            let mut w = queue.new_message().unwrap();
            w.write_content(b"Subject: x\n\n").unwrap();
            for _ in 0..lines {
                w.write_content(&line).unwrap();
                w.write_content(b"\n").unwrap();
            }
            let id = w.commit(&envelope).await.unwrap();
            let path = queue.path_of(QueueName::Incoming, &id);
            let qf = crate::queue_file::read_queue_file(&path, id.as_str()).unwrap();
            let bytes = 12 + 100 * lines as u64;
            assert_eq!(qf.content_len, bytes);
            assert_eq!(qf.wire_size, bytes + 2 + lines as u64, "{lines} lines");
            // The checksums written both ways hold.
            let content = crate::queue_file::read_content(&path, id.as_str()).unwrap();
            assert_eq!(content.len() as u64, bytes);
        }
    }
}
