//! Errors of the rewrite crate, classified the Postfix way: a temporary
//! lookup failure (→ 4xx), a bad address (→ 501 5.1.3 / 5.1.7), a
//! configuration problem, and a failed `transport_maps` lookup.

use gatepost_table::TableError;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// A table lookup failed temporarily (→ `451 4.3.0 ... Temporary lookup failure`).
    #[error("temporary lookup failure: {0}")]
    Temporary(String),
    /// Bad address syntax after resolution (e.g. `u@1.2.3.4`, bad literal).
    #[error("bad address syntax: {0}")]
    BadAddress(String),
    /// Configuration problem (bad table spec ...).
    #[error("configuration error: {0}")]
    Config(String),
    /// A `transport_maps` lookup for `recipient` failed (temporary).
    #[error("transport_maps lookup problem for {recipient}: {why}")]
    TransportMaps { recipient: String, why: String },
}

impl From<TableError> for RewriteError {
    fn from(err: TableError) -> Self {
        match err {
            TableError::Temporary { .. } => RewriteError::Temporary(err.to_string()),
            TableError::Config { .. } => RewriteError::Config(err.to_string()),
        }
    }
}
