//! The write-ahead log of accepted messages (docs/durability.md): segment
//! files under `wal/`, preallocated and zero-filled once so that an
//! `fdatasync` of one needs no journal commit; each accepted message's
//! complete queue-file bytes appended as one checksummed record, each
//! removal of a queue file as a tombstone record; a checkpointer thread
//! that makes the queue files themselves durable with one `syncfs(2)` and
//! then retires the segments it covered (renamed to `spare.N` and reused);
//! and the start-up recovery that replays what is left.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::QueueError;
use crate::group_flush::sync_dir;
use crate::layout::{queue_path, QueueName, TMP_DIR};

/// The log's directory under `queue_directory`.
pub(crate) const WAL_DIR: &str = "wal";
/// First bytes of every record.
const MAGIC: [u8; 8] = *b"gpWAL01\n";
/// Fixed part of a record: magic, segment sequence number, kind, queue,
/// id length, payload length, payload CRC-32, header CRC-32.
const FIXED: usize = 32;
/// Size of the segments made at the start and by the checkpointer, off
/// the path of any message ([`Wal::prepare_spare`]): a full segment is
/// checkpointed (one `syncfs`, two `fsync`s of `wal/`) at once, so the
/// larger it is, the fewer checkpoints a burst meets (docs/durability.md,
/// "What is on disk").
pub(crate) const SEGMENT_SIZE: u64 = 16 << 20;
/// Size of a segment made while an appender waits (no spare was ready):
/// the smallest that holds any record; a larger one would hold up every
/// session for its zero-filling. Let go when it retires.
const SMALLEST_SEGMENT: u64 = 1 << 20;
/// Largest queue file logged; larger messages are made durable by an
/// `fdatasync` of their own file (the cost of the copy outweighs the
/// journal commit saved).
pub(crate) const MAX_PAYLOAD: usize = 1 << 20;
/// A segment holding records is checkpointed at the latest this long
/// after its first record.
pub(crate) const CHECKPOINT_AGE: Duration = Duration::from_secs(2);
/// Retired segments kept for reuse: as many as the segments kept for
/// messages without a file may take (`unwritten::KEPT_LOG_LIMIT`), so
/// that a flood after the first one finds them zero-filled already.
const MAX_SPARES: usize = (crate::unwritten::KEPT_LOG_LIMIT / SEGMENT_SIZE) as usize;
/// Spares an idle log keeps: after [`SPARES_IDLE_AGES`] checkpoint ages
/// (10 minutes) without a segment filling up, the others are removed, so
/// that a flood's spares do not hold the disk for good.
const IDLE_SPARES: usize = 2;
/// See [`IDLE_SPARES`].
const SPARES_IDLE_AGES: u32 = 300;

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The complete queue file of an accepted message.
    Message = 1,
    /// The queue file was removed (delivered, bounced, expired, deleted).
    Removed = 2,
}

/// Bytes before the payload in a record for queue id `id`.
pub(crate) fn record_prefix(id: &str) -> usize {
    FIXED + id.len()
}

fn queue_code(q: QueueName) -> u8 {
    QueueName::ALL.iter().position(|x| *x == q).unwrap_or(0) as u8
}

fn queue_of(code: u8) -> Option<QueueName> {
    QueueName::ALL.get(code as usize).copied()
}

/// Fill in everything but the segment number and the header checksum of
/// `record`, which is `record_prefix(id)` bytes of room followed by the
/// payload (done outside the log's lock).
pub(crate) fn seal(record: &mut [u8], kind: Kind, queue: QueueName, id: &str) {
    let prefix = record_prefix(id);
    let payload_len = (record.len() - prefix) as u32;
    let crc = crc32fast::hash(&record[prefix..]);
    record[0..8].copy_from_slice(&MAGIC);
    record[16] = kind as u8;
    record[17] = queue_code(queue);
    record[18..20].copy_from_slice(&(id.len() as u16).to_le_bytes());
    record[20..24].copy_from_slice(&payload_len.to_le_bytes());
    record[24..28].copy_from_slice(&crc.to_le_bytes());
    record[FIXED..prefix].copy_from_slice(id.as_bytes());
}

/// Give a sealed `record` its segment number `seq` and the header
/// checksum that covers it (under the log's lock, at its append).
fn stamp(record: &mut [u8], seq: u64) {
    record[8..16].copy_from_slice(&seq.to_le_bytes());
    let id_len = u16::from_le_bytes([record[18], record[19]]) as usize;
    let crc = header_crc(record, id_len);
    record[28..32].copy_from_slice(&crc.to_le_bytes());
}

fn header_crc(record: &[u8], id_len: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&record[0..28]);
    h.update(&record[FIXED..FIXED + id_len]);
    h.finalize()
}

fn segment_name(seq: u64) -> String {
    format!("{seq:016X}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    (name.len() == 16)
        .then(|| u64::from_str_radix(name, 16).ok())
        .flatten()
}

/// Prefix of the tombstone files operator commands (other processes,
/// which cannot append to the server's log) leave in `wal/`.
const REMOVED_PREFIX: &str = "removed.";

/// Record durably, from another process, that the operator removes `id`
/// (`postsuper -d`); nothing to do where no log exists.
pub(crate) fn tombstone_file(root: &Path, id: &str) -> Result<(), QueueError> {
    let dir = root.join(WAL_DIR);
    if !dir.is_dir() {
        return Ok(());
    }
    let path = tombstone_path(root, id);
    File::create(&path).map_err(|e| QueueError::io(&path, e))?;
    sync_dir(&dir)
}

/// Where the operator's tombstone file of `id` goes.
fn tombstone_path(root: &Path, id: &str) -> PathBuf {
    root.join(WAL_DIR).join(format!("{REMOVED_PREFIX}{id}"))
}

/// Whether the operator removed `id` (its tombstone file is there).
pub(crate) fn removed_by_operator(root: &Path, id: &str) -> bool {
    tombstone_path(root, id).symlink_metadata().is_ok()
}

/// The ids whose tombstone file the operator left.
pub(crate) fn operator_removals(root: &Path) -> std::collections::HashSet<String> {
    tombstone_files(&root.join(WAL_DIR))
        .into_iter()
        .map(|(_, id)| id)
        .collect()
}

/// The tombstone files in `dir`: (path, queue id).
fn tombstone_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let id = name.strip_prefix(REMOVED_PREFIX)?.to_string();
            crate::queue_id::QueueId::is_valid(&id).then(|| (e.path(), id))
        })
        .collect()
}

fn spare_number(name: &str) -> Option<u64> {
    name.strip_prefix("spare.")?.parse().ok()
}

/// `syncfs(2)` of the filesystem holding `dir`.
fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let d = File::open(dir)?;
    nix::unistd::syncfs(d.as_raw_fd()).map_err(io::Error::from)
}

/// Create `path` holding `size` zero bytes, all written and fsynced, so
/// that later writes overwrite allocated, initialised blocks.
fn create_zeroed(path: &Path, size: u64) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let chunk = vec![0u8; 256 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(file)
}

struct Segment {
    seq: u64,
    path: PathBuf,
    file: Arc<File>,
    size: u64,
    used: u64,
    /// When the first record went in (checkpoint age).
    first_write: Option<Instant>,
    /// Records here whose queue-file side is not done yet ([`PendingGuard`]).
    pending: usize,
}

struct State {
    next_seq: u64,
    current: Segment,
    /// Rotated out, waiting for a checkpoint.
    closed: Vec<Segment>,
    /// Checkpointed but kept, oldest first: they hold the records of
    /// messages without a file (`unwritten`), looked at again by each
    /// checkpoint and at least every checkpoint age.
    kept: Vec<Segment>,
    /// When `kept` was last looked at.
    kept_since: Instant,
    /// Retired segments (path, size) ready for reuse.
    spares: Vec<(PathBuf, u64)>,
    next_spare: u64,
    /// When a segment last filled up (the log was busy): spares beyond
    /// [`IDLE_SPARES`] go once this is long past.
    last_full: Instant,
}

/// The log of one queue (see the module header).
pub(crate) struct Wal {
    dir: PathBuf,
    root: PathBuf,
    /// `CHECKPOINT_AGE`, longer in tests that look at the log.
    checkpoint_age: Duration,
    state: Mutex<State>,
    changed: Condvar,
    /// Run by each checkpoint before its `syncfs`, with the log and the
    /// segments it could retire (number and size, oldest first): keeps
    /// some, carries forward or writes out the messages whose records go
    /// (`unwritten`), and returns the number of the last segment to
    /// retire; the later ones are kept. A failure keeps them all.
    before_checkpoint: std::sync::OnceLock<BeforeCheckpoint>,
}

/// See [`Wal::before_checkpoint`].
pub(crate) type BeforeCheckpoint =
    Box<dyn Fn(&Wal, &[(u64, u64)]) -> Result<u64, QueueError> + Send + Sync>;

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Held from the append of a record whose queue-file side is not done yet
/// until it is: a tombstone until the file's unlink, a message committed
/// by its record alone until it is registered as unwritten (`unwritten`).
/// The checkpoint retiring the record's segment waits for it, so that it
/// writes out every unwritten file of the segment and its `syncfs` covers
/// the unlink.
pub(crate) struct PendingGuard {
    wal: Arc<Wal>,
    seq: u64,
}

impl PendingGuard {
    /// The sequence number of the record's segment.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut st = self.wal.lock();
        let seq = self.seq;
        let st = &mut *st;
        for seg in std::iter::once(&mut st.current).chain(st.closed.iter_mut()) {
            if seg.seq == seq {
                seg.pending = seg.pending.saturating_sub(1);
            }
        }
        // Only a closed segment's pending records hold a checkpoint back; one in
        // the current segment changes nothing the checkpointer waits for
        // (and would wake it once per delivered message).
        if seq != st.current.seq {
            self.wal.changed.notify_all();
        }
    }
}

/// Where an appended record went: its segment (to `fdatasync` before the
/// record may be relied on) and its offset there.
#[derive(Debug, Clone)]
pub(crate) struct LogPlace {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
}

impl LogPlace {
    /// Read back the record of `len` bytes appended here, which began
    /// with `header` (its first `record_prefix` bytes, segment number and
    /// checksums included); `None` when what is there now is not that
    /// record, whole and intact (the segment was retired and reused).
    pub(crate) fn read_back(&self, header: &[u8], len: usize) -> Option<Vec<u8>> {
        if header.len() < FIXED || len < header.len() {
            return None;
        }
        let mut record = vec![0u8; len];
        self.file.read_exact_at(&mut record, self.offset).ok()?;
        let crc = u32::from_le_bytes([header[24], header[25], header[26], header[27]]);
        (record[..header.len()] == *header && crc32fast::hash(&record[header.len()..]) == crc)
            .then_some(record)
    }
}

/// Room in a segment for records carried forward ([`Wal::place_carried`]).
pub(crate) struct CarriedPlace {
    file: Arc<File>,
    offset: u64,
    /// The segment's sequence number.
    pub(crate) seq: u64,
}

impl CarriedPlace {
    /// Write the placed batch (made durable by the checkpoint's `syncfs`
    /// that follows, before the segments holding the first copies retire;
    /// until then a gap of zeros here is skipped by recovery).
    pub(crate) fn write(&self, batch: &[u8]) -> io::Result<()> {
        self.file.write_all_at(batch, self.offset)
    }
}

/// What start-up recovery did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Queue files written back from the log (missing or damaged).
    pub restored: usize,
    /// Queue files removed because the log says they were removed.
    pub removed: usize,
    /// Records skipped because their checksum did not verify.
    pub damaged: usize,
}

impl Wal {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Most time between a segment's first record and its checkpoint.
    pub(crate) fn checkpoint_age(&self) -> Duration {
        self.checkpoint_age
    }

    /// Recover from what the log holds, then open a fresh segment and start
    /// the checkpointer. Runs before anything reads or writes the queue.
    pub(crate) fn open_with(
        root: &Path,
        checkpoint_age: Duration,
    ) -> Result<(Arc<Wal>, Recovery), QueueError> {
        let dir = root.join(WAL_DIR);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .map_err(|e| QueueError::io(&dir, e))?;
        let mut segments: Vec<(u64, PathBuf)> = Vec::new();
        let mut spares: Vec<(u64, PathBuf, u64)> = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| QueueError::io(&dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if let Some(seq) = parse_segment_name(&name) {
                segments.push((seq, entry.path()));
            } else if let Some(n) = spare_number(&name) {
                spares.push((n, entry.path(), size));
            }
        }
        segments.sort();
        let tombstones = tombstone_files(&dir);
        let recovery = replay(root, &segments, &tombstones)?;
        // Everything restored or removed, and every queue file the log
        // covered, is on disk before the log forgets it.
        if !segments.is_empty() || !tombstones.is_empty() {
            sync_filesystem(root).map_err(|e| QueueError::io(root, e))?;
        }
        for (path, _) in &tombstones {
            let _ = std::fs::remove_file(path);
        }
        let mut next_spare = spares.iter().map(|s| s.0 + 1).max().unwrap_or(0);
        let mut spare_list: Vec<(PathBuf, u64)> =
            spares.into_iter().map(|(_, p, s)| (p, s)).collect();
        for (_, path) in &segments {
            let spare = dir.join(format!("spare.{next_spare}"));
            next_spare += 1;
            std::fs::rename(path, &spare).map_err(|e| QueueError::io(path, e))?;
            let size = spare.metadata().map(|m| m.len()).unwrap_or(0);
            spare_list.push((spare, size));
        }
        // No more spares than a flood uses (the replayed segments of a
        // crash during one come on top of its spares): the smallest go.
        spare_list.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
        for (path, _) in spare_list.split_off(MAX_SPARES.min(spare_list.len())) {
            let _ = std::fs::remove_file(path);
        }
        sync_dir(&dir)?;
        let next_seq = segments.last().map(|s| s.0 + 1).unwrap_or(1);
        let placeholder = Segment {
            seq: 0,
            path: PathBuf::new(),
            file: Arc::new(File::open(&dir).map_err(|e| QueueError::io(&dir, e))?),
            size: 0,
            used: 0,
            first_write: None,
            pending: 0,
        };
        let wal = Arc::new(Wal {
            dir: dir.clone(),
            root: root.to_path_buf(),
            checkpoint_age,
            state: Mutex::new(State {
                next_seq,
                current: placeholder,
                closed: Vec::new(),
                kept: Vec::new(),
                kept_since: Instant::now(),
                spares: spare_list,
                next_spare,
                last_full: Instant::now(),
            }),
            changed: Condvar::new(),
            before_checkpoint: std::sync::OnceLock::new(),
        });
        {
            let mut st = wal.lock();
            // Full size from the start (before the listeners open).
            wal.rotate(&mut st, SEGMENT_SIZE)
                .map_err(|e| QueueError::io(&dir, e))?;
        }
        let me = wal.clone();
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || me.checkpointer())
            .map_err(|e| QueueError::io(&dir, e))?;
        Ok((wal, recovery))
    }

    /// Switch to a new segment (a spare renamed, or a new zero-filled
    /// file) whose name is durable before any record goes into it.
    fn rotate(&self, st: &mut State, need: u64) -> io::Result<()> {
        let seq = st.next_seq;
        let path = self.dir.join(segment_name(seq));
        // The largest spare that holds the record.
        let spare = (0..st.spares.len())
            .filter(|i| st.spares[*i].1 >= need.max(1))
            .max_by_key(|i| st.spares[*i].1);
        let (file, size) = match spare {
            Some(i) => {
                let (spare, size) = st.spares.swap_remove(i);
                std::fs::rename(&spare, &path)?;
                let file = OpenOptions::new().read(true).write(true).open(&path)?;
                (file, size)
            }
            None => {
                // Made while an appender waits: the smallest that serves
                // (a larger one would stall every session for its
                // zero-filling); the checkpointer makes the larger ones.
                let size = SMALLEST_SEGMENT.max(need.next_power_of_two());
                (create_zeroed(&path, size)?, size)
            }
        };
        sync_dir(&self.dir).map_err(|e| io::Error::other(e.to_string()))?;
        st.next_seq += 1;
        let old = std::mem::replace(
            &mut st.current,
            Segment {
                seq,
                path,
                file: Arc::new(file),
                size,
                used: 0,
                first_write: None,
                pending: 0,
            },
        );
        if old.used > 0 {
            st.closed.push(old);
        } else if old.size > 0 {
            // Never written: reusable as it is (no record carries its number).
            let spare = self.dir.join(format!("spare.{}", st.next_spare));
            st.next_spare += 1;
            if std::fs::rename(&old.path, &spare).is_ok() {
                st.spares.push((spare, old.size));
            }
        }
        Ok(())
    }

    /// Append a sealed record (see [`seal`]); returns the segment to
    /// `fdatasync` before the record may be relied on.
    fn append_locked(&self, st: &mut State, record: &mut [u8]) -> io::Result<LogPlace> {
        let len = record.len() as u64;
        if st.current.used + len > st.current.size {
            st.last_full = Instant::now();
            self.rotate(st, len)?;
            self.changed.notify_all();
        }
        let seg = &mut st.current;
        stamp(record, seg.seq);
        seg.file.write_all_at(record, seg.used)?;
        let place = LogPlace {
            file: seg.file.clone(),
            offset: seg.used,
        };
        seg.used += len;
        seg.first_write.get_or_insert_with(Instant::now);
        Ok(place)
    }

    /// Make room in the current segment for `batch`, records appended
    /// once already (each sealed, with its header), and give them its
    /// number and their new header checksums; the caller writes them at
    /// the place returned ([`CarriedPlace::write`]). Records appended
    /// meanwhile go after them, so a tombstone of one of their messages
    /// still comes last. `None` (nothing placed) when the batch would
    /// take more than half the segment's room: the appenders' records
    /// come first.
    pub(crate) fn place_carried(&self, batch: &mut [u8]) -> io::Result<Option<CarriedPlace>> {
        let mut st = self.lock();
        let seg = &mut st.current;
        let len = batch.len() as u64;
        if len == 0 || len > (seg.size - seg.used) / 2 {
            return Ok(None);
        }
        let mut pos = 0;
        while pos < batch.len() {
            let record = &mut batch[pos..];
            if record.len() < FIXED || record[0..8] != MAGIC {
                return Err(io::Error::other("carried record without its header"));
            }
            let id_len = u16::from_le_bytes([record[18], record[19]]) as usize;
            let payload = u32::from_le_bytes([record[20], record[21], record[22], record[23]]);
            let end = FIXED + id_len + payload as usize;
            if end > record.len() {
                return Err(io::Error::other("carried record cut short"));
            }
            stamp(record, seg.seq);
            pos += end;
        }
        let place = CarriedPlace {
            file: seg.file.clone(),
            offset: seg.used,
            seq: seg.seq,
        };
        seg.used += len;
        seg.first_write.get_or_insert_with(Instant::now);
        Ok(Some(place))
    }

    /// Close the current segment now, as a checkpoint would, but keep it
    /// from the checkpointer (the test plays its part); the path of the
    /// segment closed.
    #[cfg(test)]
    pub(crate) fn rotate_for_test(&self) -> PathBuf {
        let mut st = self.lock();
        let closed = st.current.path.clone();
        self.rotate(&mut st, 0).expect("rotate");
        st.closed.retain(|s| s.path != closed);
        closed
    }

    /// The numbers of the segments a checkpoint kept.
    #[cfg(test)]
    pub(crate) fn kept_for_test(&self) -> Vec<u64> {
        self.lock().kept.iter().map(|s| s.seq).collect()
    }

    /// Whether a record of `len` bytes fits in the current segment: its
    /// append will not rotate (which renames a spare segment and fsyncs
    /// `wal/`, or creates and zero-fills a new one).
    pub(crate) fn has_room(&self, len: u64) -> bool {
        let st = self.lock();
        st.current.used + len <= st.current.size
    }

    /// Log an accepted message's queue file.
    pub(crate) fn append(&self, record: &mut [u8]) -> io::Result<Arc<File>> {
        let mut st = self.lock();
        self.append_locked(&mut st, record).map(|place| place.file)
    }

    /// As [`append`](Self::append), for a record whose queue-file side is
    /// not done yet (a message committed by its record alone, a removal):
    /// the guard holds back the checkpoint of the record's segment until
    /// it is dropped.
    pub(crate) fn append_pending(
        self: &Arc<Self>,
        record: &mut [u8],
    ) -> io::Result<(LogPlace, PendingGuard)> {
        let mut st = self.lock();
        let segment = self.append_locked(&mut st, record)?;
        st.current.pending += 1;
        let guard = PendingGuard {
            wal: self.clone(),
            seq: st.current.seq,
        };
        Ok((segment, guard))
    }

    /// Set what each checkpoint runs before its `syncfs` (once).
    pub(crate) fn set_before_checkpoint(&self, hook: BeforeCheckpoint) {
        let _ = self.before_checkpoint.set(hook);
    }

    /// Log the removal of `id` from `queue`; the caller unlinks the file
    /// once the returned segment is flushed, then drops the guard.
    pub(crate) fn append_removal(
        self: &Arc<Self>,
        queue: QueueName,
        id: &str,
    ) -> io::Result<PendingGuard> {
        let mut record = vec![0u8; record_prefix(id)];
        seal(&mut record, Kind::Removed, queue, id);
        self.append_pending(&mut record).map(|(_, guard)| guard)
    }

    /// The checkpointer's loop (see the module header).
    fn checkpointer(&self) {
        // A spare ready before the first checkpoint rotates.
        self.prepare_spare();
        loop {
            let (mut retiring, tombstones) = self.wait_for_checkpoint();
            let sizes: Vec<(u64, u64)> = retiring.iter().map(|s| (s.seq, s.size)).collect();
            let last = sizes.last().map_or(0, |(seq, _)| *seq);
            let written = match self.before_checkpoint.get() {
                Some(hook) => hook(self, &sizes).map_err(|e| io::Error::other(e.to_string())),
                None => Ok(last),
            };
            let synced = written.and_then(|through| {
                sync_filesystem(&self.root)
                    .map(|()| through)
                    .map_err(|e| io::Error::other(format!("syncfs: {e}")))
            });
            match synced {
                Ok(through) => {
                    // Segments go oldest first: a later one may hold the
                    // tombstone of a message recorded in a kept one.
                    let keep = retiring.split_off(retiring.partition_point(|s| s.seq <= through));
                    let all_gone = keep.is_empty();
                    {
                        let mut st = self.lock();
                        st.kept = keep;
                        st.kept_since = Instant::now();
                    }
                    self.retire(retiring);
                    // Their removals were done before the rotation, so every
                    // record of their messages was in a retired segment.
                    if all_gone {
                        for (path, _) in tombstones {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
                Err(e) => {
                    gatepost_log::warning("qmgr", format!("write-ahead log checkpoint: {e}"));
                    let mut st = self.lock();
                    let later = std::mem::take(&mut st.closed);
                    st.closed = retiring;
                    st.closed.extend(later);
                    drop(st);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            self.prepare_spare();
        }
    }

    /// Block until segments are due (a full one, or the current one's
    /// first record older than `CHECKPOINT_AGE`), rotate the current one
    /// if it holds records, wait for their pending records, and take them.
    /// Also returns the operators' tombstone files whose removal is done:
    /// the current segment is then rotated too, so that no record older
    /// than the removal outlives this checkpoint.
    fn wait_for_checkpoint(&self) -> (Vec<Segment>, Vec<(PathBuf, String)>) {
        let mut st = self.lock();
        loop {
            self.trim_idle_spares(&mut st);
            if !st.closed.is_empty() {
                break;
            }
            let kept_wait = (!st.kept.is_empty())
                .then(|| self.checkpoint_age.saturating_sub(st.kept_since.elapsed()));
            if kept_wait == Some(Duration::ZERO) {
                break;
            }
            let wait = match st.current.first_write {
                Some(t) if t.elapsed() >= self.checkpoint_age => {
                    let st_ref = &mut *st;
                    match self.rotate(st_ref, 0) {
                        Ok(()) => break,
                        Err(e) => {
                            gatepost_log::warning(
                                "qmgr",
                                format!("write-ahead log: new segment: {e}"),
                            );
                            Duration::from_secs(1)
                        }
                    }
                }
                Some(t) => self.checkpoint_age.saturating_sub(t.elapsed()),
                None => self.checkpoint_age,
            };
            let wait = kept_wait.map_or(wait, |kept| kept.min(wait));
            st = self
                .changed
                .wait_timeout(st, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let mut tombstones: Vec<(PathBuf, String)> = tombstone_files(&self.dir)
            .into_iter()
            .filter(|(_, id)| {
                QueueName::ALL
                    .iter()
                    .all(|q| queue_path(&self.root, *q, id).symlink_metadata().is_err())
            })
            .collect();
        if !tombstones.is_empty() && st.current.used > 0 {
            if let Err(e) = self.rotate(&mut st, 0) {
                gatepost_log::warning("qmgr", format!("write-ahead log: new segment: {e}"));
                tombstones.clear();
            }
        }
        while st.closed.iter().any(|s| s.pending > 0) {
            st = self
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let mut retiring = std::mem::take(&mut st.kept);
        retiring.append(&mut st.closed);
        (retiring, tombstones)
    }

    /// After a successful `syncfs`: the segments' records are no longer
    /// needed. Renamed to spares (durably, before reuse could make them
    /// look current) or removed beyond `MAX_SPARES`.
    fn retire(&self, segments: Vec<Segment>) {
        let mut renamed = Vec::new();
        let first = {
            let mut st = self.lock();
            let n = st.next_spare;
            st.next_spare += segments.len() as u64;
            n
        };
        for (seg, number) in segments.into_iter().zip(first..) {
            let spare = self.dir.join(format!("spare.{number}"));
            match std::fs::rename(&seg.path, &spare) {
                Ok(()) => renamed.push((spare, seg.size)),
                Err(e) => gatepost_log::warning(
                    "qmgr",
                    format!("write-ahead log: retire {}: {e}", seg.path.display()),
                ),
            }
        }
        if let Err(e) = sync_dir(&self.dir) {
            gatepost_log::warning("qmgr", format!("write-ahead log: {e}"));
            return;
        }
        let mut st = self.lock();
        for (path, size) in renamed {
            // One made in a hurry is small: the checkpointer makes a full one.
            if st.spares.len() < MAX_SPARES && size >= SEGMENT_SIZE {
                st.spares.push((path, size));
            } else {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// On a log idle for [`SPARES_IDLE_AGES`] checkpoint ages (no segment
    /// filled up, none kept), remove the spares beyond [`IDLE_SPARES`],
    /// the smallest first.
    fn trim_idle_spares(&self, st: &mut State) {
        if st.spares.len() <= IDLE_SPARES
            || !st.kept.is_empty()
            || st.last_full.elapsed() < self.checkpoint_age * SPARES_IDLE_AGES
        {
            return;
        }
        st.spares.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
        for (path, _) in st.spares.split_off(IDLE_SPARES) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Keep one spare segment of full size ready so that appenders
    /// rarely zero-fill: a smaller spare still serves an appender that
    /// finds nothing better, but the next one is made at full size.
    fn prepare_spare(&self) {
        let (path, size) = {
            let mut st = self.lock();
            if st.spares.iter().any(|(_, size)| *size >= SEGMENT_SIZE) {
                return;
            }
            if st.spares.len() >= MAX_SPARES {
                // Make room: the smallest goes.
                if let Some(i) = (0..st.spares.len()).min_by_key(|i| st.spares[*i].1) {
                    let (small, _) = st.spares.swap_remove(i);
                    let _ = std::fs::remove_file(small);
                }
            }
            let n = st.next_spare;
            st.next_spare += 1;
            (self.dir.join(format!("spare.{n}")), SEGMENT_SIZE)
        };
        match create_zeroed(&path, size) {
            Ok(_) => self.lock().spares.push((path, size)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                gatepost_log::warning("qmgr", format!("write-ahead log: spare segment: {e}"));
            }
        }
    }
}

/// The last record of one queue id across the segments.
struct Last {
    kind: Kind,
    queue: QueueName,
    segment: usize,
    payload: std::ops::Range<usize>,
}

/// Read every segment in order and apply, per queue id, what its last
/// record says: a tombstone removes the file wherever it is; a message
/// whose queue file is missing, or does not start with the logged bytes,
/// is written back from the record. One segment is in memory at a time
/// (kept segments may add up to 256 MiB): the records are found in a
/// first pass, and each payload needed is read again from its segment.
fn replay(
    root: &Path,
    segments: &[(u64, PathBuf)],
    tombstones: &[(PathBuf, String)],
) -> Result<Recovery, QueueError> {
    let mut recovery = Recovery::default();
    let mut files: Vec<File> = Vec::with_capacity(segments.len());
    let mut last: HashMap<String, Last> = HashMap::new();
    for (index, (seq, path)) in segments.iter().enumerate() {
        let mut file = File::open(path).map_err(|e| QueueError::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| QueueError::io(path, e))?;
        let damaged = parse_segment(*seq, &bytes, |id, kind, queue, payload| {
            last.insert(
                id.to_string(),
                Last {
                    kind,
                    queue,
                    segment: index,
                    payload,
                },
            );
        });
        if damaged > 0 {
            gatepost_log::warning(
                "qmgr",
                format!(
                    "write-ahead log {}: skipped {damaged} damaged record(s)",
                    path.display()
                ),
            );
        }
        recovery.damaged += damaged;
        files.push(file);
    }
    // An operator's removal comes after every record of its message (the
    // message existed when it was removed); it removes it from any queue.
    for (_, id) in tombstones {
        let everywhere = Last {
            kind: Kind::Removed,
            queue: QueueName::Corrupt,
            segment: 0,
            payload: 0..0,
        };
        last.insert(id.clone(), everywhere);
    }
    let mut ids: Vec<&String> = last.keys().collect();
    ids.sort();
    for id in ids {
        let rec = &last[id];
        let found: Vec<(QueueName, PathBuf)> = QueueName::ALL
            .iter()
            .map(|q| (*q, queue_path(root, *q, id)))
            .filter(|(_, p)| p.symlink_metadata().is_ok())
            .collect();
        match rec.kind {
            Kind::Removed => {
                for (q, path) in found {
                    if q == QueueName::Corrupt && rec.queue != QueueName::Corrupt {
                        continue;
                    }
                    std::fs::remove_file(&path).map_err(|e| QueueError::io(&path, e))?;
                    recovery.removed += 1;
                    gatepost_log::info("qmgr", format!("{id}: removed"));
                }
            }
            Kind::Message => {
                if matches!(found.first(), Some((QueueName::Corrupt, _))) {
                    continue;
                }
                let segment = &segments[rec.segment].1;
                let mut payload = vec![0; rec.payload.len()];
                files[rec.segment]
                    .read_exact_at(&mut payload, rec.payload.start as u64)
                    .map_err(|e| QueueError::io(segment, e))?;
                let target = match found.first() {
                    Some((_, path)) if starts_with(path, &payload) => continue,
                    Some((_, path)) => path.clone(),
                    None => queue_path(root, rec.queue, id),
                };
                restore(root, id, &target, &payload)?;
                recovery.restored += 1;
                gatepost_log::info(
                    "qmgr",
                    format!("{id}: queue file restored from the write-ahead log"),
                );
            }
        }
    }
    Ok(recovery)
}

/// The messages that live only in the log: per queue id, the last record
/// of the segments in `wal/` when it is a message, no operator tombstone
/// names it and no queue holds its file: a message the running server
/// committed by its record alone (`unwritten`), or one a crash left for
/// recovery. Each with the queue its record names and its queue file's
/// bytes. Read only, for the operator's listing; a record being appended
/// meanwhile does not verify and is left out.
pub(crate) fn logged_only(root: &Path) -> Vec<(String, QueueName, Vec<u8>)> {
    let dir = root.join(WAL_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut segments: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            Some((
                parse_segment_name(&e.file_name().to_string_lossy())?,
                e.path(),
            ))
        })
        .collect();
    // Newest first, so that only the payloads of messages whose last
    // record is their message are copied, never those of the many a
    // later tombstone removes (kept segments may hold 256 MiB of them).
    segments.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut last: HashMap<String, (Kind, QueueName, Vec<u8>)> = HashMap::new();
    for (seq, path) in segments {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        // The last record of each id in this segment, where no newer
        // segment had one.
        let mut in_segment: HashMap<String, (Kind, QueueName, std::ops::Range<usize>)> =
            HashMap::new();
        parse_segment(seq, &bytes, |id, kind, queue, payload| {
            if !last.contains_key(id) {
                in_segment.insert(id.to_string(), (kind, queue, payload));
            }
        });
        for (id, (kind, queue, payload)) in in_segment {
            let payload = match kind {
                Kind::Message => bytes[payload].to_vec(),
                Kind::Removed => Vec::new(),
            };
            last.insert(id, (kind, queue, payload));
        }
    }
    for (_, id) in tombstone_files(&dir) {
        last.remove(&id);
    }
    let mut out: Vec<(String, QueueName, Vec<u8>)> = last
        .into_iter()
        .filter(|(id, (kind, _, _))| {
            *kind == Kind::Message
                && QueueName::ALL
                    .iter()
                    .all(|q| queue_path(root, *q, id).symlink_metadata().is_err())
        })
        .map(|(id, (_, queue, payload))| (id, queue, payload))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Walk the records of segment `seq` in `bytes`, calling `found` for each
/// one whose checksums verify; returns the number of damaged records.
/// Records of an earlier use of the file (another number) are skipped,
/// and so is anything between records that does not start with the magic.
fn parse_segment(
    seq: u64,
    bytes: &[u8],
    mut found: impl FnMut(&str, Kind, QueueName, std::ops::Range<usize>),
) -> usize {
    let mut damaged = 0;
    let mut pos = 0;
    while pos + FIXED <= bytes.len() {
        if bytes[pos..pos + 8] != MAGIC {
            match bytes[pos + 1..].iter().position(|&b| b == MAGIC[0]) {
                Some(n) => pos += 1 + n,
                None => break,
            }
            continue;
        }
        let h = &bytes[pos..];
        let id_len = u16::from_le_bytes([h[18], h[19]]) as usize;
        let payload_len = u32::from_le_bytes([h[20], h[21], h[22], h[23]]) as usize;
        let end = pos + FIXED + id_len + payload_len;
        let header_ok = pos + FIXED + id_len <= bytes.len()
            && u32::from_le_bytes([h[28], h[29], h[30], h[31]]) == header_crc(h, id_len);
        if !header_ok {
            damaged += 1;
            pos += 1;
            continue;
        }
        if end > bytes.len() {
            damaged += 1;
            pos += 1;
            continue;
        }
        let record_seq = u64::from_le_bytes(h[8..16].try_into().unwrap_or([0; 8]));
        if record_seq != seq {
            pos = end;
            continue;
        }
        let payload = pos + FIXED + id_len..end;
        let crc = u32::from_le_bytes([h[24], h[25], h[26], h[27]]);
        let id = std::str::from_utf8(&h[FIXED..FIXED + id_len]).ok();
        let kind = match h[16] {
            1 => Some(Kind::Message),
            2 => Some(Kind::Removed),
            _ => None,
        };
        match (id, kind, queue_of(h[17])) {
            (Some(id), Some(kind), Some(queue))
                if crate::queue_id::QueueId::is_valid(id)
                    && crc32fast::hash(&bytes[payload.clone()]) == crc =>
            {
                found(id, kind, queue, payload)
            }
            _ => damaged += 1,
        }
        pos = end;
    }
    damaged
}

/// Whether the file at `path` starts with `payload`.
fn starts_with(path: &Path, payload: &[u8]) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(payload.len());
    matches!(file.take(payload.len() as u64).read_to_end(&mut head), Ok(n) if n == payload.len())
        && head == payload
}

/// Write `payload` as the queue file `target` (through `tmp`, renamed
/// over whatever damaged file is there); made durable by the `syncfs`
/// that follows recovery.
fn restore(root: &Path, id: &str, target: &Path, payload: &[u8]) -> Result<(), QueueError> {
    let tmp = root.join(TMP_DIR).join(format!("restore.{id}"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| QueueError::io(&tmp, e))?;
    file.write_all(payload)
        .map_err(|e| QueueError::io(&tmp, e))?;
    std::fs::rename(&tmp, target).map_err(|e| QueueError::io(target, e))
}

#[cfg(test)]
#[path = "wal_tests.rs"]
mod recovery_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: Kind, q: QueueName, id: &str, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; record_prefix(id)];
        r.extend_from_slice(payload);
        seal(&mut r, kind, q, id);
        r
    }

    #[test]
    fn records_verify_and_stale_or_damaged_ones_are_skipped() {
        let mut seg = Vec::new();
        for (seq, id, body) in [
            (7u64, "ABCDEF1", b"one".as_slice()),
            (7, "ABCDEF2", b"two"),
            (3, "ABCDEF3", b"old"),
        ] {
            let mut r = record(Kind::Message, QueueName::Incoming, id, body);
            r[8..16].copy_from_slice(&seq.to_le_bytes());
            let crc = header_crc(&r, id.len());
            r[28..32].copy_from_slice(&crc.to_le_bytes());
            seg.extend_from_slice(&r);
        }
        // Damage the payload of the second record.
        let second = record_prefix("ABCDEF1") + 3 + record_prefix("ABCDEF2");
        seg[second] ^= 0xff;
        seg.extend_from_slice(&[0u8; 100]);
        let mut seen = Vec::new();
        let damaged = parse_segment(7, &seg, |id, _, _, p| {
            seen.push((id.to_string(), seg[p].to_vec()))
        });
        assert_eq!(seen, vec![("ABCDEF1".to_string(), b"one".to_vec())]);
        assert_eq!(damaged, 1);
    }
}
