//! The durable mail queue: on-disk format and directories (maildrop,
//! incoming, active, deferred, hold, corrupt, bounce/defer logs), Postfix-style
//! queue ids, the write path (tmp file → fsync → rename → group-committed
//! directory fsync), moves between queue directories, listings and operator
//! commands, local submission (maildrop → pickup → cleanup → incoming), and
//! the requests to the queue manager (the `gatepost-qmgr` crate), in process
//! and through the `public/qmgr` socket.
//!
//! Modules: `layout` (directories), `queue_file` (on-disk format and status
//! records), `queue_id`, `envelope`, `error`, `writer` (new messages),
//! `group_sync` (shared directory fsyncs), `queue` (the tree object: moves,
//! scans, tmp cleanup), `manager_link` (in-process requests to the queue
//! manager), `trigger` (the `public/qmgr` socket), `listing` (mailq and
//! operator commands), `postcat` (printing a queue file), `maildrop`
//! (sendmail's submissions), `pickup` (maildrop → incoming),
//! `local_cleanup` (cleanup of local submissions), `mail_date` (`Date:` of
//! generated mail), `settings` (the queue manager's and pickup's settings),
//! `postfix_layout` (refusing Postfix's queue directory; our marker file),
//! `postfix_records` (reading Postfix's queue files) and `postfix_import`
//! (`gatepost queue import-postfix`).
#![forbid(unsafe_code)]

mod envelope;
mod error;
mod group_sync;
mod layout;
mod listing;
mod maildrop;
mod manager_link;
mod pickup;
mod postcat;
mod postfix_import;
mod postfix_layout;
mod postfix_records;
mod queue;
mod queue_file;
mod queue_id;
mod settings;
mod trigger;
mod writer;

pub use envelope::{Envelope, EnvelopeRecipient};
pub use error::{blocking, QueueError};
pub use layout::QueueName;
pub use listing::{mailq_output, PendingRecipient, QueueEntry};
pub use maildrop::Submission;
pub use pickup::run_pickup;
pub use postfix_import::ImportReport;
pub use postfix_layout::claim_queue_directory;
pub use postfix_records::{parse_postfix_file, PostfixMessage, PostfixRecipient};
pub use queue::Queue;
pub use queue_file::{
    append_records, read_content, read_queue_file, QueueFile, RcptState, Reason, StatusRecord,
};
pub use queue_id::QueueId;
pub use settings::QmgrSettings;
pub use trigger::{TriggerListener, TriggerOutcome, TriggerRequest};
pub use writer::MessageWriter;
