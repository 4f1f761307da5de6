//! The bytes of a queue file as its commit wrote them, sent with the
//! commit's announcement to the queue manager of the same process: the
//! message's first delivery parses them instead of reading back the file
//! the session has just written (docs/durability.md, "A new message").
//! Only messages whose content the queue manager would read ahead anyway
//! ([`PRELOAD_CONTENT_LIMIT`]) are sent so, and only while the copies not
//! yet taken stay within [`COPY_BUDGET`] bytes: a flood that outruns the
//! deliveries is read from its files as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::client_facts::PRELOAD_CONTENT_LIMIT;

/// Most bytes held in copies sent and not yet dropped (in the channel,
/// waiting for admission, in delivery).
pub(crate) const COPY_BUDGET: usize = 16 << 20;

/// What the copies of one queue hold now.
#[derive(Debug, Default)]
pub(crate) struct CopyBudget {
    held: Arc<AtomicUsize>,
}

impl CopyBudget {
    /// A copy of the queue file at `record[start..]` (a log record whose
    /// queue file starts at `start`) holding `content_len` bytes of
    /// content; `None` when the content is too large to be read ahead or
    /// the budget is spent.
    pub(crate) fn copy(
        &self,
        record: Vec<u8>,
        start: usize,
        content_len: u64,
    ) -> Option<CommittedCopy> {
        if content_len > PRELOAD_CONTENT_LIMIT || start > record.len() {
            return None;
        }
        let cost = record.capacity();
        let taken = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + cost <= COPY_BUDGET).then_some(held + cost)
            });
        taken.ok().map(|_| CommittedCopy {
            record,
            start,
            held: self.held.clone(),
        })
    }
}

/// A committed queue file's bytes, as written (on disk a reused file may
/// go on with filler, empty lines that hold nothing).
#[derive(Debug)]
pub struct CommittedCopy {
    record: Vec<u8>,
    start: usize,
    held: Arc<AtomicUsize>,
}

impl CommittedCopy {
    /// The queue file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.record[self.start..]
    }
}

impl PartialEq for CommittedCopy {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for CommittedCopy {}

impl Drop for CommittedCopy {
    fn drop(&mut self) {
        self.held
            .fetch_sub(self.record.capacity(), Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_within_the_budget_are_made_and_give_it_back_when_dropped() {
        let budget = CopyBudget::default();
        let record = |len: usize| {
            let mut v = Vec::with_capacity(len);
            v.resize(len, b'x');
            v
        };
        let big = budget
            .copy(record(COPY_BUDGET - 100), 10, 1)
            .expect("within the budget");
        assert_eq!(big.bytes().len(), COPY_BUDGET - 110);
        assert!(budget.copy(record(200), 0, 1).is_none(), "over the budget");
        let small = budget.copy(record(100), 0, 1).expect("the rest of it");
        drop(big);
        assert!(budget.copy(record(200), 0, 1).is_some());
        drop(small);
        assert_eq!(budget.held.load(Ordering::Acquire), 0);
        // Content the queue manager would not read ahead is not copied.
        assert!(budget
            .copy(record(100), 0, PRELOAD_CONTENT_LIMIT + 1)
            .is_none());
    }
}
