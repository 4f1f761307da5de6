//! The in-process channel to the queue manager: the queue (a committed
//! message, an operator command) sends it typed requests: the same
//! [`TriggerRequest`]s other processes send through the `public/qmgr`
//! socket, and the id of each message this process committed into
//! `incoming` (so that the manager admits it without scanning the
//! directory). The manager connects once it runs; before that (or in a
//! process without one, e.g. `sendmail`) requests are dropped, as the
//! manager scans every queue when it starts.

use std::sync::Mutex;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::committed_copy::CommittedCopy;
use crate::queue_id::QueueId;
use crate::trigger::TriggerRequest;

/// What the queue manager of this process is asked.
#[derive(Debug, PartialEq, Eq)]
pub enum ManagerRequest {
    /// A request as other processes send it through the trigger socket.
    Trigger(TriggerRequest),
    /// Message `id` was just committed into `incoming`, with its queue
    /// file's bytes when they were kept for its first delivery.
    Committed(QueueId, Option<CommittedCopy>),
}

/// The sending end, held by the queue.
#[derive(Debug, Default)]
pub(crate) struct ManagerLink {
    sender: Mutex<Option<UnboundedSender<ManagerRequest>>>,
}

impl ManagerLink {
    /// Send `request` to the connected manager, if any.
    pub(crate) fn send(&self, request: ManagerRequest) {
        let guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = guard.as_ref() {
            let _ = tx.send(request);
        }
    }

    /// Whether a manager is connected and still listening.
    pub(crate) fn connected(&self) -> bool {
        let guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Connect a manager: requests go to the returned receiver from now on
    /// (a previously connected manager gets no more).
    pub(crate) fn connect(&self) -> UnboundedReceiver<ManagerRequest> {
        let (tx, rx) = unbounded_channel();
        *self.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::ManagerRequest;
    use crate::envelope::Envelope;
    use crate::queue::Queue;
    use crate::trigger::TriggerRequest;

    /// A message from s@ to r@ of spec.test, arrived now.
    fn envelope() -> Envelope {
        Envelope::for_test("s@spec.test", "r@spec.test")
    }

    #[tokio::test]
    async fn commits_and_operator_commands_reach_the_connected_manager() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        queue.kick(); // no manager yet: dropped
        let mut requests = queue.manager_requests();
        let mut writer = queue.new_message().unwrap();
        writer.write_content(b"Subject: x\n\nx\n").unwrap();
        let envelope = envelope();
        let id = writer.commit(&envelope).await.unwrap();
        // No write-ahead log: the file was flushed itself, no copy is sent.
        assert_eq!(requests.try_recv(), Ok(ManagerRequest::Committed(id, None)));
        queue.flush().unwrap();
        assert_eq!(
            requests.try_recv(),
            Ok(ManagerRequest::Trigger(TriggerRequest::Flush))
        );
        assert!(requests.try_recv().is_err());

        // A manager that connects later takes over the channel.
        let mut later = queue.manager_requests();
        queue.kick();
        assert_eq!(
            later.try_recv(),
            Ok(ManagerRequest::Trigger(TriggerRequest::ScanIncoming))
        );
        assert!(requests.try_recv().is_err());
    }

    /// With the write-ahead log, a small message's announcement carries
    /// the queue file's bytes, which parse as the file does once it is
    /// written out; a message too large for a log record carries none (and
    /// its file is written at commit).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_logged_commit_sends_the_queue_file_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        queue.start_write_ahead_log().unwrap();
        let mut requests = queue.manager_requests();
        let envelope = envelope();
        let mut writer = queue.new_message().unwrap();
        writer.write_content(b"Subject: x\n\nbody\n").unwrap();
        let id = writer.commit(&envelope).await.unwrap();
        let Ok(ManagerRequest::Committed(announced, Some(copy))) = requests.try_recv() else {
            panic!("no copy sent");
        };
        assert_eq!(announced, id);
        // Committed by its record alone: the file comes when asked for.
        let path = queue.path_of(crate::QueueName::Incoming, &id);
        assert!(!path.exists());
        assert!(queue.write_out(&id).unwrap());
        assert!(!queue.write_out(&id).unwrap(), "written once");
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(&*copy.bytes(), &on_disk[..copy.bytes().len()]);
        let (from_copy, preloaded) =
            crate::manager::read_committed_copy(&copy, id.as_str()).unwrap();
        let from_file = crate::manager::read_queue_file(&path, id.as_str()).unwrap();
        assert_eq!(from_copy.envelope.sender, from_file.envelope.sender);
        assert_eq!(from_copy.wire_size, from_file.wire_size);
        // The content stays in the copy (within its budget) until a
        // delivery takes it.
        let ahead = preloaded.unwrap();
        assert!(matches!(ahead, crate::ContentAhead::InCopy { .. }));
        assert_eq!(ahead.into_preloaded().0, b"Subject: x\n\nbody\n");

        let mut writer = queue.new_message().unwrap();
        let large = vec![b'x'; crate::wal::MAX_PAYLOAD + 1];
        writer.write_content(&large).unwrap();
        let id = writer.commit(&envelope).await.unwrap();
        assert!(queue.path_of(crate::QueueName::Incoming, &id).exists());
        assert_eq!(requests.try_recv(), Ok(ManagerRequest::Committed(id, None)));
    }
}
