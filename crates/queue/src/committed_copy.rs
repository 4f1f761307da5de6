//! The bytes of a queue file as its commit wrote them, sent with the
//! commit's announcement to the queue manager of the same process: the
//! message's first delivery parses them instead of reading the file,
//! which is then not even written until something needs it
//! (`unwritten`, docs/durability.md "Unwritten queue files"). Every
//! message held in memory until its commit (content up to the log's
//! record limit) may be sent so, while the copies not yet dropped stay
//! within [`COPY_BUDGET`] bytes: a flood that outruns the deliveries is
//! written to its files and read from them as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::wal::MAX_PAYLOAD;

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
struct Shared {
    record: Vec<u8>,
    start: usize,
    _room: CopyRoom,
}

impl CommittedCopy {
    /// The queue file at `record[start..]` (a log record whose queue file
    /// starts at `start`), in the budget's `room` (taken for at least
    /// `record`'s capacity); `None` when `start` is past the end.
    pub(crate) fn new(record: Vec<u8>, start: usize, room: CopyRoom) -> Option<CommittedCopy> {
        (start <= record.len()).then(|| CommittedCopy {
            shared: Arc::new(Shared {
                record,
                start,
                _room: room,
            }),
        })
    }

    /// The whole log record, as last appended.
    pub(crate) fn record(&self) -> &[u8] {
        &self.shared.record
    }

    /// The queue file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.shared.record[self.shared.start..]
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
}
