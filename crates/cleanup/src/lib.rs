//! Postfix's cleanup(8): the header and envelope processing every message
//! gets before it is queued, whether it came from an SMTP client (smtpd)
//! or from local submission (sendmail, through pickup). One component,
//! called by both:
//!
//! - `cleanup_state`: the submission context ([`Source`], [`CleanupContext`])
//!   and the address rewriting cleanup uses ([`AddressRewriter`]);
//! - `cleanup_message`: the header/body pass ([`MessageCleanup`]): first
//!   line, `Bcc:` removal, header address qualification, `sendmail -t`
//!   recipient extraction, `Received:` hop count, `Message-Id:` capture;
//! - `cleanup_missing_headers`: `Message-Id:`, `Date:` and `From:` added
//!   when missing;
//! - `cleanup_envelope`: sender canonicalisation, recipient
//!   canonicalisation, `virtual_alias_maps` expansion and duplicate removal;
//! - `cleanup_received`: the `Received: by HOST (MAIL_NAME ...)` trace
//!   header of mail made locally (pickup, bounces, forwarding);
//! - `mail_date`: the one RFC 5322 date format (Postfix `mail_date()`);
//! - `content_rules`: header/body check tables and MIME settings from
//!   `main.cf` ([`ContentRules`]);
//! - `content_checks`: header_checks(5)/body_checks actions and their log
//!   lines, the message-level outcome ([`ContentVerdict`]);
//! - `mime_state`: the MIME structure (part and nested headers, limits,
//!   strict 8-bit and encoding checks);
//! - `header_tokens`: `header_address_token_limit`.
#![forbid(unsafe_code)]

mod cleanup_envelope;
mod cleanup_message;
mod cleanup_missing_headers;
mod cleanup_received;
mod cleanup_state;
mod content_action;
mod content_checks;
mod content_rules;
mod header_tokens;
mod mail_date;
mod mime_state;

#[cfg(test)]
mod cleanup_tests;
#[cfg(test)]
mod content_tests;

pub use cleanup_envelope::{clean_recipients, clean_sender, CleanRecipient};
pub use cleanup_message::{clean_content, header_recipients, HeaderSummary, MessageCleanup};
pub use cleanup_missing_headers::message_id;
pub use cleanup_received::local_received_header;
pub use cleanup_state::{AddressRewriter, CleanupContext, Source};
pub use content_action::ContentAction;
pub use content_checks::{ContentVerdict, LogOrigin};
pub use content_rules::{ContentRules, MimeSettings};
pub use mail_date::mail_date;
