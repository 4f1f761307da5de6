//! Queue files: gatepost's own (any bytes where a queue file should be,
//! read by the listing and by `queue show`) and Postfix's record format
//! (`queue import-postfix`).

use std::sync::Arc;

use gatepost_queue::{parse_postfix_file, Queue, QueueId, QueueName};

thread_local! {
    /// One queue per thread, opened once (opening creates every directory).
    static QUEUE: Option<(tempfile::TempDir, Arc<Queue>)> = tempfile::tempdir()
        .ok()
        .and_then(|dir| Queue::open(dir.path()).ok().map(|q| (dir, q)));
}

/// Any bytes as a queue file in each queue: listing and `postcat` read it
/// or skip it, never panic.
pub fn queue_file(input: &[u8]) {
    QUEUE.with(|queue| {
        let Some((_, queue)) = queue else {
            return;
        };
        let id = QueueId::short_form(123_456, 0x1234);
        for q in [QueueName::Active, QueueName::Deferred, QueueName::Maildrop] {
            let path = queue.path_of(q, &id);
            if std::fs::write(&path, input).is_err() {
                return;
            }
            let _ = queue.list();
            let _ = queue.show(&id);
            let _ = std::fs::remove_file(&path);
        }
    })
}

/// Postfix's queue file records.
pub fn postfix_queue_file(input: &[u8]) {
    let _ = parse_postfix_file(input);
}
