//! Cross-process wakeups of the queue manager, as Postfix's `public/qmgr`
//! trigger: the running queue manager binds a unix datagram socket at
//! `$queue_directory/public/qmgr`; operator commands and `sendmail` send it
//! one-byte requests. Requests (Postfix's `QMGR_REQ_*` letters): `I` scan
//! incoming, `D` scan deferred, `A` scan all queues, `F` flush (forget dead
//! destinations and scan deferred now), `W` pickup (a file waits in
//! maildrop).
//!
//! A missing socket, or one nobody listens on (a server killed with -9
//! leaves the file behind), means the mail system is down: the caller
//! works on the files directly and says so. Input bound: datagrams are
//! read into a 64-byte buffer; unknown bytes are ignored.

use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram as StdDatagram;
use std::path::{Path, PathBuf};

use tokio::net::UnixDatagram;

use crate::layout::PUBLIC_DIR;
use crate::queue::Queue;

/// The socket's file name inside `public/`.
const TRIGGER_NAME: &str = "qmgr";

/// One wakeup request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerRequest {
    /// `I`: new mail in incoming.
    ScanIncoming,
    /// `D`: scan the deferred queue.
    ScanDeferred,
    /// `A`: scan every queue.
    ScanAll,
    /// `F`: flush: deferred mail is due now.
    Flush,
    /// `W`: a submission waits in maildrop (pickup).
    Pickup,
}

impl TriggerRequest {
    pub fn as_byte(self) -> u8 {
        match self {
            TriggerRequest::ScanIncoming => b'I',
            TriggerRequest::ScanDeferred => b'D',
            TriggerRequest::ScanAll => b'A',
            TriggerRequest::Flush => b'F',
            TriggerRequest::Pickup => b'W',
        }
    }

    pub fn from_byte(b: u8) -> Option<TriggerRequest> {
        match b {
            b'I' => Some(TriggerRequest::ScanIncoming),
            b'D' => Some(TriggerRequest::ScanDeferred),
            b'A' => Some(TriggerRequest::ScanAll),
            b'F' => Some(TriggerRequest::Flush),
            b'W' => Some(TriggerRequest::Pickup),
            _ => None,
        }
    }
}

/// Result of sending a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerOutcome {
    /// A running queue manager got the request.
    Delivered,
    /// No queue manager listens: the mail system is down.
    SystemDown,
}

/// Path of the trigger socket under `root` (`queue_directory`).
pub(crate) fn trigger_path(root: &Path) -> PathBuf {
    root.join(PUBLIC_DIR).join(TRIGGER_NAME)
}

impl Queue {
    /// Path of the queue manager's trigger socket (`public/qmgr`).
    pub fn trigger_path(&self) -> PathBuf {
        trigger_path(self.root())
    }

    /// Whether a queue manager listens on the trigger socket.
    pub fn system_running(&self) -> bool {
        StdDatagram::unbound()
            .and_then(|s| s.connect(self.trigger_path()))
            .is_ok()
    }

    /// Send `requests` to the running queue manager, if any.
    pub fn send_trigger(&self, requests: &[TriggerRequest]) -> TriggerOutcome {
        let path = self.trigger_path();
        let Ok(sock) = StdDatagram::unbound() else {
            return TriggerOutcome::SystemDown;
        };
        let bytes: Vec<u8> = requests.iter().map(|r| r.as_byte()).collect();
        match sock.send_to(&bytes, &path) {
            Ok(_) => TriggerOutcome::Delivered,
            Err(_) => TriggerOutcome::SystemDown,
        }
    }
}

/// The queue manager's end of the trigger socket.
#[derive(Debug)]
pub struct TriggerListener {
    sock: UnixDatagram,
    path: PathBuf,
}

impl TriggerListener {
    /// Bind `public/qmgr`, replacing a stale socket left by a dead server.
    pub fn bind(root: &Path) -> std::io::Result<TriggerListener> {
        let path = trigger_path(root);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let sock = UnixDatagram::bind(&path)?;
        Ok(TriggerListener { sock, path })
    }

    /// Wait for the next datagram; returns the requests it carries.
    pub async fn recv(&self) -> Vec<TriggerRequest> {
        let mut buf = [0u8; 64];
        match self.sock.recv(&mut buf).await {
            Ok(n) => buf[..n]
                .iter()
                .filter_map(|b| TriggerRequest::from_byte(*b))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for TriggerListener {
    /// Remove the socket so that commands see the system as down.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_round_trip() {
        for r in [
            TriggerRequest::ScanIncoming,
            TriggerRequest::ScanDeferred,
            TriggerRequest::ScanAll,
            TriggerRequest::Flush,
            TriggerRequest::Pickup,
        ] {
            assert_eq!(TriggerRequest::from_byte(r.as_byte()), Some(r));
        }
        assert_eq!(TriggerRequest::from_byte(b'x'), None);
    }

    #[tokio::test]
    async fn down_then_up_then_stale() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        assert_eq!(
            queue.send_trigger(&[TriggerRequest::Flush]),
            TriggerOutcome::SystemDown
        );
        assert!(!queue.system_running());
        let listener = TriggerListener::bind(dir.path()).unwrap();
        assert!(queue.system_running());
        assert_eq!(
            queue.send_trigger(&[TriggerRequest::Flush, TriggerRequest::Pickup]),
            TriggerOutcome::Delivered
        );
        assert_eq!(
            listener.recv().await,
            vec![TriggerRequest::Flush, TriggerRequest::Pickup]
        );
        // A stale socket file (server killed hard) reads as "down".
        let path = queue.trigger_path();
        std::mem::forget(listener);
        let stale = StdDatagram::bind(dir.path().join("other")).unwrap();
        drop(stale);
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(dir.path().join("other"), &path).unwrap();
        assert_eq!(
            queue.send_trigger(&[TriggerRequest::ScanIncoming]),
            TriggerOutcome::SystemDown
        );
        assert!(!queue.system_running());
        // A new server replaces it.
        let again = TriggerListener::bind(dir.path()).unwrap();
        assert_eq!(
            queue.send_trigger(&[TriggerRequest::ScanIncoming]),
            TriggerOutcome::Delivered
        );
        assert_eq!(again.recv().await, vec![TriggerRequest::ScanIncoming]);
    }
}
