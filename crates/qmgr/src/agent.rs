//! The seam between the queue manager and delivery agents: the message
//! handed out (`QueuedMessage`), one outcome per recipient, and the
//! `DeliveryAgent` trait that `local`, `virtual`, `smtp`, ... implement.
//! Each recipient comes with the destination the queue manager resolved.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatepost_queue::manager::read_content;
use gatepost_queue::{ContentAhead, Envelope, Preloaded, QueueError, QueueId};

use crate::destination::RoutedRecipient;

/// A message handed to a delivery agent.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: QueueId,
    pub envelope: Envelope,
    pub path: PathBuf,
    /// The content and client facts, when the queue manager read them with
    /// the envelope.
    pub preloaded: PreloadSlot,
}

/// Content read ahead with the envelope (small messages only), taken by
/// the first delivery request that needs it; later ones read the file,
/// which a message committed by its log record alone has only once it is
/// written out (`Queue::write_out`, through [`QueuedMessage::file`]).
#[derive(Clone, Default)]
pub struct PreloadSlot {
    ahead: Arc<Mutex<Option<ContentAhead>>>,
    write_out: Option<WriteOut>,
}

/// Writes out the message's queue file if it is not written yet.
type WriteOut = Arc<dyn Fn() -> Result<(), QueueError> + Send + Sync>;

impl PreloadSlot {
    pub fn new(preloaded: Option<Preloaded>) -> Self {
        PreloadSlot {
            ahead: Arc::new(Mutex::new(preloaded.map(ContentAhead::Read))),
            write_out: None,
        }
    }

    /// For a message whose content is ready as `ahead` and whose file
    /// `write_out` makes sure of before anything reads it.
    pub fn with_write_out(
        ahead: Option<ContentAhead>,
        write_out: impl Fn() -> Result<(), QueueError> + Send + Sync + 'static,
    ) -> Self {
        PreloadSlot {
            ahead: Arc::new(Mutex::new(ahead)),
            write_out: Some(Arc::new(write_out)),
        }
    }

    /// The content and client facts, once (copied out of the commit's
    /// bytes only now, when a delivery runs).
    pub fn take(&self) -> Option<Preloaded> {
        let ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner()).take();
        ahead.map(ContentAhead::into_preloaded)
    }
}

impl std::fmt::Debug for PreloadSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreloadSlot")
    }
}

impl QueuedMessage {
    /// The queue file's path, for a delivery agent about to read it
    /// (written out first if the message has no file yet).
    pub fn file(&self) -> Result<&Path, QueueError> {
        if let Some(write_out) = &self.preloaded.write_out {
            write_out()?;
        }
        Ok(&self.path)
    }

    /// The message content (header + body, `\n` line ends).
    pub fn read_content(&self) -> Result<Vec<u8>, QueueError> {
        read_content(self.file()?, self.id.as_str())
    }
}

/// Outcome of delivering one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus {
    Sent,
    Deferred,
    Bounced,
}

impl DeliveryStatus {
    /// The `status=` word in the delivery log line.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Deferred => "deferred",
            DeliveryStatus::Bounced => "bounced",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// Index into `envelope.recipients`.
    pub recipient: usize,
    pub status: DeliveryStatus,
    /// Program name for the log line (`local`, `virtual`, `discard`, `error`, `smtp`).
    pub agent: String,
    /// `relay=` value (`local`, `virtual`, `none`, `mx[1.2.3.4]:25`).
    pub relay: String,
    /// Enhanced status code, e.g. `2.0.0`.
    pub dsn: String,
    /// Text in parentheses, e.g. `delivered to maildir`.
    pub text: String,
}

/// Delivery agents implement this; the queue manager calls it.
#[async_trait::async_trait]
pub trait DeliveryAgent: Send + Sync {
    /// Deliver the given recipients, each to its resolved destination;
    /// return one outcome per recipient (`DeliveryOutcome::recipient` is
    /// its `index`).
    async fn deliver(
        &self,
        msg: &QueuedMessage,
        recipients: &[RoutedRecipient],
    ) -> Vec<DeliveryOutcome>;
}
