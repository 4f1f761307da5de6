//! The MTA side of the Sendmail 8 milter protocol (version 6, as Postfix
//! speaks it), for `smtpd_milters` and `non_smtpd_milters`:
//!
//! - `protocol`: wire constants and packet layout;
//! - `settings`: the milter parameters ([`MilterSettings`]);
//! - `conn`: the socket to one filter (`inet:`, `unix:`);
//! - `filter`: one filter's negotiation, state and event exchange;
//! - `message`: the message and envelope as filters edit them
//!   ([`Message`], [`EnvelopeChanges`]);
//! - `header_checks`: `milter_header_checks` on the headers filters add
//!   or change ([`HeaderCheckVerdict`]);
//! - here: [`Milters`], the filters of one session, called by smtpd (or
//!   pickup) at each stage, returning what Postfix's milter(3) returns: no
//!   objection, or an [`Outcome`].
#![forbid(unsafe_code)]

mod conn;
mod filter;
mod header_checks;
mod message;
mod protocol;
mod settings;

use std::net::IpAddr;
use std::sync::Arc;

pub use filter::Macros;
pub use header_checks::{CheckOrigin, HeaderCheckVerdict};
pub use message::{EnvelopeChanges, Message};
pub use settings::{DefaultAction, FilterSpec, HeaderCheckTables, MilterSettings, StageMacros};

use filter::{EventResult, Filter, MessageEdits, State};
use header_checks::HeaderCheckRun;
use protocol::{cmd, put_str, step, CHUNK_SIZE};

/// A filter's decision, in Postfix's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An SMTP reply, `4XX X.Y.Z text` or `5XX X.Y.Z text`.
    Reply(String),
    /// Accept and throw the message away (`D`).
    Discard,
    /// Quarantine: the message goes to the hold queue (`H`).
    Hold,
    /// `421 4.7.0 Server closing connection` (`S`).
    Shutdown,
}

/// The SMTP client as the CONNECT event describes it.
#[derive(Debug, Clone)]
pub struct Client<'a> {
    pub name: &'a str,
    /// `None` for a local submission (sent as family `U`).
    pub addr: Option<IpAddr>,
    pub port: u16,
}

/// The end-of-message result: a final outcome, or none (the message goes
/// on, edited), whether a filter asked for quarantine, and what
/// `milter_header_checks` decided (a rejection or discard there ends the
/// message before any filter's own decision, which is then not reported).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageVerdict {
    pub outcome: Option<Outcome>,
    pub hold: bool,
    pub envelope: EnvelopeChanges,
    pub checks: HeaderCheckVerdict,
}

/// The filters of one SMTP session (or one local submission).
pub struct Milters {
    settings: Arc<MilterSettings>,
    filters: Vec<Filter>,
}

impl Milters {
    /// Filters not yet connected; `program` names the log lines
    /// (`smtpd`, `cleanup`).
    pub fn new(settings: Arc<MilterSettings>, program: &'static str) -> Milters {
        let filters = settings
            .filters
            .iter()
            .map(|spec| Filter::new(spec, program))
            .collect();
        Milters { settings, filters }
    }

    pub fn settings(&self) -> &MilterSettings {
        &self.settings
    }

    /// Connect to each filter and report the client (`SMFIC_CONNECT`).
    pub async fn connect(&mut self, client: &Client<'_>, macros: &Macros) -> Option<Outcome> {
        let settings = self.settings.clone();
        let mut data = Vec::new();
        put_str(&mut data, client.name);
        match client.addr {
            Some(addr) => {
                data.push(if addr.is_ipv4() { b'4' } else { b'6' });
                data.extend_from_slice(&client.port.to_be_bytes());
                put_str(&mut data, &addr.to_string());
            }
            None => data.push(b'U'),
        }
        for f in &mut self.filters {
            f.connect().await;
            if f.state != State::Ready {
                if let Some(reply) = filter_reply(f) {
                    return Some(reply);
                }
                continue;
            }
            f.state = State::Envelope;
            let m = f.macros_for(cmd::CONNECT, &settings.macros.connect, macros, &settings);
            let limit = f.spec().command_timeout;
            if let Some(o) = f
                .event(
                    cmd::CONNECT,
                    step::NOCONNECT,
                    step::NR_CONN,
                    m,
                    &data,
                    limit,
                    None,
                )
                .await
                .outcome()
            {
                return Some(o);
            }
        }
        None
    }

    /// An envelope event for every filter still listening.
    async fn envelope_event(
        &mut self,
        event: u8,
        skip: u32,
        no_reply: u32,
        configured: fn(&StageMacros) -> &Vec<String>,
        data: &[u8],
        macros: &Macros,
    ) -> Option<Outcome> {
        let settings = self.settings.clone();
        for f in &mut self.filters {
            match f.state {
                State::Envelope => {}
                State::Error | State::AcceptConnection | State::RejectConnection => {
                    if let Some(o) = filter_reply(f) {
                        return Some(o);
                    }
                    continue;
                }
                _ => continue,
            }
            let m = f.macros_for(event, configured(&settings.macros), macros, &settings);
            let limit = f.spec().command_timeout;
            if let Some(o) = f
                .event(event, skip, no_reply, m, data, limit, None)
                .await
                .outcome()
            {
                return Some(o);
            }
        }
        None
    }

    /// `SMFIC_HELO`.
    pub async fn helo(&mut self, name: &str, macros: &Macros) -> Option<Outcome> {
        let mut data = Vec::new();
        put_str(&mut data, name);
        self.envelope_event(
            cmd::HELO,
            step::NOHELO,
            step::NR_HELO,
            |m| &m.helo,
            &data,
            macros,
        )
        .await
    }

    /// `SMFIC_MAIL`: `<sender>` then the ESMTP parameters.
    pub async fn mail(&mut self, args: &[String], macros: &Macros) -> Option<Outcome> {
        let data = argv(args);
        self.envelope_event(
            cmd::MAIL,
            step::NOMAIL,
            step::NR_MAIL,
            |m| &m.mail,
            &data,
            macros,
        )
        .await
    }

    /// `SMFIC_RCPT`: `<recipient>` then the ESMTP parameters.
    pub async fn rcpt(&mut self, args: &[String], macros: &Macros) -> Option<Outcome> {
        let data = argv(args);
        self.envelope_event(
            cmd::RCPT,
            step::NORCPT,
            step::NR_RCPT,
            |m| &m.rcpt,
            &data,
            macros,
        )
        .await
    }

    /// `SMFIC_DATA`.
    pub async fn data(&mut self, macros: &Macros) -> Option<Outcome> {
        self.envelope_event(
            cmd::DATA,
            step::NODATA,
            step::NR_DATA,
            |m| &m.data,
            &[],
            macros,
        )
        .await
    }

    /// An SMTP command gatepost does not recognise (`SMFIC_UNKNOWN`, the
    /// command word), before it is answered `500`; protocol 3 and later.
    pub async fn unknown(&mut self, command: &str, macros: &Macros) -> Option<Outcome> {
        let mut data = Vec::new();
        put_str(&mut data, command);
        self.envelope_event(
            cmd::UNKNOWN,
            step::NOUNKNOWN,
            step::NR_UNKN,
            |m| &m.unknown,
            &data,
            macros,
        )
        .await
    }

    /// The message to each filter in turn (headers but our first, end of
    /// header, body in CRLF chunks, end of body), with each filter's
    /// modifications carried out before the next one sees it, and the
    /// headers they add or change put through `milter_header_checks`
    /// (logged for `origin`).
    pub async fn message(
        &mut self,
        message: &mut Message,
        macros: &Macros,
        origin: &CheckOrigin,
    ) -> MessageVerdict {
        let settings = self.settings.clone();
        let mut verdict = MessageVerdict::default();
        for f in &mut self.filters {
            let limit = f.spec().content_timeout;
            match f.state {
                State::Envelope => {}
                State::Error | State::AcceptConnection | State::RejectConnection => {
                    match filter_reply(f) {
                        Some(Outcome::Hold) => verdict.hold = true,
                        Some(o) => {
                            verdict.outcome = Some(o);
                            return verdict;
                        }
                        None => {}
                    }
                    continue;
                }
                _ => continue,
            }
            f.state = State::Message;
            let outcome =
                send_message(f, &settings, message, macros, limit, origin, &mut verdict).await;
            if matches!(f.state, State::Message | State::AcceptMessage) {
                f.state = State::Envelope;
            }
            if !verdict.checks.output_ok() {
                return verdict;
            }
            match outcome {
                Some(Outcome::Hold) => verdict.hold = true,
                Some(o) => {
                    verdict.outcome = Some(o);
                    return verdict;
                }
                None => {}
            }
        }
        verdict
    }

    /// `SMFIC_ABORT`: the transaction ended without a message (RSET, a
    /// new HELO) or after one.
    pub async fn abort(&mut self) {
        for f in &mut self.filters {
            f.abort().await;
        }
    }

    /// `SMFIC_QUIT`: the session is over.
    pub async fn quit(&mut self) {
        for f in &mut self.filters {
            f.quit().await;
        }
    }
}

/// What a filter that no longer talks answers: its default reply.
fn filter_reply(f: &Filter) -> Option<Outcome> {
    f.default_reply()
}

fn argv(args: &[String]) -> Vec<u8> {
    let mut data = Vec::new();
    for a in args {
        put_str(&mut data, a);
    }
    data
}

impl EventResult {
    fn outcome(self) -> Option<Outcome> {
        match self {
            EventResult::Done(o) => o,
            EventResult::Skip => None,
        }
    }
}

/// One filter's end-of-message exchange (Postfix `milter8_message`).
async fn send_message(
    f: &mut Filter,
    settings: &MilterSettings,
    message: &mut Message,
    macros: &Macros,
    limit: std::time::Duration,
    origin: &CheckOrigin,
    verdict: &mut MessageVerdict,
) -> Option<Outcome> {
    let leading_space = f.leading_space();
    let eoh_macros = f.macros_for(cmd::EOH, &settings.macros.end_of_header, macros, settings);
    let eod_macros = f.macros_for(cmd::BODYEOB, &settings.macros.end_of_data, macros, settings);
    if !f.skips(step::NOHDRS) {
        let headers: Vec<Vec<u8>> = message.visible_headers().cloned().collect();
        for raw in &headers {
            let (name, value) = Message::split_header(raw, leading_space);
            let mut data = Vec::new();
            put_str(&mut data, &name);
            put_str(&mut data, &value);
            let o = f
                .event(
                    cmd::HEADER,
                    step::NOHDRS,
                    step::NR_HDR,
                    eoh_macros.clone(),
                    &data,
                    limit,
                    None,
                )
                .await
                .outcome();
            if o.is_some() || f.state != State::Message {
                return o;
            }
        }
    }
    let o = f
        .event(
            cmd::EOH,
            step::NOEOH,
            step::NR_EOH,
            eoh_macros.clone(),
            &[],
            limit,
            None,
        )
        .await
        .outcome();
    if o.is_some() || f.state != State::Message {
        return o;
    }
    let mut chunk: Vec<u8> = Vec::new();
    if !f.skips(step::NOBODY) {
        let mut skipped = false;
        let body = message.body.clone();
        for line in body.split_inclusive(|&b| b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let mut rest: &[u8] = text;
            let mut pieces: Vec<&[u8]> = Vec::new();
            pieces.push(rest);
            if line.ends_with(b"\n") {
                pieces.push(b"\r\n");
            }
            for piece in pieces {
                rest = piece;
                while !rest.is_empty() {
                    let room = CHUNK_SIZE - chunk.len();
                    let n = room.min(rest.len());
                    chunk.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    if chunk.len() == CHUNK_SIZE {
                        match f
                            .event(
                                cmd::BODY,
                                step::NOBODY,
                                step::NR_BODY,
                                eoh_macros.clone(),
                                &chunk,
                                limit,
                                None,
                            )
                            .await
                        {
                            EventResult::Skip => skipped = true,
                            EventResult::Done(Some(o)) => return Some(o),
                            EventResult::Done(None) => {}
                        }
                        chunk.clear();
                        if skipped || f.state != State::Message {
                            break;
                        }
                    }
                }
                if skipped || f.state != State::Message {
                    break;
                }
            }
            if skipped || f.state != State::Message {
                break;
            }
        }
        if skipped {
            chunk.clear();
        }
        if f.state != State::Message {
            return None;
        }
        // The last part of the body as a chunk of its own: filters such as
        // rspamd ignore data sent with the end of message.
        if !chunk.is_empty() {
            match f
                .event(
                    cmd::BODY,
                    step::NOBODY,
                    step::NR_BODY,
                    eoh_macros.clone(),
                    &chunk,
                    limit,
                    None,
                )
                .await
            {
                EventResult::Done(Some(o)) => return Some(o),
                EventResult::Skip | EventResult::Done(None) => {}
            }
            chunk.clear();
            if f.state != State::Message {
                return None;
            }
        }
    }
    let mut hold = false;
    let checks = (!settings.header_checks.is_empty()).then_some(HeaderCheckRun {
        maps: &settings.header_checks.maps,
        origin,
        verdict: &mut verdict.checks,
    });
    let mut edits = MessageEdits {
        message,
        envelope: &mut verdict.envelope,
        hold: &mut hold,
        new_body: None,
        checks,
    };
    let o = f
        .event(
            cmd::BODYEOB,
            0,
            0,
            eod_macros,
            &chunk,
            limit,
            Some(&mut edits),
        )
        .await
        .outcome();
    if let Some(body) = edits.new_body.take() {
        edits.message.replace_body(&body);
    }
    if hold {
        verdict.hold = true;
    }
    o
}
