//! The SMTP server (Postfix's smtpd): listeners, the per-connection session
//! and per-message transaction state machines, Postfix's replies, limits
//! and log lines, the restriction checks at each stage, and the hand-off to
//! the queue (`250` only after the message is durable).
#![forbid(unsafe_code)]

mod context;
mod counters;
mod data_phase;
mod handlers;
mod peername;
mod received;
mod server;
mod session;
mod settings;
mod storage;
mod stream;
mod transaction;

pub use context::{ContextError, ServerContext};
pub use server::serve;
pub use settings::SmtpdSettings;
