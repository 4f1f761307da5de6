//! Fuzz targets: every reader of outside input, each a function of one
//! byte string so that the same target runs under `cargo test` (bolero's
//! random engine, a fraction of a second each), under a long run
//! (`fuzz/run-long.sh`) and under libFuzzer where a nightly toolchain
//! exists (`cargo bolero test`). Each checks more than "no panic" where a
//! property exists: split invariance for the stream readers, round trips
//! for the DATA framer and `postconf -n`, agreement between table formats
//! built from the same source.
//!
//! The corpus lives in `corpus/TARGET/`, one input per file; the tests
//! replay it, then run each target on random bytes and on corpus inputs
//! changed by random operations ([`mutate`]).
#![forbid(unsafe_code)]

mod chunks;
mod config_targets;
mod dns_targets;
mod mutate;
mod proto_targets;
mod queue_targets;
mod table_targets;

pub use config_targets::{main_cf, master_cf};
pub use dns_targets::dns_reply;
pub use mutate::mutate;
pub use proto_targets::{address, data_reader, data_round_trip, smtp_command};
pub use queue_targets::{postfix_queue_file, queue_file};
pub use table_targets::{cidr_table, compiled_table, indexed_tables, inline_table, regexp_table};

/// The seed inputs of `target` (files under `corpus/TARGET/`).
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                out.push((entry.file_name().to_string_lossy().into_owned(), bytes));
            }
        }
    }
    out.sort();
    out
}
