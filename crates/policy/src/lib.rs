//! The restriction engine: Postfix's `smtpd_*_restrictions` parsed once into
//! typed restriction lists and evaluated per SMTP stage with Postfix's
//! semantics (`smtpd_delay_reject`, `defer_if_permit` / `defer_if_reject`,
//! `warn_if_reject`, restriction classes, access-table results, reply
//! post-processing and DSN mapping, `soft_bounce`).
//!
//! API CONTRACT (the SMTP server is written against these signatures; extend,
//! do not change).
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::sync::Arc;

use gatepost_config::Config;
use gatepost_proto::Reply;
use gatepost_rewrite::Rewriter;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Fatal configuration error (smtpd would not start), with Postfix's text.
    #[error("{0}")]
    Fatal(String),
}

/// SMTP stage being checked (the STAGE word of log lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage { Connect, Helo, Ehlo, Mail, Rcpt, Data, EndOfMessage, Etrn, Vrfy }

impl Stage {
    /// `CONNECT`, `HELO`, `EHLO`, `MAIL`, `RCPT`, `DATA`, `END-OF-MESSAGE`, `ETRN`, `VRFY`.
    pub fn log_name(self) -> &'static str {
        match self {
            Stage::Connect => "CONNECT",
            Stage::Helo => "HELO",
            Stage::Ehlo => "EHLO",
            Stage::Mail => "MAIL",
            Stage::Rcpt => "RCPT",
            Stage::Data => "DATA",
            Stage::EndOfMessage => "END-OF-MESSAGE",
            Stage::Etrn => "ETRN",
            Stage::Vrfy => "VRFY",
        }
    }
}

/// What the server knows about the session at the moment of a check.
#[derive(Debug, Clone)]
pub struct Facts {
    pub client_addr: IpAddr,
    /// Verified client name, or `unknown`.
    pub client_name: String,
    /// Unverified reverse name, or `unknown`.
    pub reverse_client_name: String,
    pub server_addr: IpAddr,
    /// HELO/EHLO argument, if given.
    pub helo: Option<String>,
    /// `SMTP` or `ESMTP`.
    pub protocol: String,
    /// Envelope sender (internal form); `Some("")` for `<>`, `None` before MAIL.
    pub sender: Option<String>,
    /// Recipient being checked (RCPT/VRFY), internal form as given by the client.
    pub recipient: Option<String>,
    /// Number of accepted recipients (DATA / END-OF-MESSAGE).
    pub recipient_count: usize,
    pub queue_id: Option<String>,
    /// The session's "improper pipelining" flag (postfix-compat §5).
    pub improper_pipelining: bool,
    pub sasl_username: Option<String>,
    pub etrn_domain: Option<String>,
    pub size: u64,
    pub tls_active: bool,
}

/// Per-session policy state carried across stages (pending `defer_if_permit`
/// from client/helo/sender stages and the like). Create one per connection.
#[derive(Debug, Clone, Default)]
pub struct SessionPolicy {}

/// One log line the server must write for this check, rendered with the
/// session context as `ID: ACTION: STAGE from name[addr]: TEXT; from=<> ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// `reject`, `reject_warning`, `warn`, `info`, `hold`, `discard`, ...
    pub action: String,
    pub text: String,
}

/// Access-table actions that change the message rather than the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAction {
    Hold(String),
    Discard(String),
    Filter(String),
    Redirect(String),
    Bcc(String),
    Prepend(String),
}

/// One step of the evaluation, for `policy-test` traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// Parameter whose list was being evaluated, e.g. `smtpd_recipient_restrictions`.
    pub list: String,
    /// The restriction as written (`reject_unauth_destination`, `check_client_access hash:/x`).
    pub restriction: String,
    /// Where the list was set, when it came from a file.
    pub origin: Option<(String, usize)>,
    /// `OK`, `DUNNO`, `REJECT 554 5.7.1 ...`, `DEFER_IF_PERMIT ...`, ...
    pub result: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `None`: proceed. `Some(reply)`: send this reply instead of the success reply.
    pub reply: Option<Reply>,
    pub events: Vec<LogEvent>,
    pub actions: Vec<MessageAction>,
    pub trace: Vec<TraceStep>,
}

/// The parsed restriction configuration.
#[derive(Debug)]
pub struct Policy {}

impl Policy {
    /// Parse every restriction list; fails like Postfix's smtpd start-up
    /// (e.g. no working `reject_unauth_destination` instance).
    pub fn from_config(cfg: &Config, rewriter: Arc<Rewriter>) -> Result<Policy, PolicyError> { let _ = (cfg, rewriter); todo!() }

    /// Evaluate the restrictions that apply at `stage` (with
    /// `smtpd_delay_reject = yes`, client/helo/sender lists run at RCPT).
    pub async fn check(&self, stage: Stage, facts: &Facts, session: &mut SessionPolicy) -> Verdict {
        let _ = (stage, facts, session);
        todo!()
    }
}
