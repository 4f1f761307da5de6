//! The durable mail queue: on-disk format and directories (maildrop,
//! incoming, active, deferred, hold, corrupt, bounce/defer logs), Postfix-style
//! queue ids, the write path (tmp file → fsync → rename → group-committed
//! directory fsync), the queue manager (scan, schedule, retry/backoff,
//! expiry) and bounce (RFC 3464 DSN) generation.
//!
//! API CONTRACT (other crates are written against these signatures; extend,
//! do not change).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{path}: {source}")]
    Io { path: String, #[source] source: std::io::Error },
    #[error("{0}: corrupt queue file: {1}")]
    Corrupt(String, String),
    #[error("message file too big")]
    TooBig,
    #[error("no such queue id: {0}")]
    NoSuchId(String),
}

/// A queue id as Postfix prints it (short form: 5 hex digits of the arrival
/// microseconds + the file's inode in hex, upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub String);

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecipient {
    /// Address to deliver to (internal form, after cleanup rewriting).
    pub address: String,
    /// Original recipient as given in RCPT TO (for `orig_to=` and DSN).
    pub original: String,
    /// DSN NOTIFY= and ORCPT= when given.
    pub notify: Option<String>,
    pub orcpt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Envelope sender, internal form; empty for the null sender.
    pub sender: String,
    pub recipients: Vec<EnvelopeRecipient>,
    pub arrival: SystemTime,
    /// `name[addr]` of the submitting client, or `local` for sendmail/pickup.
    pub client: String,
    /// DSN RET= and ENVID= when given.
    pub ret: Option<String>,
    pub envid: Option<String>,
}

/// Which queue directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName { Maildrop, Incoming, Active, Deferred, Hold, Corrupt }

/// The queue directory tree.
#[derive(Debug)]
pub struct Queue {}

impl Queue {
    /// Open (creating if needed) the queue under `root` (`queue_directory`).
    pub fn open(root: &Path) -> Result<Arc<Queue>, QueueError> { let _ = root; todo!() }
    pub fn root(&self) -> &Path { todo!() }
    /// Start a new message: allocates the file and its queue id.
    pub fn new_message(self: &Arc<Self>) -> Result<MessageWriter, QueueError> { todo!() }
    /// Wake the queue manager (a new message was committed, or an operator command).
    pub fn kick(&self) { todo!() }
}

/// A message being written. Content is stored as lines ending in `\n`
/// (the caller writes header lines, including `Received:`, then the body).
#[derive(Debug)]
pub struct MessageWriter {}

impl MessageWriter {
    pub fn id(&self) -> &QueueId { todo!() }
    pub fn write_content(&mut self, data: &[u8]) -> Result<(), QueueError> { let _ = data; todo!() }
    pub fn content_size(&self) -> u64 { todo!() }
    /// Write the envelope, fsync the file, rename it into `incoming`, fsync the
    /// directory (shared with concurrent commits: group commit), then kick qmgr.
    /// Only after this returns Ok may the client be told `250`.
    pub async fn commit(self, envelope: &Envelope) -> Result<QueueId, QueueError> { let _ = envelope; todo!() }
    /// Throw the message away (RSET, rejected, lost connection).
    pub fn abort(self) { todo!() }
}

/// A message handed to a delivery agent.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: QueueId,
    pub envelope: Envelope,
    pub path: PathBuf,
}

impl QueuedMessage {
    /// The message content (header + body, `\n` line ends).
    pub fn read_content(&self) -> Result<Vec<u8>, QueueError> { todo!() }
}

/// Outcome of delivering one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus { Sent, Deferred, Bounced }

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
    /// Deliver the given recipients (indexes into `msg.envelope.recipients`);
    /// return one outcome per index.
    async fn deliver(&self, msg: &QueuedMessage, recipients: &[usize]) -> Vec<DeliveryOutcome>;
}

/// Queue manager settings, read from the config by `from_config`.
#[derive(Debug, Clone)]
pub struct QmgrSettings {}

impl QmgrSettings {
    pub fn from_config(cfg: &gatepost_config::Config) -> QmgrSettings { let _ = cfg; todo!() }
}

/// Run the queue manager until `shutdown` resolves. On start it picks up
/// everything left in incoming/active/deferred.
pub async fn run_qmgr(
    queue: Arc<Queue>,
    agent: Arc<dyn DeliveryAgent>,
    settings: QmgrSettings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let _ = (queue, agent, settings, shutdown);
    todo!()
}
