//! The MIME structure of a message as cleanup(8) follows it (Postfix
//! `mime_state.c`, without 8-bit downgrading): after the primary header,
//! `multipart/*` boundaries (each kept up to `mime_boundary_length_limit`
//! bytes, nested up to `mime_nesting_limit` levels) start part headers,
//! and `message/rfc822` starts a nested message header. Body lines, part
//! headers and nested headers are told apart for `body_checks`,
//! `mime_header_checks` and `nested_header_checks`. When asked, it reports
//! 8-bit text in headers (`strict_7bit_headers`), 8-bit text in a 7-bit
//! body (`strict_8bitmime_body`), a multipart or message part with an
//! encoding outside its domain (`strict_mime_encoding_domain`), and
//! excessive nesting.

use crate::cleanup_message::header_name_len;
use crate::content_checks::{HeaderClass, MimeError};
use crate::content_rules::MimeSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Primary,
    Multipart,
    Nested,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctype {
    Other,
    Text,
    Message,
    Multipart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stype {
    Other,
    Plain,
    Rfc822,
    Partial,
    ExternalBody,
    Global,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    SevenBit,
    EightBit,
    Binary,
    Base64,
    QuotedPrintable,
}

struct Boundary {
    text: Vec<u8>,
    def_ctype: Ctype,
    def_stype: Stype,
}

/// What the state machine passes on.
pub(crate) enum MimeOut<'b> {
    /// A complete part or nested header (folded lines joined by `\n`).
    Header(HeaderClass, &'b [u8]),
    /// A body line (or piece), with its offset in the current body part.
    Body(&'b [u8], bool, usize),
    /// An error to report, with the text it was found in.
    Error(MimeError, &'b [u8]),
}

pub(crate) struct MimeState {
    settings: MimeSettings,
    report_nesting: bool,
    header_limit: usize,
    state: State,
    ctype: Ctype,
    stype: Stype,
    encoding: Encoding,
    domain: Encoding,
    stack: Vec<Boundary>,
    nesting_level: i64,
    /// Part or nested header being collected.
    header: Vec<u8>,
    prev_partial: bool,
    body_offset: usize,
    reported: Vec<MimeError>,
}

impl MimeState {
    pub(crate) fn new(settings: &MimeSettings, report_nesting: bool, header_limit: usize) -> Self {
        MimeState {
            settings: settings.clone(),
            report_nesting,
            header_limit,
            state: State::Primary,
            ctype: Ctype::Text,
            stype: Stype::Plain,
            encoding: Encoding::SevenBit,
            domain: Encoding::SevenBit,
            stack: Vec::new(),
            nesting_level: -1,
            header: Vec::new(),
            prev_partial: false,
            body_offset: 0,
            reported: Vec::new(),
        }
    }

    fn set(&mut self, state: State, ctype: Ctype, stype: Stype) {
        self.state = state;
        self.ctype = ctype;
        self.stype = stype;
        self.encoding = Encoding::SevenBit;
        self.domain = Encoding::SevenBit;
        if state == State::Body {
            self.body_offset = 0;
        }
    }

    fn report(&mut self, error: MimeError, text: &[u8], out: &mut dyn FnMut(MimeOut)) {
        if !self.reported.contains(&error) {
            self.reported.push(error);
            out(MimeOut::Error(error, text));
        }
    }

    /// One complete header of any class: its MIME meaning and the 8-bit
    /// check.
    pub(crate) fn header_seen(&mut self, raw: &[u8], out: &mut dyn FnMut(MimeOut)) {
        let Some(name_len) = header_name_len(raw) else {
            return;
        };
        if !self.settings.disabled {
            let name = String::from_utf8_lossy(&raw[..name_len]).to_ascii_lowercase();
            let value = raw
                .iter()
                .position(|b| *b == b':')
                .map_or(&raw[raw.len()..], |c| &raw[c + 1..]);
            let value = String::from_utf8_lossy(value);
            match name.as_str() {
                "content-type" => self.content_type(&value, raw, out),
                "content-transfer-encoding" => self.content_encoding(&value),
                _ => {}
            }
        }
        if self.settings.report_8bit_in_header && raw.iter().any(|b| *b & 0x80 != 0) {
            self.report(MimeError::EightBitInHeader, raw, out);
        }
    }

    fn content_type(&mut self, value: &str, raw: &[u8], out: &mut dyn FnMut(MimeOut)) {
        let params = split_params(value);
        let Some(kind) = params.first() else {
            return;
        };
        let (ty, sub) = match kind.split_once('/') {
            Some((t, s)) => (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase()),
            None => (kind.trim().to_ascii_lowercase(), String::new()),
        };
        match ty.as_str() {
            "text" => {
                self.ctype = Ctype::Text;
                self.stype = if sub == "plain" {
                    Stype::Plain
                } else {
                    Stype::Other
                };
            }
            "message" => {
                self.ctype = Ctype::Message;
                self.stype = match sub.as_str() {
                    "rfc822" => Stype::Rfc822,
                    "partial" => Stype::Partial,
                    "external-body" => Stype::ExternalBody,
                    "global" => Stype::Global,
                    _ => Stype::Other,
                };
            }
            "multipart" => {
                self.ctype = Ctype::Multipart;
                let (def_ctype, def_stype) = if sub == "digest" {
                    (Ctype::Message, Stype::Rfc822)
                } else {
                    (Ctype::Text, Stype::Plain)
                };
                for param in &params[1..] {
                    let Some((name, boundary)) = param.split_once('=') else {
                        continue;
                    };
                    if !name.trim().eq_ignore_ascii_case("boundary") {
                        continue;
                    }
                    if self.nesting_level > self.settings.nesting_limit as i64 {
                        if self.report_nesting {
                            self.report(MimeError::Nesting, raw, out);
                        }
                        continue;
                    }
                    let mut text = unquote(boundary.trim()).into_bytes();
                    text.truncate(self.settings.boundary_length_limit);
                    self.nesting_level += 1;
                    self.stack.push(Boundary {
                        text,
                        def_ctype,
                        def_stype,
                    });
                }
            }
            _ => self.ctype = Ctype::Other,
        }
    }

    fn content_encoding(&mut self, value: &str) {
        let token = value
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .find(|t| !t.is_empty())
            .unwrap_or("");
        let (encoding, domain) = match token.to_ascii_lowercase().as_str() {
            "7bit" => (Encoding::SevenBit, Encoding::SevenBit),
            "8bit" => (Encoding::EightBit, Encoding::EightBit),
            "binary" => (Encoding::Binary, Encoding::Binary),
            "base64" => (Encoding::Base64, Encoding::SevenBit),
            "quoted-printable" => (Encoding::QuotedPrintable, Encoding::SevenBit),
            _ => return,
        };
        self.encoding = encoding;
        self.domain = domain;
    }

    /// The end of a header (primary, part or nested): the encoding domain
    /// check and the state the following lines are in. `empty_line`:
    /// ended by an empty line (else by a line that is not a header).
    pub(crate) fn end_of_header(&mut self, empty_line: bool, out: &mut dyn FnMut(MimeOut)) {
        if self.settings.report_encoding_domain {
            let bad = match (self.ctype, self.stype) {
                (Ctype::Message, Stype::Partial | Stype::ExternalBody) => {
                    self.domain != Encoding::SevenBit
                }
                (Ctype::Message, Stype::Rfc822) | (Ctype::Multipart, _) => {
                    self.encoding != self.domain
                }
                _ => false,
            };
            if bad {
                let name = encoding_name(self.encoding);
                self.report(MimeError::EncodingDomain, name.as_bytes(), out);
            }
        }
        if !empty_line {
            self.state = State::Body;
            self.body_offset = 0;
            return;
        }
        self.body_offset = 0;
        match (self.ctype, self.stype) {
            (Ctype::Message, Stype::Rfc822 | Stype::Global) if !self.settings.disabled => {
                self.set(State::Nested, Ctype::Text, Stype::Plain)
            }
            (Ctype::Multipart, _) => self.set(State::Body, Ctype::Other, Stype::Other),
            _ => self.state = State::Body,
        }
    }

    /// Count a body line that no MIME rule needs to see (in a body with
    /// no multipart boundary to watch for, and no 8-bit check asked for)
    /// and say so; `false`, counting nothing, when the line must go
    /// through [`MimeState::line`] instead.
    pub(crate) fn pass_plain_body_line(&mut self, len: usize, complete: bool) -> bool {
        let plain = self.state == State::Body
            && self.stack.is_empty()
            && !(self.settings.report_8bit_in_7bit_body && self.encoding == Encoding::SevenBit);
        if plain {
            self.prev_partial = !complete;
            self.body_offset += len + usize::from(complete);
        }
        plain
    }

    /// One line after the primary header.
    pub(crate) fn line(&mut self, bytes: &[u8], complete: bool, out: &mut dyn FnMut(MimeOut)) {
        let continued = std::mem::replace(&mut self.prev_partial, !complete);
        if matches!(self.state, State::Multipart | State::Nested) {
            let class = if self.state == State::Multipart {
                HeaderClass::Multipart
            } else {
                HeaderClass::Nested
            };
            if !self.header.is_empty() {
                if continued || bytes.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                    if self.header.len() < self.header_limit {
                        if !continued {
                            self.header.push(b'\n');
                        }
                        self.header.extend_from_slice(bytes);
                    }
                    return;
                }
                let header = std::mem::take(&mut self.header);
                self.header_seen(&header, out);
                out(MimeOut::Header(class, &header));
            }
            if header_name_len(bytes).is_some() {
                self.header.extend_from_slice(bytes);
                return;
            }
            self.end_of_header(bytes.is_empty() && complete, out);
        }
        self.body_line(bytes, complete, continued, out);
    }

    fn body_line(
        &mut self,
        bytes: &[u8],
        complete: bool,
        continued: bool,
        out: &mut dyn FnMut(MimeOut),
    ) {
        if self.settings.report_8bit_in_7bit_body
            && self.encoding == Encoding::SevenBit
            && bytes.iter().any(|b| *b & 0x80 != 0)
        {
            self.report(MimeError::EightBitIn7BitBody, bytes, out);
        }
        if !self.stack.is_empty() && !continued && bytes.len() > 2 && bytes.starts_with(b"--") {
            let rest = &bytes[2..];
            if let Some(level) = self.stack.iter().rposition(|b| rest.starts_with(&b.text)) {
                while self.stack.len() > level + 1 {
                    self.pop();
                }
                let bound_len = self.stack[level].text.len();
                if rest[bound_len..].starts_with(b"--") {
                    self.pop();
                    self.set(State::Body, Ctype::Other, Stype::Other);
                } else {
                    let (c, s) = (self.stack[level].def_ctype, self.stack[level].def_stype);
                    self.set(State::Multipart, c, s);
                }
            }
        }
        let offset = self.body_offset;
        self.body_offset += bytes.len() + usize::from(complete);
        out(MimeOut::Body(bytes, complete, offset));
    }

    fn pop(&mut self) {
        self.stack.pop();
        self.nesting_level -= 1;
    }

    /// End of content: a part header still open is passed on.
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(MimeOut)) {
        if !self.header.is_empty() {
            let class = if self.state == State::Multipart {
                HeaderClass::Multipart
            } else {
                HeaderClass::Nested
            };
            let header = std::mem::take(&mut self.header);
            self.header_seen(&header, out);
            out(MimeOut::Header(class, &header));
        }
    }
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::SevenBit => "7bit",
        Encoding::EightBit => "8bit",
        Encoding::Binary => "binary",
        Encoding::Base64 => "base64",
        Encoding::QuotedPrintable => "quoted-printable",
    }
}

/// `type/subtype; name=value; ...` split at semicolons outside quotes and
/// comments, comments left out.
fn split_params(value: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let (mut quoted, mut depth, mut escaped) = (false, 0usize, false);
    for c in value.chars() {
        let cur = parts.last_mut().expect("never empty");
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            ';' if !quoted => parts.push(String::new()),
            '\n' => cur.push(' '),
            c => cur.push(c),
        }
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn unquote(text: &str) -> String {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => text.to_string(),
    }
}
