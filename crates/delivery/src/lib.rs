//! Delivery agents: `local` (Maildir / mbox, `alias_maps`), `virtual`
//! (virtual mailboxes), `discard`, `error`, and the `smtp` seam; the
//! dispatcher that resolves each recipient's transport and calls the agent.
//!
//! API CONTRACT (the binary is written against this signature; extend, do
//! not change).
#![forbid(unsafe_code)]

use std::sync::Arc;

use gatepost_config::Config;
use gatepost_queue::{DeliveryAgent, Queue};
use gatepost_rewrite::Rewriter;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("configuration error: {0}")]
    Config(String),
}

/// Build the dispatcher for this configuration.
pub fn build_agent(cfg: &Config, queue: Arc<Queue>, rewriter: Arc<Rewriter>) -> Result<Arc<dyn DeliveryAgent>, DeliveryError> {
    let _ = (cfg, queue, rewriter);
    todo!()
}
