//! Operator insight tools behind `gatepost relay-audit` (probe any SMTP
//! server with the classic open-relay battery) and `gatepost log-report`
//! (summarize Postfix-format logs, with an abuse view, as text, JSON or
//! one self-contained HTML page).
#![forbid(unsafe_code)]

pub mod logs;
pub mod relay;
