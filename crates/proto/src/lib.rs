//! Sans-IO SMTP protocol pieces shared by the server, the policy engine and
//! the delivery agents: replies, command-line parsing with limits, RFC 5321
//! path parsing, and DATA framing (dot-stuffing, bare-LF modes).
//!
//! Nothing in this crate does I/O; callers feed bytes and get values back.
#![forbid(unsafe_code)]

pub mod reply;

pub use reply::Reply;
