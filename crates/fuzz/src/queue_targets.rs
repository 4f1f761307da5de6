//! Queue files: gatepost's own (any bytes where a queue file should be,
//! read by the listing and by `queue show`) and Postfix's record format
//! (`queue import-postfix`).

use gatepost_queue::{parse_postfix_file, Queue, QueueId, QueueName};

/// Any bytes as a queue file in each queue: listing and `postcat` read it
/// or skip it, never panic.
pub fn queue_file(input: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let Ok(queue) = Queue::open(dir.path()) else {
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
}

/// Postfix's queue file records.
pub fn postfix_queue_file(input: &[u8]) {
    let _ = parse_postfix_file(input);
}
