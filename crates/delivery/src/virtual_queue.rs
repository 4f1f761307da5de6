//! The virtual(8) deliveries waiting for a helper (`helper.rs`), and who
//! takes them. The first helper takes whatever waits, as one request; the
//! others join in only when the waiting content is large. Small messages
//! then go together, in few large batches, to one store process (one
//! flush round and one `new/` fsync for many, no contention between store
//! processes on the same Maildir), while large ones are copied by several
//! helpers at once.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Waiting content (encoded bytes) from which every helper takes work.
pub(crate) const LARGE_BACKLOG: usize = 256 * 1024;
/// Most deliveries in one request.
const MAX_BATCH: usize = 256;
/// A request stops growing past this much content (it takes at least one
/// delivery), leaving the rest to another helper.
const BATCH_BYTES: usize = 256 * 1024;

/// One waiting delivery: its encoded fields, and where its verdict goes.
pub(crate) struct Job<R> {
    pub(crate) encoded: Vec<u8>,
    pub(crate) reply: R,
}

#[derive(Default)]
struct Waiting<R> {
    jobs: VecDeque<Job<R>>,
    bytes: usize,
    closed: bool,
}

/// The queue; `R` is the verdict's way back.
pub(crate) struct VirtualQueue<R> {
    waiting: Mutex<Waiting<R>>,
    /// Something waits (for the first helper).
    ready: Notify,
    /// `LARGE_BACKLOG` waits (for the others).
    backlog: Notify,
}

impl<R> VirtualQueue<R> {
    pub(crate) fn new() -> Self {
        VirtualQueue {
            waiting: Mutex::new(Waiting {
                jobs: VecDeque::new(),
                bytes: 0,
                closed: false,
            }),
            ready: Notify::new(),
            backlog: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting<R>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue a delivery; `false` once the queue is closed.
    pub(crate) fn push(&self, job: Job<R>) -> bool {
        let large = {
            let mut w = self.lock();
            if w.closed {
                return false;
            }
            w.bytes += job.encoded.len();
            w.jobs.push_back(job);
            w.bytes >= LARGE_BACKLOG
        };
        self.ready.notify_one();
        if large {
            self.backlog.notify_one();
        }
        true
    }

    /// The next request's deliveries: for the `first` helper as soon as
    /// anything waits, for the others once `LARGE_BACKLOG` does. `None`
    /// when the queue is closed and empty.
    pub(crate) async fn take(&self, first: bool) -> Option<Vec<Job<R>>> {
        loop {
            {
                let mut w = self.lock();
                if !w.jobs.is_empty() && (first || w.bytes >= LARGE_BACKLOG) {
                    let mut jobs = Vec::new();
                    let mut bytes = 0;
                    while jobs.len() < MAX_BATCH && (jobs.is_empty() || bytes < BATCH_BYTES) {
                        let Some(job) = w.jobs.pop_front() else {
                            break;
                        };
                        bytes += job.encoded.len();
                        jobs.push(job);
                    }
                    w.bytes -= bytes;
                    let more = !w.jobs.is_empty();
                    let large = w.bytes >= LARGE_BACKLOG;
                    drop(w);
                    // What is left goes to the next helper free.
                    if more {
                        self.ready.notify_one();
                    }
                    if large {
                        self.backlog.notify_one();
                    }
                    return Some(jobs);
                }
                if w.closed && w.jobs.is_empty() {
                    return None;
                }
            }
            if first {
                self.ready.notified().await;
            } else {
                self.backlog.notified().await;
            }
        }
    }

    /// No more deliveries: helpers end once the queue is empty.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_waiters();
        self.backlog.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn job(len: usize) -> Job<usize> {
        Job {
            encoded: vec![0; len],
            reply: len,
        }
    }

    async fn within<T>(f: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(Duration::from_millis(200), f)
            .await
            .ok()
    }

    #[tokio::test]
    async fn small_deliveries_wait_for_the_first_helper_as_one_batch() {
        let q = VirtualQueue::new();
        for _ in 0..10 {
            assert!(q.push(job(1024)));
        }
        // Another helper does not take 10 KiB.
        assert!(within(q.take(false)).await.is_none());
        let batch = within(q.take(true)).await.flatten().unwrap();
        assert_eq!(batch.len(), 10);
        assert!(within(q.take(true)).await.is_none());
    }

    #[tokio::test]
    async fn a_large_backlog_is_shared_by_the_other_helpers() {
        let q = Arc::new(VirtualQueue::new());
        for _ in 0..8 {
            q.push(job(100 * 1024));
        }
        let first = within(q.take(true)).await.flatten().unwrap();
        assert_eq!(first.len(), 3, "up to 256 KiB, at least one");
        // 500 KiB left: another helper takes its share.
        let other = within(q.take(false)).await.flatten().unwrap();
        assert_eq!(other.len(), 3);
        // 200 KiB left: no longer a large backlog, the first helper's.
        assert!(within(q.take(false)).await.is_none());
        let rest = within(q.take(true)).await.flatten().unwrap();
        assert_eq!(rest.len(), 2);
        // One delivery larger than a batch still goes, alone.
        q.push(job(2 * BATCH_BYTES));
        q.push(job(10));
        assert_eq!(within(q.take(false)).await.flatten().unwrap().len(), 1);
        assert_eq!(within(q.take(true)).await.flatten().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_waiting_helper_is_woken_and_a_closed_queue_ends_them() {
        let q = Arc::new(VirtualQueue::new());
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move { q.take(true).await.map(|jobs| jobs.len()) })
        };
        tokio::task::yield_now().await;
        q.push(job(10));
        assert_eq!(within(waiter).await.unwrap().unwrap(), Some(1));
        let other = {
            let q = q.clone();
            tokio::spawn(async move { q.take(false).await.map(|jobs| jobs.len()) })
        };
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(within(other).await.unwrap().unwrap(), None);
        assert!(!q.push(job(10)));
    }
}
