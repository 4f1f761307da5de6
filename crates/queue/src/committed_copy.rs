//! The bytes of a queue file as its commit wrote them, sent with the
//! commit's announcement to the queue manager of the same process: the
//! message's first delivery parses them instead of reading the file,
//! which is then not even written until something needs it
//! (`unwritten`, docs/durability.md "Unwritten queue files"). Every
//! message held in memory until its commit (content up to the log's
//! record limit) may be sent so. While the copies not yet dropped stay
//! within [`COPY_BUDGET`] bytes the bytes go along in memory; past it, a
//! flood that outruns the deliveries, each copy is only where its record
//! went in the log, read back from there (the page cache, mostly) when
//! its delivery starts: the log keeps that segment while the message has
//! no file (`unwritten`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::wal::{LogPlace, MAX_PAYLOAD};

/// Most bytes held in copies sent and not yet dropped (in the channel,
/// waiting for admission, in delivery).
pub(crate) const COPY_BUDGET: usize = 16 << 20;

/// What the copies of one queue hold now.
#[derive(Debug, Default)]
pub(crate) struct CopyBudget {
    held: Arc<AtomicUsize>,
}

impl CopyBudget {
    /// Room for the copy of a queue file holding `content_len` bytes of
    /// content, in a record buffer of `capacity` bytes; `None` when the
    /// content is too large for a log record or the budget is spent.
    pub(crate) fn reserve(&self, capacity: usize, content_len: u64) -> Option<CopyRoom> {
        if content_len > MAX_PAYLOAD as u64 {
            return None;
        }
        let taken = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + capacity <= COPY_BUDGET).then_some(held + capacity)
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
    /// Past the budget: the record where the log holds it, read back on
    /// first use (a kept segment, docs/durability.md "Unwritten queue
    /// files").
    Logged {
        place: LogPlace,
        header: Vec<u8>,
        len: usize,
        loaded: OnceLock<Vec<u8>>,
    },
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
    /// the log when first needed: only its header (the record prefix) is
    /// kept in memory.
    pub(crate) fn logged(record: &[u8], prefix: usize, place: LogPlace) -> Option<CommittedCopy> {
        (prefix <= record.len()).then(|| CommittedCopy {
            shared: Arc::new(Shared::Logged {
                place,
                header: record[..prefix].to_vec(),
                len: record.len(),
                loaded: OnceLock::new(),
            }),
        })
    }

    /// Whether the bytes are read back from the log rather than held.
    pub(crate) fn is_logged(&self) -> bool {
        matches!(*self.shared, Shared::Logged { .. })
    }

    /// The whole log record, as last appended; `None` when a copy read
    /// from the log no longer finds it there.
    pub(crate) fn record(&self) -> Option<&[u8]> {
        match &*self.shared {
            Shared::Held { record, .. } => Some(record),
            Shared::Logged {
                place,
                header,
                len,
                loaded,
            } => {
                if let Some(record) = loaded.get() {
                    return Some(record);
                }
                // A failed read is not kept: the next use tries again.
                let record = place.read_back(header, *len)?;
                Some(loaded.get_or_init(|| record))
            }
        }
    }

    /// The queue file's bytes; `None` as for [`record`](Self::record).
    pub fn try_bytes(&self) -> Option<&[u8]> {
        let start = match &*self.shared {
            Shared::Held { start, .. } => *start,
            Shared::Logged { header, .. } => header.len(),
        };
        self.record().map(|record| &record[start..])
    }

    /// The queue file's bytes; empty when they are lost (which no queue
    /// file parses as: the reader goes to the file, [`try_bytes`](Self::try_bytes)).
    pub fn bytes(&self) -> &[u8] {
        self.try_bytes().unwrap_or_default()
    }
}

impl PartialEq for CommittedCopy {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
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
        assert!(first.is_logged());
        assert_eq!(first.try_bytes(), Some(&payload[..]));
        // Overwritten: a copy not read yet finds nothing; one read keeps
        // what it read.
        file.write_all_at(b"other", 100 + header.len() as u64)
            .unwrap();
        let late = CommittedCopy::logged(&record, header.len(), place()).unwrap();
        assert_eq!(late.try_bytes(), None);
        assert!(late.bytes().is_empty());
        assert_eq!(first.bytes(), &payload[..]);
    }
}
