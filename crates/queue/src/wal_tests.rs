//! Start-up recovery from the write-ahead log: the crash images a power
//! loss can leave (a queue file missing, cut short, or back after its
//! removal) are repaired from the log, and nothing is replayed twice.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::envelope::Envelope;
use crate::layout::QueueName;
use crate::queue::Queue;
use crate::queue_id::QueueId;
use crate::wal::Recovery;

/// Checkpoints that never come during a test.
const NO_CHECKPOINT: Duration = Duration::from_secs(3600);

fn envelope() -> Envelope {
    Envelope::for_test("alice@spec.test", "bob@spec.test")
}

async fn accept(queue: &Arc<Queue>, body: &str) -> (QueueId, Vec<u8>) {
    let mut w = queue.new_message().unwrap();
    w.write_content(format!("Subject: {body}\n\n{body}\n").as_bytes())
        .unwrap();
    let id = w.commit(&envelope()).await.unwrap();
    let bytes = std::fs::read(queue.path_of(QueueName::Incoming, &id)).unwrap();
    (id, bytes)
}

fn reopen(root: &Path) -> (Arc<Queue>, Recovery) {
    let queue = Queue::open(root).unwrap();
    let recovery = queue.start_wal_with(NO_CHECKPOINT).unwrap();
    (queue, recovery)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_short_files_come_back_removed_ones_stay_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, first) = reopen(dir.path());
    assert_eq!(first, Recovery::default());
    let (lost, lost_bytes) = accept(&queue, "lost").await;
    let (cut, cut_bytes) = accept(&queue, "cut").await;
    let (done, done_bytes) = accept(&queue, "done").await;
    let (kept, kept_bytes) = accept(&queue, "kept").await;
    queue.remove_file(&done, QueueName::Incoming).await.unwrap();
    assert!(!queue.path_of(QueueName::Incoming, &done).exists());

    // The image a power loss could leave: one file never reached the
    // disk, one only in part, one removal was lost; one was moved on.
    std::fs::remove_file(queue.path_of(QueueName::Incoming, &lost)).unwrap();
    std::fs::write(queue.path_of(QueueName::Incoming, &cut), &cut_bytes[..10]).unwrap();
    std::fs::write(queue.path_of(QueueName::Incoming, &done), &done_bytes).unwrap();
    std::fs::rename(
        queue.path_of(QueueName::Incoming, &kept),
        queue.path_of(QueueName::Deferred, &kept),
    )
    .unwrap();

    let (after, recovery) = reopen(dir.path());
    assert_eq!(
        recovery,
        Recovery {
            restored: 2,
            removed: 1,
            damaged: 0
        }
    );
    let read = |q, id: &QueueId| std::fs::read(after.path_of(q, id)).ok();
    assert_eq!(read(QueueName::Incoming, &lost), Some(lost_bytes));
    assert_eq!(read(QueueName::Incoming, &cut), Some(cut_bytes));
    assert_eq!(after.find(&done), None);
    assert_eq!(read(QueueName::Deferred, &kept), Some(kept_bytes));
    assert_eq!(after.find(&kept), Some(QueueName::Deferred));

    // What was replayed is retired: a second restart finds nothing to do,
    // even with the files gone again.
    std::fs::remove_file(after.path_of(QueueName::Incoming, &lost)).unwrap();
    let (_, again) = reopen(dir.path());
    assert_eq!(again, Recovery::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_after_recovery_are_logged_in_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = reopen(dir.path());
    let (first, _) = accept(&queue, "first").await;
    let (queue, _) = reopen(dir.path());
    let (second, second_bytes) = accept(&queue, "second").await;
    std::fs::remove_file(queue.path_of(QueueName::Incoming, &first)).unwrap();
    std::fs::remove_file(queue.path_of(QueueName::Incoming, &second)).unwrap();
    let (after, recovery) = reopen(dir.path());
    assert_eq!(recovery.restored, 1);
    assert_eq!(after.find(&first), None);
    assert_eq!(
        std::fs::read(after.path_of(QueueName::Incoming, &second)).unwrap(),
        second_bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = reopen(dir.path());
    let (id, bytes) = accept(&queue, "damaged").await;
    std::fs::remove_file(queue.path_of(QueueName::Incoming, &id)).unwrap();
    let wal = dir.path().join(crate::wal::WAL_DIR);
    let segment = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("spare.")
        })
        .unwrap();
    let mut data = std::fs::read(&segment).unwrap();
    let at = data
        .windows(bytes.len())
        .position(|w| w == bytes.as_slice())
        .unwrap();
    data[at + bytes.len() / 2] ^= 0x55;
    std::fs::write(&segment, data).unwrap();
    let (after, recovery) = reopen(dir.path());
    assert_eq!(recovery.damaged, 1);
    assert_eq!(recovery.restored, 0);
    assert_eq!(after.find(&id), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_deletion_is_not_undone() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = reopen(dir.path());
    let (id, _) = accept(&queue, "deleted").await;
    // `postsuper -d` runs in a process of its own, on the same directory.
    let operator = Queue::open(dir.path()).unwrap();
    operator.delete(&id).unwrap();
    let (after, recovery) = reopen(dir.path());
    assert_eq!(recovery.restored, 0);
    assert_eq!(after.find(&id), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_file_is_reused_by_the_next_message_and_a_stale_image_repaired() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = reopen(dir.path());
    let (old, old_bytes) = accept(&queue, "delivered long ago, a longer body").await;
    let old_ino = std::fs::metadata(queue.path_of(QueueName::Incoming, &old))
        .unwrap()
        .ino();
    queue.remove_file(&old, QueueName::Incoming).await.unwrap();
    assert_eq!(queue.find(&old), None);

    // No new inode: the next message takes the given-back file and
    // overwrites its block; the old bytes beyond its end become filler.
    let (new, new_bytes) = accept(&queue, "new").await;
    let path = queue.path_of(QueueName::Incoming, &new);
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), old_ino);
    assert_ne!(new, old);
    assert_eq!(new_bytes.len(), old_bytes.len());
    let end = new_bytes.windows(3).position(|w| w == b"\nE\n").unwrap() + 3;
    assert!(new_bytes[end..].iter().all(|&b| b == b'\n'));
    let read = crate::queue_file::read_queue_file(&path, new.as_str()).unwrap();
    assert_eq!(read.envelope.sender, "alice@spec.test");
    assert_eq!(
        crate::queue_file::read_content(&path, new.as_str()).unwrap(),
        b"Subject: new\n\nnew\n"
    );

    // A power loss before the new content reached the disk could leave
    // the old message's bytes under the new name: the log repairs it and
    // the old message stays delivered.
    std::fs::write(&path, &old_bytes).unwrap();
    let (after, recovery) = reopen(dir.path());
    assert_eq!(recovery.restored, 1);
    assert_eq!(
        std::fs::read(after.path_of(QueueName::Incoming, &new)).unwrap(),
        new_bytes[..end]
    );
    assert_eq!(after.find(&old), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_needs_a_new_segment_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = reopen(dir.path());
    let wal = queue.wal().unwrap().clone();
    assert!(wal.has_room(4096));
    // Records of some 600 KiB each (the subject and the body) until the
    // segment has no room for another: the next one's commit goes to a
    // blocking thread, where the append starts a new segment.
    let body = "x".repeat(300 * 1024);
    let mut accepted = Vec::new();
    loop {
        let (id, bytes) = accept(&queue, &body).await;
        let len = bytes.len() as u64;
        accepted.push((id, bytes));
        if !wal.has_room(len) {
            break;
        }
        assert!(accepted.len() < 64, "the segment never filled");
    }
    accepted.push(accept(&queue, &body).await);
    assert!(wal.has_room(4096));
    let read = |id: &QueueId| std::fs::read(queue.path_of(QueueName::Incoming, id)).unwrap();
    for (id, bytes) in &accepted {
        assert_eq!(&read(id), bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_file_keeps_its_id_out_of_use_its_old_inode_may_not_take_it() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = reopen(dir.path());
    let (lost, _) = accept(&queue, "lost").await;
    let (kept, _) = accept(&queue, "kept").await;
    // Held open, the old inode stays taken: the restore gets another one
    // (else it could get the same number back, and rightly not be listed).
    let _old_inode = std::fs::File::open(queue.path_of(QueueName::Incoming, &lost)).unwrap();
    std::fs::remove_file(queue.path_of(QueueName::Incoming, &lost)).unwrap();

    // Restored under its old name in a new inode: its id no longer names
    // its inode, so the old inode (reused by a later message) could get it
    // again; the server keeps that id out of use.
    let (after, recovery) = reopen(dir.path());
    assert_eq!(recovery.restored, 1);
    assert!(after.id_in_use(&lost));
    // A file named after its own inode cannot collide with a new one.
    assert!(!after.id_in_use(&kept));
    assert!(!after.id_in_use(&QueueId::short_form(1, 0xFFFF_FFFF)));

    // Without the server's list (another process), every queue is looked at.
    let tool = Queue::open(dir.path()).unwrap();
    assert!(tool.id_in_use(&lost));
    assert!(tool.id_in_use(&kept));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_are_full_size_from_the_start_and_spares_stay_few() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    queue.start_wal_with(Duration::from_millis(20)).unwrap();
    let wal = dir.path().join(crate::wal::WAL_DIR);
    let sizes = || -> Vec<(String, u64)> {
        std::fs::read_dir(&wal)
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                (name, e.metadata().unwrap().len())
            })
            .collect()
    };
    let full = crate::wal::SEGMENT_SIZE;
    // The first segment is made at full size before anything is accepted,
    // and the checkpointer makes a spare of that size at once.
    let current: Vec<_> = sizes()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("spare."))
        .collect();
    assert_eq!(current.len(), 1, "{current:?}");
    assert_eq!(current[0].1, full);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sizes()
        .iter()
        .any(|(name, len)| name.starts_with("spare.") && *len == full)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no spare: {:?}",
            sizes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Records of some 600 KiB (the subject and the body), checkpointed
    // every 20 ms: segments rotate and retire, and are reused, not piled up.
    let body = "x".repeat(300 * 1024);
    let mut accepted = Vec::new();
    for _ in 0..40 {
        accepted.push(accept(&queue, &body).await);
    }
    // Closed segments retire at the next checkpoints (a busy machine's
    // `syncfs` may take a while): what stays is the current one and at
    // most two spares.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sizes().len() > 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "segments piled up: {:?}",
            sizes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let spares = sizes()
        .iter()
        .filter(|(name, _)| name.starts_with("spare."))
        .count();
    assert!(spares <= 2, "{:?}", sizes());
    for (id, bytes) in &accepted {
        assert_eq!(
            &std::fs::read(queue.path_of(QueueName::Incoming, id)).unwrap(),
            bytes
        );
    }
}

/// A flood leaves up to 256 MiB of spare segments for the next one (a
/// start finding more, a crash's replayed segments on top of them, keeps
/// that many); on a log idle for 300 checkpoint ages (10 minutes by
/// default) all but two go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spares_beyond_two_go_once_the_log_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join(crate::wal::WAL_DIR);
    std::fs::create_dir_all(&wal).unwrap();
    let left = crate::wal::MAX_SPARES + 4;
    for n in 0..left {
        let spare = std::fs::File::create(wal.join(format!("spare.{n}"))).unwrap();
        spare.set_len(crate::wal::SEGMENT_SIZE).unwrap();
    }
    let spares = || {
        std::fs::read_dir(&wal)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("spare."))
            .count()
    };
    let queue = Queue::open(dir.path()).unwrap();
    // Idle after 300 × 10 ms.
    queue.start_wal_with(Duration::from_millis(10)).unwrap();
    assert_eq!(
        spares(),
        crate::wal::MAX_SPARES - 1,
        "{left} capped, one became the current segment"
    );
    let started = std::time::Instant::now();
    while spares() > 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "spares stayed: {}",
            spares()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(2900),
        "not idle yet"
    );
    // The log still takes messages.
    let (id, _) = accept(&queue, "after the trim").await;
    assert_eq!(queue.find(&id), Some(QueueName::Incoming));
}
