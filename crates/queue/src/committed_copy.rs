//! The bytes of a queue file as its commit wrote them, sent with the
//! commit's announcement to the queue manager of the same process: the
//! message's first delivery parses them instead of reading the file,
//! which is then not even written until something needs it
//! (`unwritten`, docs/durability.md "Unwritten queue files"). Every
//! message held in memory until its commit (content up to the log's
//! record limit) may be sent so. While the copies not yet dropped stay
//! within the budget (`gatepost_queue_memory_limit`, [`COPY_BUDGET`]
//! bytes by default) the bytes go along in memory; past it, a
//! flood that outruns the deliveries, each copy is only where its record
//! went in the log, read back from there (the page cache, mostly) when
//! its delivery starts: the log keeps that segment while the message has
//! no file (`unwritten`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::wal::{LogPlace, MAX_PAYLOAD};

/// Most bytes held in copies sent and not yet dropped (in the channel,
/// waiting for admission, in delivery), unless the server sets another
/// limit ([`CopyBudget::set_limit`]).
pub(crate) const COPY_BUDGET: usize = 16 << 20;

/// What the copies of one queue hold now, and may hold.
#[derive(Debug)]
pub(crate) struct CopyBudget {
    held: Arc<AtomicUsize>,
    limit: AtomicUsize,
}

impl Default for CopyBudget {
    fn default() -> Self {
        CopyBudget {
            held: Arc::default(),
            limit: AtomicUsize::new(COPY_BUDGET),
        }
    }
}

impl CopyBudget {
    /// Hold at most `bytes` in copies from now on (copies already made
    /// stay until dropped); 0 sends every copy as its place in the log.
    pub(crate) fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Release);
    }

    /// Room for the copy of a queue file holding `content_len` bytes of
    /// content, in a record buffer of `capacity` bytes; `None` when the
    /// content is too large for a log record or the budget is spent.
    pub(crate) fn reserve(&self, capacity: usize, content_len: u64) -> Option<CopyRoom> {
        if content_len > MAX_PAYLOAD as u64 {
            return None;
        }
        let limit = self.limit.load(Ordering::Acquire);
        let taken = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + capacity <= limit).then_some(held + capacity)
            });
        taken.ok().map(|_| CopyRoom {
            bytes: capacity,
            held: self.held.clone(),
        })
    }
}

/// Bytes of the budget taken for one copy, given back when dropped.
#[derive(Debug)]
pub(crate) struct CopyRoom {
    bytes: usize,
    held: Arc<AtomicUsize>,
}

impl Drop for CopyRoom {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A committed queue file's bytes, as written (on disk a reused file may
/// go on with filler, empty lines that hold nothing). Clones share the
/// bytes: the queue manager's copy and the one kept while the file is
/// unwritten (`unwritten`) are one buffer.
#[derive(Debug, Clone)]
pub struct CommittedCopy {
    shared: Arc<Shared>,
}

#[derive(Debug)]
enum Shared {
    /// The record in memory, within the budget.
    Held {
        record: Vec<u8>,
        start: usize,
        _room: CopyRoom,
    },
    /// Past the budget: where the log holds the record (a kept segment,
    /// docs/durability.md "Unwritten queue files"), read back at each use
    /// and never kept, so that a flood's copies hold only their headers.
    Logged {
        place: LogPlace,
        header: Vec<u8>,
        len: usize,
    },
}

/// A copy's queue-file bytes: shared with it, or read back from the log
/// for this use.
#[derive(Debug)]
pub struct CopyBytes {
    bytes: Bytes,
}

#[derive(Debug)]
enum Bytes {
    Shared(Arc<Shared>),
    Read { record: Vec<u8>, start: usize },
}

impl std::ops::Deref for CopyBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Shared(shared) => match &**shared {
                Shared::Held { record, start, .. } => &record[*start..],
                Shared::Logged { .. } => &[],
            },
            Bytes::Read { record, start } => &record[*start..],
        }
    }
}

impl CommittedCopy {
    /// The queue file at `record[start..]` (a log record whose queue file
    /// starts at `start`), in the budget's `room` (taken for at least
    /// `record`'s capacity); `None` when `start` is past the end.
    pub(crate) fn new(record: Vec<u8>, start: usize, room: CopyRoom) -> Option<CommittedCopy> {
        (start <= record.len()).then(|| CommittedCopy {
            shared: Arc::new(Shared::Held {
                record,
                start,
                _room: room,
            }),
        })
    }

    /// The queue file of `record`, appended at `place`, read back from
    /// the log at each use: only its header (the record prefix) stays in
    /// memory.
    pub(crate) fn logged(record: &[u8], prefix: usize, place: LogPlace) -> Option<CommittedCopy> {
        (prefix <= record.len()).then(|| CommittedCopy {
            shared: Arc::new(Shared::Logged {
                place,
                header: record[..prefix].to_vec(),
                len: record.len(),
            }),
        })
    }

    /// The whole log record of a copy held in memory (`None` for one read
    /// back from the log: it is never carried forward).
    pub(crate) fn record(&self) -> Option<&[u8]> {
        match &*self.shared {
            Shared::Held { record, .. } => Some(record),
            Shared::Logged { .. } => None,
        }
    }

    /// The queue file's bytes; `None` when a copy read back from the log
    /// no longer finds its record there (or the read fails).
    pub fn try_bytes(&self) -> Option<CopyBytes> {
        let bytes = match &*self.shared {
            Shared::Held { .. } => Bytes::Shared(self.shared.clone()),
            Shared::Logged { place, header, len } => Bytes::Read {
                record: place.read_back(header, *len)?,
                start: header.len(),
            },
        };
        Some(CopyBytes { bytes })
    }

    /// The queue file's bytes; empty when they are lost (which no queue
    /// file parses as: the reader goes to the file, [`try_bytes`](Self::try_bytes)).
    pub fn bytes(&self) -> CopyBytes {
        self.try_bytes().unwrap_or(CopyBytes {
            bytes: Bytes::Read {
                record: Vec::new(),
                start: 0,
            },
        })
    }
}

impl PartialEq for CommittedCopy {
    fn eq(&self, other: &Self) -> bool {
        *self.bytes() == *other.bytes()
    }
}

impl Eq for CommittedCopy {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_within_the_budget_are_made_and_give_it_back_when_dropped() {
        let budget = CopyBudget::default();
        let copy = |len: usize, start: usize| {
            let room = budget.reserve(len, 1)?;
            CommittedCopy::new(vec![b'x'; len], start, room)
        };
        let big = copy(COPY_BUDGET - 100, 10).expect("within the budget");
        assert_eq!(big.bytes().len(), COPY_BUDGET - 110);
        assert!(copy(200, 0).is_none(), "over the budget");
        let small = copy(100, 0).expect("the rest of it");
        let shared = big.clone();
        drop(big);
        assert!(copy(200, 0).is_none(), "a clone holds the bytes");
        drop(shared);
        assert!(copy(200, 0).is_some());
        drop(small);
        assert_eq!(budget.held.load(Ordering::Acquire), 0);
        // Content too large for a log record is not copied.
        assert!(budget.reserve(100, MAX_PAYLOAD as u64 + 1).is_none());
        // A limit of 0 takes nothing; a larger one takes more.
        budget.set_limit(0);
        assert!(budget.reserve(1, 1).is_none());
        budget.set_limit(COPY_BUDGET * 2);
        assert!(budget.reserve(COPY_BUDGET + 1, 1).is_some());
    }

    /// A copy read back from the log finds its record only while the
    /// segment still holds it: other bytes there (a retired segment
    /// reused) are no record of it, and the caller goes to the file.
    #[test]
    fn a_logged_copy_reads_its_record_back_or_nothing() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("segment"))
            .unwrap();
        let payload = b"queue file bytes".to_vec();
        let mut header = vec![7u8; 40];
        header[24..28].copy_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        let record = [header.clone(), payload.clone()].concat();
        file.write_all_at(&record, 100).unwrap();
        let file = Arc::new(file);
        let place = || LogPlace {
            file: file.clone(),
            offset: 100,
        };
        let first = CommittedCopy::logged(&record, header.len(), place()).unwrap();
        assert!(first.record().is_none(), "read back, not held");
        assert_eq!(first.try_bytes().as_deref(), Some(&payload[..]));
        // Overwritten: nothing found, whatever was read before (each use
        // reads the log again; nothing is kept in memory).
        let before = first.bytes();
        file.write_all_at(b"other", 100 + header.len() as u64)
            .unwrap();
        assert!(first.try_bytes().is_none());
        assert!(first.bytes().is_empty());
        assert_eq!(&*before, &payload[..]);
    }
}
