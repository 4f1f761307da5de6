//! The durable mail queue: on-disk format and directories (maildrop,
//! incoming, active, deferred, hold, corrupt, bounce/defer logs), Postfix-style
//! queue ids, the write path (tmp file → fsync → rename → group-committed
//! directory fsync), the queue manager (scan, schedule, retry/backoff,
//! expiry) and bounce (RFC 3464 DSN) generation.
//!
//! Files: `layout` (directories), `queue_file` (on-disk format),
//! `queue_id`, `envelope`, `writer` (new messages), `group_sync` (shared
//! directory fsyncs), `queue` (the tree object), `agent` (delivery agent
//! seam), `delivery_log` (per-recipient log line), `settings`, `qmgr` (the
//! scheduler loop), `qmgr_message` (one delivery pass), `bounce` (DSNs),
//! `line_wrap`, `listing` (mailq and operator commands).
#![forbid(unsafe_code)]

mod agent;
mod bounce;
mod delivery_log;
mod destination;
mod envelope;
mod error;
mod group_sync;
mod layout;
mod line_wrap;
mod listing;
mod local_cleanup;
mod maildrop;
mod pickup;
mod postcat;
mod qmgr;
mod qmgr_message;
mod queue;
mod queue_file;
mod queue_id;
mod settings;
mod trigger;
mod writer;

pub use agent::{DeliveryAgent, DeliveryOutcome, DeliveryStatus, QueuedMessage};
pub use delivery_log::{Delays, DeliveryLine};
pub use destination::{Destination, RoutedRecipient};
pub use envelope::{Envelope, EnvelopeRecipient};
pub use error::QueueError;
pub use layout::QueueName;
pub use listing::{mailq_output, PendingRecipient, QueueEntry};
pub use local_cleanup::header_recipients;
pub use maildrop::Submission;
pub use qmgr::run_qmgr;
pub use queue::Queue;
pub use queue_id::QueueId;
pub use settings::QmgrSettings;
pub use trigger::{TriggerOutcome, TriggerRequest};
pub use writer::MessageWriter;
