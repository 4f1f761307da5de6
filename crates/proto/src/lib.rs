//! Sans-IO SMTP protocol pieces shared by the server, the policy engine and
//! the delivery agents: replies, command-line reading with limits, command
//! parsing, RFC 5321 path parsing, DATA framing (dot-stuffing, bare-LF
//! modes), and Postfix's host name and address syntax checks.
//!
//! Nothing in this crate does I/O; callers feed bytes and get values back.
//!
//! Modules: `reply`, `line` (command lines), `command`, `address` (MAIL/RCPT
//! paths), `data` (DATA framing), `chunk` (BDAT framing), `hostname` (public: Postfix's
//! `valid_hostname()` family, one implementation for every crate).
#![forbid(unsafe_code)]

mod address;
mod chunk;
mod command;
mod data;
pub mod hostname;
mod line;
mod reply;

pub use address::{parse_path, Path, PathError};
pub use chunk::ChunkReader;
pub use command::{Command, Verb};
pub use data::{BareNewlineMode, DataEvent, DataReader};
pub use line::{CommandLine, LineReader};
pub use reply::Reply;
