//! The queue manager (qmgr(8)): the one task that owns the active queue.
//! It admits messages from `incoming` and due `deferred` files, resolves
//! each recipient once (trivial-rewrite(8) with `transport_maps`), hands
//! per-destination requests to the delivery agent within the destinations'
//! concurrency and recipient limits, records outcomes, retries with
//! backoff, expires, and sends bounces and delay warnings. It hears from
//! the rest of the system only through typed requests: the queue's
//! in-process channel and the `public/qmgr` socket.
//!
//! Modules: `scheduler` (the loop: recovery, admission, requests),
//! `admission_gather` (announced messages admitted in groups),
//! `delivery_pass` (one pass of one message), `destination` (resolving,
//! grouping, concurrency slots, dead destinations), `agent` (the delivery
//! agent seam), `delivery_log` (the per-recipient log line), `bounce`
//! (RFC 3464 notices), `line_wrap` (bounce text wrapping), `settings`
//! (the queue manager's parameters, and pickup's share of them).
#![forbid(unsafe_code)]

mod admission_gather;
mod agent;
mod bounce;
mod delivery_log;
mod delivery_pass;
mod destination;
mod line_wrap;
mod scheduler;
mod settings;

pub use agent::{DeliveryAgent, DeliveryOutcome, DeliveryStatus, PreloadSlot, QueuedMessage};
pub use destination::{Destination, RoutedRecipient};
pub use scheduler::run_qmgr;
pub use settings::QmgrSettings;
