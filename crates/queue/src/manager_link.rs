//! The in-process channel to the queue manager: the queue (a committed
//! message, an operator command) sends it typed requests, the same
//! [`TriggerRequest`]s other processes send through the `public/qmgr`
//! socket. The manager connects once it runs; before that (or in a process
//! without one, e.g. `sendmail`) requests are dropped, as the manager scans
//! every queue when it starts.

use std::sync::Mutex;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::trigger::TriggerRequest;

/// The sending end, held by the queue.
#[derive(Debug, Default)]
pub(crate) struct ManagerLink {
    sender: Mutex<Option<UnboundedSender<TriggerRequest>>>,
}

impl ManagerLink {
    /// Send `request` to the connected manager, if any.
    pub(crate) fn send(&self, request: TriggerRequest) {
        let guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = guard.as_ref() {
            let _ = tx.send(request);
        }
    }

    /// Connect a manager: requests go to the returned receiver from now on
    /// (a previously connected manager gets no more).
    pub(crate) fn connect(&self) -> UnboundedReceiver<TriggerRequest> {
        let (tx, rx) = unbounded_channel();
        *self.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }
}
