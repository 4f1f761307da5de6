//! One filter of a session, as Postfix's milter8.c runs it: the socket,
//! the negotiated version, modifications and steps, the state (ready, in
//! the envelope, in a message, accepted or rejected for the connection or
//! the message, broken), the default reply a broken filter gives, and one
//! event at a time: macros first, then the event, then its reply or
//! replies (progress, modifications at end of message, the decision).

use std::collections::HashMap;
use std::time::Duration;

use crate::conn::{Conn, ConnError};
use crate::header_checks::{Fate, HeaderCheckRun};
use crate::message::{strip_brackets, EnvelopeChanges, Message};
use crate::protocol::{action, cmd, command_name, put_str, reply, reply_name, step, Data};
use crate::settings::{DefaultAction, FilterSpec, MilterSettings};
use crate::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    Ready,
    Envelope,
    Message,
    AcceptConnection,
    AcceptMessage,
    RejectConnection,
    Error,
}

/// Values of the macros known at this moment, by bare name (`i`,
/// `client_addr`).
pub type Macros = HashMap<String, String>;

/// Where a message's edits go while a filter answers end of message.
pub(crate) struct MessageEdits<'a> {
    pub message: &'a mut Message,
    pub envelope: &'a mut EnvelopeChanges,
    pub hold: &'a mut bool,
    /// The body as `SMFIR_REPLBODY` chunks rebuild it (CRLF line ends).
    pub new_body: Option<Vec<u8>>,
    /// `milter_header_checks`, when configured.
    pub checks: Option<HeaderCheckRun<'a>>,
}

pub(crate) struct Filter {
    pub name: String,
    /// The settings this filter runs with (main.cf or its own).
    spec: FilterSpec,
    conn: Option<Conn>,
    pub state: State,
    /// What every further event answers once the filter broke or decided
    /// for the whole connection (Postfix's `def_reply`).
    def_reply: Option<Outcome>,
    /// Steps the filter asked to skip or not to answer (`SMFIP_*`).
    steps: u32,
    /// Events outside the protocol version we announced.
    non_protocol: u32,
    /// Macro lists the filter asked for (version 6 `SMFIF_SETSYMLIST`).
    symlists: HashMap<u8, Vec<String>>,
    program: &'static str,
}

impl Filter {
    pub fn new(spec: &FilterSpec, program: &'static str) -> Filter {
        Filter {
            name: spec.endpoint.clone(),
            spec: spec.clone(),
            conn: None,
            state: State::Closed,
            def_reply: None,
            steps: 0,
            non_protocol: 0,
            symlists: HashMap::new(),
            program,
        }
    }

    fn warn(&self, text: String) {
        gatepost_log::warning(self.program, text);
    }

    /// A configuration error: `451 4.3.5`, unless the default action is
    /// accept.
    fn conf_error(&mut self) -> Option<Outcome> {
        self.conn = None;
        self.def_reply = match self.spec.default_action() {
            Some(DefaultAction::Accept) => None,
            _ => Some(Outcome::Reply(
                "451 4.3.5 Server configuration problem - try again later".into(),
            )),
        };
        self.state = State::Error;
        self.def_reply.clone()
    }

    /// A communication error: the default action decides.
    fn comm_error(&mut self) -> Option<Outcome> {
        self.conn = None;
        self.def_reply = match self.spec.default_action() {
            Some(DefaultAction::Accept) => None,
            Some(DefaultAction::Reject) => {
                Some(Outcome::Reply("550 5.5.0 Service unavailable".into()))
            }
            Some(DefaultAction::Tempfail) => Some(Outcome::Reply(
                "451 4.7.1 Service unavailable - try again later".into(),
            )),
            Some(DefaultAction::Quarantine) => Some(Outcome::Hold),
            None => {
                self.warn(format!(
                    "milter {}: unrecognized default action: {}",
                    self.name, self.spec.default_action
                ));
                Some(Outcome::Reply(
                    "451 4.3.5 Server configuration problem - try again later".into(),
                ))
            }
        };
        self.state = State::Error;
        self.def_reply.clone()
    }

    /// Connect and negotiate (`SMFIC_OPTNEG`); the state says how it went.
    pub async fn connect(&mut self) {
        if let Some(why) = self.spec.error.clone() {
            // Postfix stops here; the filter answers as a configuration
            // error whatever its default action.
            self.warn(why);
            self.conn = None;
            self.def_reply = Some(Outcome::Reply(
                "451 4.3.5 Server configuration problem - try again later".into(),
            ));
            self.state = State::Error;
            return;
        }
        let (version, my_steps) = match self.spec.protocol() {
            Ok(p) => p,
            Err(word) if word.is_empty() => {
                self.warn(format!(
                    "milter {}: no protocol version information",
                    self.name
                ));
                self.conf_error();
                return;
            }
            Err(word) => {
                self.warn(format!(
                    "milter {}: bad protocol information: {word}",
                    self.name
                ));
                self.conf_error();
                return;
            }
        };
        self.non_protocol = !(my_steps | step::NR_HDR);
        let mut conn = match Conn::open(&self.name, self.spec.connect_timeout).await {
            Ok(c) => c,
            Err(e @ (ConnError::BadEndpoint(_) | ConnError::BadTransport(..))) => {
                self.warn(e.to_string());
                self.conf_error();
                return;
            }
            Err(e) => {
                self.warn(format!("connect to Milter service {}: {e}", self.name));
                self.comm_error();
                return;
            }
        };
        let my_actions = if version >= 6 {
            action::ALL
        } else {
            action::ALL & !(action::CHGFROM | action::ADDRCPT_PAR | action::SETSYMLIST)
        };
        let mut data = Vec::with_capacity(12);
        for v in [version, my_actions, my_steps] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let limit = self.spec.command_timeout;
        if let Err(e) = conn.send(cmd::OPTNEG, &data, limit).await {
            self.warn(format!(
                "milter {}: write error in initial handshake: {e}",
                self.name
            ));
            self.comm_error();
            return;
        }
        let (code, data) = match conn.read(limit).await {
            Ok(r) => r,
            Err(e) => {
                self.warn(format!(
                    "milter {}: can't read SMFIC_OPTNEG reply packet header: {e}",
                    self.name
                ));
                self.warn(format!(
                    "milter {}: read error in initial handshake",
                    self.name
                ));
                self.comm_error();
                return;
            }
        };
        if code != cmd::OPTNEG {
            self.warn(format!(
                "milter {}: unexpected reply \"{}\" in initial handshake",
                self.name, code as char
            ));
            self.comm_error();
            return;
        }
        let mut d = Data::new(&data);
        let (Some(their_version), Some(actions), Some(steps)) = (d.u32(), d.u32(), d.u32()) else {
            self.warn(format!(
                "milter {}: read error in initial handshake",
                self.name
            ));
            self.comm_error();
            return;
        };
        if their_version > version {
            self.warn(format!(
                "milter {}: protocol version {their_version} conflict with MTA protocol version {version}",
                self.name
            ));
            self.comm_error();
            return;
        }
        if actions & my_actions != actions {
            self.warn(format!(
                "milter {}: request mask 0x{actions:x} conflict with MTA request mask 0x{my_actions:x}",
                self.name
            ));
            self.comm_error();
            return;
        }
        if steps & my_steps != steps {
            self.warn(format!(
                "milter {}: event mask 0x{steps:x} includes features not offered in MTA event mask 0x{my_steps:x}",
                self.name
            ));
            self.comm_error();
            return;
        }
        // Version 6: the macros the filter wants at each stage.
        while !d.is_empty() {
            let (Some(index), Some(list)) = (d.u32(), d.string()) else {
                break;
            };
            if let Some(&stage) = crate::protocol::SYMLIST_STAGES.get(index as usize) {
                let names = list.split_whitespace().map(str::to_string).collect();
                self.symlists.insert(stage, names);
            }
        }
        self.steps = steps;
        self.conn = Some(conn);
        self.state = State::Ready;
        self.def_reply = None;
    }

    /// The `SMFIC_MACRO` data for `event`: the filter's own list for the
    /// stage if it sent one, else ours. Sent even when no macro has a value
    /// (only the event code then), as Postfix 3.7 does.
    fn macro_data(
        &self,
        event: u8,
        configured: &[String],
        values: &Macros,
        settings: &MilterSettings,
    ) -> Option<Vec<u8>> {
        let names = self
            .symlists
            .get(&event)
            .map(Vec::as_slice)
            .unwrap_or(configured);
        let mut data = vec![event];
        for name in names {
            // A macro with no value now gets its `milter_macro_defaults`
            // value, if any (Postfix `milter_macro_lookup()`).
            let bare = name.trim_start_matches('{').trim_end_matches('}');
            let value = values
                .get(bare)
                .map(String::as_str)
                .or_else(|| settings.macro_default(bare));
            if let Some(value) = value {
                put_str(&mut data, name);
                put_str(&mut data, value);
            }
        }
        Some(data)
    }

    /// Report one event and read the reply (Postfix `milter8_event`).
    /// `skip` is the `SMFIP_NO*` bit of the event, `no_reply` its
    /// `SMFIP_NR_*` bit.
    #[allow(clippy::too_many_arguments)]
    pub async fn event(
        &mut self,
        event: u8,
        skip: u32,
        no_reply: u32,
        macros: Option<Vec<u8>>,
        data: &[u8],
        limit: Duration,
        mut edits: Option<&mut MessageEdits<'_>>,
    ) -> EventResult {
        if skip & self.non_protocol != 0 {
            return EventResult::Done(self.def_reply.clone());
        }
        let Some(conn) = self.conn.as_mut() else {
            return EventResult::Done(self.def_reply.clone());
        };
        if let Some(m) = macros {
            if let Err(e) = conn.send(cmd::MACRO, &m, limit).await {
                self.warn(format!("milter {}: error writing command: {e}", self.name));
                return EventResult::Done(self.comm_error());
            }
        }
        if skip & self.steps != 0 {
            return EventResult::Done(self.def_reply.clone());
        }
        let Some(conn) = self.conn.as_mut() else {
            return EventResult::Done(self.def_reply.clone());
        };
        if let Err(e) = conn.send(event, data, limit).await {
            self.warn(format!("milter {}: error writing command: {e}", self.name));
            return EventResult::Done(self.comm_error());
        }
        if no_reply != 0 && no_reply & self.steps != 0 {
            return EventResult::Done(self.def_reply.clone());
        }
        let connect_stage = event == cmd::CONNECT || event == cmd::HELO;
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return EventResult::Done(self.def_reply.clone());
            };
            let (code, data) = match conn.read(limit).await {
                Ok(r) => r,
                Err(e) => {
                    self.warn(format!(
                        "milter {}: can't read {} reply packet header: {e}",
                        self.name,
                        command_name(event)
                    ));
                    return EventResult::Done(self.comm_error());
                }
            };
            let simple = data.is_empty();
            match code {
                reply::PROGRESS if simple => continue,
                reply::CONTINUE if simple => return EventResult::Done(self.def_reply.clone()),
                reply::SKIP if simple && event == cmd::BODY => return EventResult::Skip,
                reply::ACCEPT if simple => {
                    if connect_stage {
                        self.conn = None;
                        self.state = State::AcceptConnection;
                    } else {
                        self.state = State::AcceptMessage;
                    }
                    return EventResult::Done(self.def_reply.clone());
                }
                reply::DISCARD if simple => {
                    if connect_stage {
                        self.warn(format!(
                            "milter {}: DISCARD action is not allowed for connect or helo",
                            self.name
                        ));
                        return EventResult::Done(self.conf_error());
                    }
                    self.state = State::AcceptMessage;
                    return EventResult::Done(Some(Outcome::Discard));
                }
                reply::REJECT if simple => {
                    return EventResult::Done(self.decide(
                        connect_stage,
                        Outcome::Reply("550 5.7.1 Command rejected".into()),
                    ))
                }
                reply::TEMPFAIL if simple => {
                    return EventResult::Done(self.decide(
                        connect_stage,
                        Outcome::Reply("451 4.7.1 Service unavailable - try again later".into()),
                    ))
                }
                reply::SHUTDOWN if simple => {
                    self.conn = None;
                    self.state = State::RejectConnection;
                    self.def_reply = Some(Outcome::Shutdown);
                    return EventResult::Done(self.def_reply.clone());
                }
                reply::REPLYCODE => {
                    let text = String::from_utf8_lossy(&data);
                    let text = text.trim_end_matches('\0');
                    let b = text.as_bytes();
                    let well_formed = b.len() > 4
                        && (b[0] == b'4' || b[0] == b'5')
                        && b[1].is_ascii_digit()
                        && b[2].is_ascii_digit()
                        && (b[3] == b' ' || b[3] == b'-')
                        && b[4] == b[0];
                    if !well_formed {
                        self.warn(format!("milter {}: malformed reply: {text}", self.name));
                        return EventResult::Done(self.conf_error());
                    }
                    let reply = unescape_percent(text);
                    return EventResult::Done(self.decide(connect_stage, Outcome::Reply(reply)));
                }
                reply::QUARANTINE => return EventResult::Done(Some(Outcome::Hold)),
                _ if event == cmd::BODYEOB => {
                    if let Some(e) = edits.as_deref_mut() {
                        if self.modify(code, &data, e).is_some() {
                            continue;
                        }
                        self.warn(format!(
                            "milter {}: malformed {} reply",
                            self.name,
                            reply_name(code)
                        ));
                        return EventResult::Done(self.conf_error());
                    }
                }
                _ => {}
            }
            if matches!(
                code,
                reply::PROGRESS
                    | reply::CONTINUE
                    | reply::ACCEPT
                    | reply::DISCARD
                    | reply::REJECT
                    | reply::TEMPFAIL
                    | reply::SHUTDOWN
                    | reply::SKIP
            ) && !simple
            {
                self.warn(format!(
                    "milter {}: reply {} was followed by {} data bytes",
                    self.name,
                    reply_name(code),
                    data.len()
                ));
            } else {
                self.warn(format!(
                    "milter {}: unexpected filter response {} after event {}",
                    self.name,
                    reply_name(code),
                    command_name(event)
                ));
            }
            return EventResult::Done(self.comm_error());
        }
    }

    /// A reject or tempfail: final for the connection at CONNECT and HELO.
    fn decide(&mut self, connect_stage: bool, outcome: Outcome) -> Option<Outcome> {
        if connect_stage {
            self.conn = None;
            self.state = State::RejectConnection;
            self.def_reply = Some(outcome.clone());
        }
        Some(outcome)
    }

    /// Carry out one end-of-message modification; `None` when malformed.
    fn modify(&self, code: u8, data: &[u8], e: &mut MessageEdits<'_>) -> Option<()> {
        let leading_space = self.steps & step::HDR_LEADSPC != 0;
        let mut d = Data::new(data);
        // Once `milter_header_checks` decided the message will not be
        // received, further edits are read but not carried out (Postfix
        // milter8.c `edit_resp`).
        let ended = e.checks.as_ref().is_some_and(|c| !c.verdict.output_ok());
        match code {
            reply::ADDHEADER => {
                let (name, value) = (d.string()?, d.string()?);
                if let Some(raw) = checked_header(e, ended, &name, &value, leading_space) {
                    e.message.add_rendered(raw);
                }
            }
            reply::INSHEADER => {
                let (index, name, value) = (d.u32()?, d.string()?, d.string()?);
                if let Some(raw) = checked_header(e, ended, &name, &value, leading_space) {
                    e.message.insert_rendered(index as usize, raw);
                }
            }
            reply::CHGHEADER => {
                let (index, name, value) = (d.u32()?, d.string()?, d.string()?);
                if name.is_empty() {
                    return None;
                }
                let index = (index as usize).max(1);
                if value.is_empty() {
                    if !ended {
                        e.message.delete_header(index, &name);
                    }
                } else if let Some(raw) = checked_header(e, ended, &name, &value, leading_space) {
                    e.message.change_rendered(index, &name, raw);
                }
            }
            _ if ended => {
                // Parsed for its form only.
                match code {
                    reply::ADDRCPT | reply::ADDRCPT_PAR | reply::DELRCPT | reply::CHGFROM => {
                        d.string()?;
                    }
                    reply::REPLBODY | reply::QUARANTINE => {}
                    _ => return None,
                }
            }
            reply::ADDRCPT | reply::ADDRCPT_PAR => {
                e.envelope.added.push(strip_brackets(&d.string()?));
            }
            reply::DELRCPT => e.envelope.deleted.push(strip_brackets(&d.string()?)),
            reply::CHGFROM => e.envelope.sender = Some(strip_brackets(&d.string()?)),
            reply::REPLBODY => e
                .new_body
                .get_or_insert_with(Vec::new)
                .extend_from_slice(d.rest()),
            reply::QUARANTINE => *e.hold = true,
            _ => return None,
        }
        Some(())
    }

    /// `SMFIC_ABORT` after a message or RSET: back to the envelope state.
    pub async fn abort(&mut self) {
        match self.state {
            State::Envelope | State::Message | State::AcceptMessage => {
                if let Some(conn) = self.conn.as_mut() {
                    if let Err(e) = conn.send(cmd::ABORT, &[], self.spec.command_timeout).await {
                        self.warn(format!("milter {}: error writing command: {e}", self.name));
                        self.comm_error();
                        return;
                    }
                }
                self.state = State::Envelope;
            }
            _ => {}
        }
    }

    /// `SMFIC_QUIT` at the end of the session.
    pub async fn quit(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.send(cmd::QUIT, &[], self.spec.command_timeout).await;
        }
        self.state = State::Closed;
    }

    pub fn macros_for(
        &self,
        event: u8,
        configured: &[String],
        values: &Macros,
        settings: &MilterSettings,
    ) -> Option<Vec<u8>> {
        self.macro_data(event, configured, values, settings)
    }

    /// The filter's own time limits.
    pub fn spec(&self) -> &FilterSpec {
        &self.spec
    }

    pub fn leading_space(&self) -> bool {
        self.steps & step::HDR_LEADSPC != 0
    }

    pub fn skips(&self, bit: u32) -> bool {
        self.steps & bit != 0
    }
}

/// The header to write for an add, insert or change, after
/// `milter_header_checks`; `None` when it is not written.
fn checked_header(
    e: &mut MessageEdits<'_>,
    ended: bool,
    name: &str,
    value: &str,
    leading_space: bool,
) -> Option<Vec<u8>> {
    if ended {
        return None;
    }
    let Some(run) = e.checks.as_mut() else {
        return Some(Message::render(name, value, leading_space));
    };
    let text = Message::header_text(name, value, leading_space);
    match run.check(&text) {
        Fate::Keep if !run.verdict.output_ok() => None,
        Fate::Keep => Some(Message::render(name, value, leading_space)),
        Fate::Replace(text) => Some(Message::render_text(&text)),
        Fate::Drop => None,
    }
}

/// What one event came to.
pub(crate) enum EventResult {
    Done(Option<Outcome>),
    /// `SMFIR_SKIP` to a body chunk: send no more body.
    Skip,
}

/// Sendmail treats a reply as a format string: `%%` is `%`, a lone `%`
/// is dropped.
fn unescape_percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Filter {
    /// The reply of a filter that broke or decided for the connection.
    pub fn default_reply(&self) -> Option<Outcome> {
        self.def_reply.clone()
    }
}
