//! The mail transaction: exists from an accepted MAIL FROM until the end of
//! DATA, RSET, HELO/EHLO or the end of the session. Owns the envelope being
//! built and the queue file, which is opened at the first accepted
//! recipient (`smtpd_delay_open_until_valid_rcpt`; at MAIL FROM when that is
//! `no`), so rejects before that
//! are logged as NOQUEUE, as in Postfix.

use std::time::SystemTime;

use chrono::{DateTime, Local};
use gatepost_policy::MessageAction;
use gatepost_queue::{EnvelopeRecipient, MessageWriter};

pub struct Transaction {
    /// Envelope sender, internal form; empty for `<>`.
    pub sender: String,
    pub arrival: SystemTime,
    pub arrival_local: DateTime<Local>,
    /// SIZE= from MAIL FROM, 0 when absent.
    pub declared_size: u64,
    pub ret: Option<String>,
    pub envid: Option<String>,
    pub smtputf8: bool,
    pub recipients: Vec<EnvelopeRecipient>,
    /// RCPT commands tried in this transaction (accepted or not).
    pub rcpt_attempts: usize,
    pub writer: Option<MessageWriter>,
    /// The queue id while the BDAT receiver holds the queue file.
    pub content_id: Option<String>,
    /// Content bytes the client sent after DATA (each line with its CRLF),
    /// for `timeout after DATA (N bytes)`; our own headers not counted.
    pub data_bytes: u64,
    /// BDAT: content bytes as Postfix counts them (each line + 2).
    pub bdat_size: u64,
    /// Access-table actions collected along the way (HOLD, DISCARD, ...).
    pub actions: Vec<MessageAction>,
    /// The `AUTH=` identity stored with the message: MAIL FROM's `AUTH=`
    /// value (xtext decoded) from a logged-in client, or its login name
    /// when that is an address and it gave no `AUTH=` (RFC 4954 section 5).
    pub sender_auth: Option<String>,
    /// MAIL FROM's `AUTH=` value as given (not `<>`): the milter macro
    /// `{auth_author}`, and Postfix's `sasl_sender` for the delivery agents.
    pub auth_author: Option<String>,
    /// A milter asked for quarantine (the hold queue) or to discard.
    pub milter_hold: bool,
    pub milter_discard: bool,
}

impl Transaction {
    pub fn new(sender: String) -> Transaction {
        Transaction {
            sender,
            arrival: SystemTime::now(),
            arrival_local: Local::now(),
            declared_size: 0,
            ret: None,
            envid: None,
            smtputf8: false,
            recipients: Vec::new(),
            rcpt_attempts: 0,
            writer: None,
            content_id: None,
            data_bytes: 0,
            bdat_size: 0,
            actions: Vec::new(),
            sender_auth: None,
            auth_author: None,
            milter_hold: false,
            milter_discard: false,
        }
    }

    pub fn queue_id(&self) -> Option<String> {
        self.writer
            .as_ref()
            .map(|w| w.id().to_string())
            .or_else(|| self.content_id.clone())
    }

    /// Throw away the queue file, if any.
    pub fn abort(self) {
        if let Some(writer) = self.writer {
            writer.abort();
        }
    }
}
