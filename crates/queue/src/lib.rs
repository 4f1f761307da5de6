//! The durable mail queue: on-disk format and directories (maildrop,
//! incoming, active, deferred, hold, corrupt, bounce/defer logs), Postfix-style
//! queue ids, the write path (tmp file → link into incoming → one
//! group-committed flush of file and directory), moves between queue directories, listings and operator
//! commands, local submission (maildrop → pickup → cleanup → incoming), and
//! the requests to the queue manager (the `gatepost-qmgr` crate), in process
//! and through the `public/qmgr` socket.
//!
//! Modules: `layout` (directories), `queue_file` (on-disk format and status
//! records), `queue_id`, `envelope`, `error`, `writer` (new messages),
//! `group_flush` (the process's group commit of file and directory fsyncs), `queue` (the tree object: moves,
//! scans, tmp cleanup), `manager_link` (in-process requests to the queue
//! manager), `committed_copy` (a new message's bytes sent with its
//! announcement), `trigger` (the `public/qmgr` socket), `listing` (mailq and
//! operator commands), `postcat` (printing a queue file), `maildrop`
//! (sendmail's submissions), `pickup` (maildrop → cleanup → incoming, with
//! its own small `PickupSettings`), `postfix_layout` (refusing Postfix's
//! queue directory; our marker file), `postfix_records` (reading Postfix's
//! queue files), `postfix_import` (`gatepost queue import-postfix`),
//! `sender_auth` (the optional `AUTH=` identity record), `client_facts`
//! (the optional client attribute records), `wal` (the write-ahead log of
//! accepted messages, its checkpoints and recovery), and
//! `manager` (public: what only the queue manager uses).
#![forbid(unsafe_code)]

mod client_facts;
mod committed_copy;
mod content_routing;
mod envelope;
mod error;
mod group_flush;
mod layout;
mod listing;
mod maildrop;
mod manager_link;
mod pickup;
mod pickup_milter;
mod postcat;
mod postfix_import;
mod postfix_layout;
mod postfix_records;
mod queue;
mod queue_file;
mod queue_id;
mod record_time;
mod recycle;
mod sender_auth;
mod trigger;
mod unwritten;
mod wal;
mod writer;

pub use client_facts::{
    read_content_and_client_facts, ClientFacts, ContentAhead, Preloaded, PRELOAD_CONTENT_LIMIT,
};
pub use committed_copy::CommittedCopy;
pub use content_routing::{apply_content_routing, content_filter};
pub use envelope::{Envelope, EnvelopeRecipient};
pub use error::QueueError;
pub use group_flush::{Flush, GroupFlush};
pub use layout::QueueName;
pub use listing::{mailq_output, PendingRecipient, QueueEntry};
pub use maildrop::Submission;
pub use manager_link::ManagerRequest;
pub use postfix_import::ImportReport;
pub use postfix_layout::claim_queue_directory;
pub use postfix_records::{parse_postfix_file, PostfixMessage, PostfixRecipient};
pub use queue::Queue;
pub use queue_id::QueueId;
pub use sender_auth::read_sender_auth;
pub use trigger::{TriggerOutcome, TriggerRequest};
pub use wal::Recovery;
pub use writer::MessageWriter;

/// The queue manager's side of the queue (the `gatepost-qmgr` crate only):
/// reading and updating the files in `active`, the `public/qmgr` listener,
/// and the pickup service the queue manager starts.
pub mod manager {
    pub use crate::client_facts::{
        read_committed_copy, read_queue_file_preloaded, read_queue_file_preloaded_from,
    };
    pub use crate::error::{blocking, short_blocking};
    pub use crate::pickup::{run_pickup, ContentSigner, PickupSettings};
    pub use crate::queue_file::{
        append_records, read_content, read_queue_file, QueueFile, RcptState, Reason, StatusRecord,
    };
    pub use crate::trigger::TriggerListener;
}
