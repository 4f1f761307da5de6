//! Messages committed by their log record alone (docs/durability.md,
//! "Unwritten queue files"): a new message whose queue-file bytes went to
//! the queue manager with its announcement (`CommittedCopy`) has its file
//! written only when something needs it. Most are delivered first, and
//! their removal is a tombstone and the spare file going back to the pool:
//! no write, no rename, no lookup. A file is written out (from the same
//! bytes, into the spare taken for it, renamed into `incoming` under the
//! queue id) when
//! - its delivery pass needs a file: a status record to append, a bounce
//!   or delay notice to send, a deferral (`Queue::write_out`);
//! - a checkpoint is about to retire the log segment holding its record
//!   ([`UnwrittenFiles::before_checkpoint`]). A checkpoint keeps the
//!   segments of young messages instead (`KEEP_AGES`, within
//!   `KEPT_LOG_LIMIT`), so a message still in its first delivery costs no
//!   write besides its record; past that, a record held in memory is
//!   appended again to the current segment the first time
//!   ([`UnwrittenFiles::carry_or_write_out_through`]), and one read back
//!   from the log is written out;
//! - the server stops ([`UnwrittenFiles::write_out_all`]).
//!
//! A message the operator removed (`postsuper -d` finds it in the log
//! only and leaves its tombstone file) is dropped instead of written.
//!
//! The spare stays taken until then: no other message gets its inode, so
//! the queue id stays unique without a file to show for it.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::committed_copy::CommittedCopy;
use crate::error::QueueError;
use crate::layout::{queue_path, QueueName};
use crate::queue::{dir_handle, DirHandles};
use crate::recycle::{Spare, SparePool};
use crate::wal::Wal;

/// One message without its file.
#[derive(Debug)]
pub(crate) struct Unwritten {
    /// The spare taken for it, still empty of it.
    pub(crate) spare: Spare,
    /// Its queue file's bytes, held or read back from the log (shared
    /// with the queue manager's copy).
    pub(crate) bytes: CommittedCopy,
    /// The log segment holding its record.
    pub(crate) seq: u64,
    /// Whether a checkpoint already carried its record forward.
    pub(crate) carried: bool,
    /// Its commit (how long it may keep its segment).
    pub(crate) since: Instant,
}

/// Most bytes of closed log segments kept for messages without a file
/// ([`UnwrittenFiles::before_checkpoint`]); past it the oldest segments
/// go, their messages written out (or carried forward).
pub(crate) const KEPT_LOG_LIMIT: u64 = 256 << 20;

/// How many checkpoint ages a message without a file may keep the
/// segment of its record (30 s at the default 2 s).
pub(crate) const KEEP_AGES: u32 = 15;

/// What became of an unwritten message asked to be written out.
enum WriteOut {
    Written,
    /// Not (or no longer) unwritten.
    Absent,
    /// The operator removed it: dropped, its spare given back.
    Dropped,
}

/// The unwritten messages of one queue, by queue id.
#[derive(Debug)]
pub(crate) struct UnwrittenFiles {
    root: PathBuf,
    spares: Arc<SparePool>,
    dirs: Arc<DirHandles>,
    entries: Mutex<HashMap<String, Unwritten>>,
}

impl UnwrittenFiles {
    pub(crate) fn new(root: PathBuf, spares: Arc<SparePool>, dirs: Arc<DirHandles>) -> Self {
        UnwrittenFiles {
            root,
            spares,
            dirs,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Unwritten>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note that `id`'s file is not written (before the guard of its
    /// record's append is dropped).
    pub(crate) fn insert(&self, id: &str, message: Unwritten) {
        self.lock().insert(id.to_string(), message);
    }

    /// How many messages have no file.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether `id` is here (committed and neither removed nor written out).
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Take `id` out if its file is unwritten: its removal then needs no
    /// file operation, only the tombstone and the spare given back.
    pub(crate) fn take(&self, id: &str) -> Option<Unwritten> {
        self.lock().remove(id)
    }

    /// Give back the spare of a message that left the queue unwritten.
    pub(crate) fn give_back(&self, message: Unwritten) -> std::io::Result<()> {
        self.spares.give_unwritten(&self.root, message.spare)
    }

    /// Write out `id`'s file if it is unwritten; true when it was. Under
    /// the lock: a removal that comes meanwhile waits, then finds the file.
    /// A message the operator removed meanwhile (`postsuper -d` left its
    /// tombstone file) is dropped instead, and the answer is `NotFound`.
    pub(crate) fn write_out(&self, id: &str) -> Result<bool, QueueError> {
        match self.write_or_drop(id)? {
            WriteOut::Written => Ok(true),
            WriteOut::Absent => Ok(false),
            WriteOut::Dropped => Err(QueueError::io(
                &queue_path(&self.root, QueueName::Incoming, id),
                std::io::ErrorKind::NotFound.into(),
            )),
        }
    }

    fn write_or_drop(&self, id: &str) -> Result<WriteOut, QueueError> {
        let mut entries = self.lock();
        let Some(message) = entries.remove(id) else {
            return Ok(WriteOut::Absent);
        };
        if crate::wal::removed_by_operator(&self.root, id) {
            let _ = self.give_back(message);
            return Ok(WriteOut::Dropped);
        }
        match self.write(id, &message) {
            Ok(()) => Ok(WriteOut::Written),
            Err(e) => {
                entries.insert(id.to_string(), message);
                Err(e)
            }
        }
    }

    /// Write out every message whose record is in a segment up to `seq`
    /// (the checkpoint that retires them), one at a time.
    pub(crate) fn write_out_through(&self, seq: u64) -> Result<(), QueueError> {
        let due: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, m)| m.seq <= seq)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.write_or_drop(&id)?;
        }
        Ok(())
    }

    /// What a checkpoint that would retire the closed segments `retiring`
    /// (number and size, oldest first) lets go: the segments from the
    /// oldest holding the record of a message without a file, committed
    /// less than `KEEP_AGES` checkpoint ages (`age`) ago, stay, so that
    /// the queue manager reads the message from there (`CommittedCopy`)
    /// and no file is ever written for it, within `KEPT_LOG_LIMIT` bytes.
    /// The messages of the segments that go are carried forward or
    /// written out ([`carry_or_write_out_through`]). Returns the number
    /// of the last segment to retire (0: none).
    pub(crate) fn before_checkpoint(
        &self,
        wal: &Wal,
        retiring: &[(u64, u64)],
        age: Duration,
    ) -> Result<u64, QueueError> {
        let last = retiring.last().map_or(0, |(seq, _)| *seq);
        let keep_from = self
            .lock()
            .values()
            .filter(|m| m.seq <= last && m.since.elapsed() < age * KEEP_AGES)
            .map(|m| m.seq)
            .min();
        let through = match keep_from {
            None => last,
            Some(first) => {
                let kept = retiring.iter().filter(|(seq, _)| *seq >= first);
                let mut bytes: u64 = kept.clone().map(|(_, size)| size).sum();
                let mut through = retiring
                    .iter()
                    .filter(|(seq, _)| *seq < first)
                    .map(|(seq, _)| *seq)
                    .max()
                    .unwrap_or(0);
                for (seq, size) in kept {
                    if bytes <= KEPT_LOG_LIMIT {
                        break;
                    }
                    bytes -= size;
                    through = *seq;
                }
                through
            }
        };
        if through > 0 {
            self.carry_or_write_out_through(wal, through)?;
        }
        Ok(through)
    }

    /// Before a checkpoint retires the segments up to `seq`: carry the
    /// records of their unwritten messages forward into the current
    /// segment (one write, made durable by the checkpoint's `syncfs`), so
    /// that a message still in its first delivery costs one more log
    /// write rather than a file; write out those carried once already,
    /// and all of them when the log has no room for the batch or the
    /// write fails.
    pub(crate) fn carry_or_write_out_through(&self, wal: &Wal, seq: u64) -> Result<(), QueueError> {
        let removed = crate::wal::operator_removals(&self.root);
        let mut entries = self.lock();
        // What the operator removed is dropped, never carried: its
        // tombstone file goes once no record older than it is left.
        for id in &removed {
            if let Some(message) = entries.remove(id) {
                let _ = self.give_back(message);
            }
        }
        let mut ids = Vec::new();
        let mut batch = Vec::new();
        for (id, message) in entries.iter() {
            // Only a record held in memory is carried: a copy read back
            // from the log (no `record`) points at the segment that goes,
            // and is written out below instead.
            if message.seq > seq || message.carried {
                continue;
            }
            if let Some(record) = message.bytes.record() {
                ids.push(id.clone());
                batch.extend_from_slice(record);
            }
        }
        let log_dir = self.root.join(crate::wal::WAL_DIR);
        let placed = wal
            .place_carried(&mut batch)
            .map_err(|e| QueueError::io(&log_dir, e))?;
        if let Some(place) = placed {
            let mark = |entries: &mut HashMap<String, Unwritten>, at: u64| {
                for id in &ids {
                    if let Some(message) = entries.get_mut(id) {
                        message.seq = at;
                        message.carried = true;
                    }
                }
            };
            mark(&mut entries, place.seq);
            // Written without the lock: commits and removals go on.
            drop(entries);
            if let Err(e) = place.write(&batch) {
                gatepost_log::warning(
                    "qmgr",
                    format!("write-ahead log: carry records forward: {e}"),
                );
                // Their first records are still needed: written out below.
                mark(&mut self.lock(), seq);
            }
        } else {
            drop(entries);
        }
        self.write_out_through(seq)
    }

    /// Write out every unwritten message (the server stops).
    pub(crate) fn write_out_all(&self) -> Result<(), QueueError> {
        self.write_out_through(u64::MAX)
    }

    /// The file: the bytes (and filler over what the spare held beyond
    /// them), then the rename into `incoming`.
    fn write(&self, id: &str, message: &Unwritten) -> Result<(), QueueError> {
        let spare = &message.spare;
        let io = |e| QueueError::io(&spare.path, e);
        // Its segment is kept while it is here: the record is there.
        let bytes = message
            .bytes
            .try_bytes()
            .ok_or_else(|| io(std::io::Error::other("record not found in the log")))?;
        spare.file.write_all_at(&bytes, 0).map_err(io)?;
        let filler = spare.stale.filler_after(bytes.len() as u64);
        if filler > 0 {
            spare
                .file
                .write_all_at(&vec![b'\n'; filler], bytes.len() as u64)
                .map_err(io)?;
        }
        let dst = queue_path(&self.root, QueueName::Incoming, id);
        crate::writer::publish(
            &spare.path,
            &self.spares,
            dir_handle(&self.dirs, QueueName::Incoming),
            id,
            &dst,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::envelope::Envelope;
    use crate::layout::QueueName;
    use crate::manager_link::ManagerRequest;
    use crate::queue::Queue;
    use crate::queue_id::QueueId;
    use crate::CommittedCopy;

    fn envelope() -> Envelope {
        Envelope::for_test("alice@spec.test", "bob@spec.test")
    }

    /// Commit a message with a queue manager listening; its id and the
    /// bytes announced with it.
    async fn accept(
        queue: &Arc<Queue>,
        requests: &mut tokio::sync::mpsc::UnboundedReceiver<ManagerRequest>,
        body: &str,
    ) -> (QueueId, CommittedCopy) {
        let mut w = queue.new_message().unwrap();
        w.write_content(format!("Subject: {body}\n\n{body}\n").as_bytes())
            .unwrap();
        let id = w.commit(&envelope()).await.unwrap();
        match requests.try_recv() {
            Ok(ManagerRequest::Committed(announced, Some(copy))) if announced == id => (id, copy),
            other => panic!("no copy announced: {other:?}"),
        }
    }

    /// A queue in a new directory with its log (checkpoints at most
    /// `checkpoint_age` after a segment's first record) and a queue
    /// manager's end of the request channel.
    fn logged_queue(
        checkpoint_age: Duration,
    ) -> (
        tempfile::TempDir,
        Arc<Queue>,
        tokio::sync::mpsc::UnboundedReceiver<ManagerRequest>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        queue.start_wal_with(checkpoint_age).unwrap();
        let requests = queue.manager_requests();
        (dir, queue, requests)
    }

    /// A crash leaves only the log: recovery writes back the message
    /// never removed and not the one removed (its tombstone); a removal
    /// gives the spare back unwritten, and the next message takes it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recovery_writes_back_what_was_not_removed() {
        let (dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let (kept, kept_copy) = accept(&queue, &mut requests, "kept").await;
        let (gone, _) = accept(&queue, &mut requests, "gone").await;
        assert_eq!(queue.find(&kept), None, "no file at commit");
        queue.remove_file(&gone, QueueName::Incoming).await.unwrap();
        let (next, _) = accept(&queue, &mut requests, "next").await;
        assert_eq!(next.inode(), gone.inode(), "the spare went back");

        let after = Queue::open(dir.path()).unwrap();
        let recovery = after.start_wal_with(Duration::from_secs(3600)).unwrap();
        assert_eq!(recovery.restored, 2);
        let path = after.path_of(QueueName::Incoming, &kept);
        assert_eq!(std::fs::read(path).unwrap(), &*kept_copy.bytes());
        assert_eq!(after.find(&gone), None);
        assert_eq!(after.find(&next), Some(QueueName::Incoming));
    }

    /// `mailq` lists a message that has no file yet from its record, and
    /// no longer once it is removed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listing_shows_a_message_that_lives_only_in_the_log() {
        let (_dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let (id, _) = accept(&queue, &mut requests, "listed").await;
        assert_eq!(queue.find(&id), None);
        let listed = queue.list().unwrap();
        let entry = listed.iter().find(|e| e.id == id).expect("listed");
        assert_eq!(entry.queue, QueueName::Incoming);
        assert_eq!(entry.sender, "alice@spec.test");
        assert_eq!(entry.recipients.len(), 1);
        assert_eq!(entry.recipients[0].address, "bob@spec.test");
        assert!(queue.still_incoming(&id));
        queue.remove_file(&id, QueueName::Incoming).await.unwrap();
        assert!(queue.list().unwrap().iter().all(|e| e.id != id));
        // A late announcement of it would find it gone.
        assert!(!queue.still_incoming(&id));
    }

    /// `mailq` goes by each message's last record across the segments
    /// (read newest first): a tombstone in a later segment hides the
    /// message recorded in an earlier one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listing_goes_by_the_last_record_across_segments() {
        let (_dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let (gone, _) = accept(&queue, &mut requests, "gone").await;
        let (kept, _) = accept(&queue, &mut requests, "kept").await;
        queue.wal().expect("log").rotate_for_test();
        queue.remove_file(&gone, QueueName::Incoming).await.unwrap();
        let (later, _) = accept(&queue, &mut requests, "later").await;
        let listed: Vec<_> = queue.list().unwrap().into_iter().map(|e| e.id).collect();
        assert!(listed.contains(&kept), "{listed:?}");
        assert!(listed.contains(&later), "{listed:?}");
        assert!(!listed.contains(&gone), "{listed:?}");
    }

    /// A checkpoint writes out the messages of the segments it retires
    /// before it lets their records go; the file is then removed as any.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checkpoint_writes_out_what_it_retires() {
        let (_dir, queue, mut requests) = logged_queue(Duration::from_millis(20));
        let (id, copy) = accept(&queue, &mut requests, "slow").await;
        let path = queue.path_of(QueueName::Incoming, &id);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            assert!(Instant::now() < deadline, "never written out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[..copy.bytes().len()], &*copy.bytes());
        assert!(!queue.write_out(&id).unwrap(), "written once");
        queue.remove_file(&id, QueueName::Incoming).await.unwrap();
        assert_eq!(queue.find(&id), None);
    }

    /// What a checkpoint does for unwritten message `id`: close the
    /// segment holding its record and carry forward or write out what is
    /// in it. The segment's number and path.
    fn checkpoint_now(queue: &Queue, id: &QueueId) -> (u64, std::path::PathBuf) {
        let wal = queue.wal().expect("log").clone();
        let seq = queue.unwritten.lock()[id.as_str()].seq;
        let closed = wal.rotate_for_test();
        queue
            .unwritten
            .carry_or_write_out_through(&wal, seq)
            .unwrap();
        (seq, closed)
    }

    /// The first checkpoint to retire a message's record carries the
    /// record forward instead of writing the file: a crash after that
    /// segment is gone still recovers the message, from the copy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_carried_record_outlives_its_first_segment() {
        let (dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let (id, copy) = accept(&queue, &mut requests, "carried").await;
        let (first, first_path) = checkpoint_now(&queue, &id);
        assert_eq!(queue.find(&id), None, "carried, not written");
        let entry_seq = queue.unwritten.lock()[id.as_str()].seq;
        assert!(entry_seq > first, "its record is in the current segment");
        // The checkpoint would now retire the first segment.
        std::fs::remove_file(first_path).unwrap();

        let after = Queue::open(dir.path()).unwrap();
        let recovery = after.start_wal_with(Duration::from_secs(3600)).unwrap();
        assert_eq!(recovery.restored, 1);
        let path = after.path_of(QueueName::Incoming, &id);
        assert_eq!(std::fs::read(path).unwrap(), &*copy.bytes());
    }

    /// A record is carried forward once: the next checkpoint that would
    /// retire it writes the file out; a tombstone after the carried record
    /// still removes the message on recovery.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_is_carried_once_then_written_out() {
        let (dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let (slow, copy) = accept(&queue, &mut requests, "slow").await;
        let (gone, _) = accept(&queue, &mut requests, "gone").await;
        checkpoint_now(&queue, &slow);
        queue.remove_file(&gone, QueueName::Incoming).await.unwrap();
        checkpoint_now(&queue, &slow);
        let path = queue.path_of(QueueName::Incoming, &slow);
        let on_disk = std::fs::read(&path).expect("written out");
        assert_eq!(&on_disk[..copy.bytes().len()], &*copy.bytes());
        assert!(!queue.unwritten.contains(slow.as_str()));

        let after = Queue::open(dir.path()).unwrap();
        after.start_wal_with(Duration::from_secs(3600)).unwrap();
        assert_eq!(after.find(&gone), None, "the tombstone came last");
        assert_eq!(after.find(&slow), Some(QueueName::Incoming));
    }

    /// Past the copies' budget a message still has no file: the queue
    /// manager gets the place of its record, read back from the log. A
    /// checkpoint keeps that segment while the message is young, and
    /// writes the file out (never carries the record) once it is not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_budget_the_copy_is_read_back_from_a_kept_segment() {
        let (_dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let budget = queue
            .copies
            .reserve(crate::committed_copy::COPY_BUDGET, 1)
            .expect("the whole budget");
        let (id, copy) = accept(&queue, &mut requests, "logged").await;
        drop(budget);
        assert!(copy.record().is_none(), "read back from the log");
        assert_eq!(queue.find(&id), None, "no file at commit");
        let bytes = copy.try_bytes().expect("read back from the log").to_vec();
        assert!(bytes.windows(6).any(|w| w == b"logged"));

        let wal = queue.wal().expect("log").clone();
        let seq = queue.unwritten.lock()[id.as_str()].seq;
        let closed = wal.rotate_for_test();
        let size = std::fs::metadata(&closed).unwrap().len();
        let young = Duration::from_secs(3600);
        let through = queue
            .unwritten
            .before_checkpoint(&wal, &[(seq, size)], young)
            .unwrap();
        assert!(through < seq, "kept");
        assert!(queue.unwritten.contains(id.as_str()));
        assert_eq!(queue.find(&id), None);

        // Past the kept bytes' limit the oldest segment goes all the same.
        let over = super::KEPT_LOG_LIMIT;
        let through = queue
            .unwritten
            .before_checkpoint(&wal, &[(seq, over), (seq + 1, 1)], young)
            .unwrap();
        assert_eq!(through, seq, "over the limit");
        assert!(!queue.unwritten.contains(id.as_str()), "written out");
        let path = queue.path_of(QueueName::Incoming, &id);
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[..bytes.len()], &bytes[..]);
        assert!(!queue.write_out(&id).unwrap(), "written once");
    }

    /// `gatepost_queue_memory_limit`: at 0 every copy is read back from
    /// the log; raised again, new copies are held in memory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_memory_limit_decides_which_copies_are_held() {
        let (_dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        queue.set_memory_limit(0);
        let (id, copy) = accept(&queue, &mut requests, "limit zero").await;
        assert!(copy.record().is_none(), "read back from the log");
        assert_eq!(queue.find(&id), None, "no file at commit");
        queue.set_memory_limit(1 << 20);
        let (_, held) = accept(&queue, &mut requests, "limit raised").await;
        assert!(held.record().is_some(), "held in memory");
    }

    /// The checkpointer itself: the segment of a message without a file
    /// outlives checkpoints while the message is young (a crash then
    /// recovers it from there), and goes once its file is written out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_keeps_a_young_message_s_segment() {
        let age = Duration::from_millis(100);
        let (dir, queue, mut requests) = logged_queue(age);
        let (id, copy) = accept(&queue, &mut requests, "young").await;
        let seq = queue.unwritten.lock()[id.as_str()].seq;
        let segment = dir
            .path()
            .join(crate::wal::WAL_DIR)
            .join(format!("{seq:016X}"));
        assert!(segment.exists(), "{}", segment.display());
        // Some checkpoints later (the message may keep its segment for 15
        // ages): the segment is closed and kept, the message has no file.
        let wal = queue.wal().expect("log").clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !wal.kept_for_test().contains(&seq) {
            assert!(Instant::now() < deadline, "never kept");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(age * 2).await;
        // What a crash now would leave: a copy of the queue, taken while
        // the checkpointer cannot write the file out (the registry's lock).
        let image = tempfile::tempdir().unwrap();
        {
            let entries = queue.unwritten.lock();
            assert!(entries.contains_key(id.as_str()), "no file yet");
            // A checkpoint retires the segment only after writing the
            // message out, which this lock holds back.
            assert!(segment.exists(), "still kept");
            let copied = std::process::Command::new("cp")
                .arg("-a")
                .arg(dir.path().join("."))
                .arg(image.path())
                .status()
                .unwrap();
            assert!(copied.success());
        }
        let after = Queue::open(image.path()).unwrap();
        let recovery = after.start_wal_with(Duration::from_secs(3600)).unwrap();
        assert_eq!(recovery.restored, 1, "recovered from the kept segment");
        let restored = std::fs::read(after.path_of(QueueName::Incoming, &id)).unwrap();
        assert_eq!(restored, &*copy.bytes());
        // Too old to keep: written out, then the segment retires.
        let deadline = Instant::now() + Duration::from_secs(20);
        while segment.exists() || queue.unwritten.contains(id.as_str()) {
            assert!(Instant::now() < deadline, "never retired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let path = queue.path_of(QueueName::Incoming, &id);
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&on_disk[..copy.bytes().len()], &*copy.bytes());
    }

    /// `postsuper -d` of a message that has no file yet: listed for
    /// `ALL`, removed (its tombstone file), then dropped by the server
    /// rather than written out or carried forward, and not restored by
    /// recovery.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_operator_removes_a_message_that_lives_only_in_the_log() {
        let (dir, queue, mut requests) = logged_queue(Duration::from_secs(3600));
        let (asked, _) = accept(&queue, &mut requests, "asked").await;
        let (carried, _) = accept(&queue, &mut requests, "carried").await;
        let all = queue.list_all().unwrap();
        assert!(
            all.contains(&(asked.clone(), QueueName::Incoming)),
            "{all:?}"
        );

        queue.delete(&asked).unwrap();
        let err = queue.write_out(&asked).expect_err("dropped, not written");
        assert!(err.is_not_found(), "{err}");
        assert!(!queue.unwritten.contains(asked.as_str()));
        assert_eq!(queue.find(&asked), None);

        queue.delete(&carried).unwrap();
        checkpoint_now(&queue, &carried);
        assert!(!queue.unwritten.contains(carried.as_str()), "not carried");
        assert_eq!(queue.find(&carried), None);

        let after = Queue::open(dir.path()).unwrap();
        let recovery = after.start_wal_with(Duration::from_secs(3600)).unwrap();
        assert_eq!(recovery.restored, 0);
        assert_eq!(after.find(&asked), None);
        assert_eq!(after.find(&carried), None);
    }
}
