//! The message as filters see and change it: the header block (one entry
//! per logical header, folded lines kept) and the body, in the queue
//! file's form (lines ending in LF), and the envelope changes asked for at
//! end of message. The header edits follow Postfix's cleanup: our own
//! first header (the `Received:` line) is hidden from filters, so change
//! and delete indexes count headers as received, while insert indexes
//! count the headers as delivered, ours included.

/// A message being filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Each logical header, its lines LF-terminated.
    pub headers: Vec<Vec<u8>>,
    /// Everything after the empty line that ends the header.
    pub body: Vec<u8>,
    /// Where our own first header is now (hidden from filters).
    own: Option<usize>,
}

/// Envelope changes asked for by filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeChanges {
    /// New envelope sender (`SMFIR_CHGFROM`), internal form.
    pub sender: Option<String>,
    /// Recipients added (`SMFIR_ADDRCPT`, `SMFIR_ADDRCPT_PAR`).
    pub added: Vec<String>,
    /// Recipients deleted (`SMFIR_DELRCPT`), as the filter named them.
    pub deleted: Vec<String>,
}

impl EnvelopeChanges {
    pub fn is_empty(&self) -> bool {
        self.sender.is_none() && self.added.is_empty() && self.deleted.is_empty()
    }
}

/// `<addr>` → `addr` (a filter may send either).
pub fn strip_brackets(addr: &str) -> String {
    let a = addr.trim();
    a.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(a)
        .to_string()
}

fn header_name(raw: &[u8]) -> &[u8] {
    let end = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    raw[..end].trim_ascii_end()
}

/// `name: value` with LF line ends (CRLF from a filter become LF), one
/// space after the colon unless the filter sends its own leading space.
fn render_header(name: &str, value: &str, leading_space: bool) -> Vec<u8> {
    let value = value.replace("\r\n", "\n");
    let sep = if leading_space { "" } else { " " };
    format!("{name}:{sep}{value}\n").into_bytes()
}

impl Message {
    /// Split queue-file content at the first empty line.
    pub fn parse(content: &[u8]) -> Message {
        let mut headers: Vec<Vec<u8>> = Vec::new();
        let mut pos = 0;
        while pos < content.len() {
            let end = content[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| pos + i + 1)
                .unwrap_or(content.len());
            let line = &content[pos..end];
            if line == b"\n" {
                pos = end;
                break;
            }
            let continuation = matches!(line.first(), Some(b' ' | b'\t'));
            match headers.last_mut() {
                Some(last) if continuation => last.extend_from_slice(line),
                _ if continuation || !line.contains(&b':') => {
                    // Not a header: the body starts here (cleanup always
                    // puts an empty line first, so this is a safety net).
                    break;
                }
                _ => headers.push(line.to_vec()),
            }
            pos = end;
        }
        Message {
            own: (!headers.is_empty()).then_some(0),
            headers,
            body: content[pos..].to_vec(),
        }
    }

    /// The headers a filter is shown: all but our own first one.
    pub fn visible_headers(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.headers
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != self.own)
            .map(|(_, h)| h)
    }

    /// Back to queue-file content.
    pub fn to_content(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 1024);
        for h in &self.headers {
            out.extend_from_slice(h);
            if !h.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }

    /// Name and value of a header as sent to a filter (`SMFIC_HEADER`):
    /// one space after the colon eaten unless `leading_space`, the final
    /// line end dropped, folded lines joined with LF.
    pub fn split_header(raw: &[u8], leading_space: bool) -> (String, String) {
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        match text.split_once(':') {
            Some((name, value)) => {
                let value = if leading_space {
                    value
                } else {
                    value.strip_prefix(' ').unwrap_or(value)
                };
                (name.trim_end().to_string(), value.to_string())
            }
            None => (text.to_string(), String::new()),
        }
    }

    /// `SMFIR_ADDHEADER`: append at the end of the header.
    pub fn add_header(&mut self, name: &str, value: &str, leading_space: bool) {
        self.add_rendered(render_header(name, value, leading_space));
    }

    /// `name: value` as written to the queue file.
    pub(crate) fn render(name: &str, value: &str, leading_space: bool) -> Vec<u8> {
        render_header(name, value, leading_space)
    }

    /// The header as it would be written (`Name: value`, no final line
    /// end), for `milter_header_checks`.
    pub(crate) fn header_text(name: &str, value: &str, leading_space: bool) -> String {
        let raw = render_header(name, value, leading_space);
        let text = String::from_utf8_lossy(&raw);
        text.strip_suffix('\n').unwrap_or(&text).to_string()
    }

    /// A header text given whole (a `REPLACE` of `milter_header_checks`).
    pub(crate) fn render_text(text: &str) -> Vec<u8> {
        format!("{}\n", text.replace("\r\n", "\n")).into_bytes()
    }

    pub(crate) fn add_rendered(&mut self, raw: Vec<u8>) {
        self.headers.push(raw);
    }

    /// `SMFIR_INSHEADER`: insert before the header at `index` (0 = top),
    /// counting our own first header.
    pub fn insert_header(&mut self, index: usize, name: &str, value: &str, leading_space: bool) {
        self.insert_rendered(index, render_header(name, value, leading_space));
    }

    pub(crate) fn insert_rendered(&mut self, index: usize, raw: Vec<u8>) {
        let at = index.min(self.headers.len());
        if let Some(own) = self.own.as_mut() {
            if at <= *own {
                *own += 1;
            }
        }
        self.headers.insert(at, raw);
    }

    /// Position of the `index`th (1-based) header called `name`, not
    /// counting our own first header.
    fn nth_named(&self, index: usize, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != self.own)
            .filter(|(_, h)| header_name(h).eq_ignore_ascii_case(name.as_bytes()))
            .nth(index.saturating_sub(1))
            .map(|(i, _)| i)
    }

    /// `SMFIR_CHGHEADER` with a value: replace the `index`th header called
    /// `name`; when there is none, add it (Sendmail compatibility).
    pub fn change_header(&mut self, index: usize, name: &str, value: &str, leading_space: bool) {
        self.change_rendered(index, name, render_header(name, value, leading_space));
    }

    pub(crate) fn change_rendered(&mut self, index: usize, name: &str, raw: Vec<u8>) {
        match self.nth_named(index, name) {
            Some(at) => self.headers[at] = raw,
            None => self.add_rendered(raw),
        }
    }

    /// `SMFIR_CHGHEADER` with an empty value: delete that header, if any.
    pub fn delete_header(&mut self, index: usize, name: &str) {
        if let Some(at) = self.nth_named(index, name) {
            self.headers.remove(at);
            if let Some(own) = self.own.as_mut() {
                if at < *own {
                    *own -= 1;
                }
            }
        }
    }

    /// `SMFIR_REPLBODY`: the new body, CRLF line ends made LF.
    pub fn replace_body(&mut self, body: &[u8]) {
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        while i < body.len() {
            if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
                i += 1;
                continue;
            }
            out.push(body[i]);
            i += 1;
        }
        self.body = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &[u8] = b"Received: from x\n\tby y\nSubject: hi\nX-A: 1\nX-A: 2\n\nbody\n";

    #[test]
    fn parse_and_render_round_trip() {
        let m = Message::parse(CONTENT);
        assert_eq!(m.headers.len(), 4);
        assert_eq!(m.headers[0], b"Received: from x\n\tby y\n");
        assert_eq!(m.body, b"body\n");
        assert_eq!(m.to_content(), CONTENT);
    }

    #[test]
    fn header_as_sent() {
        assert_eq!(
            Message::split_header(b"Received: from x\n\tby y\n", false),
            ("Received".into(), "from x\n\tby y".into())
        );
        assert_eq!(
            Message::split_header(b"X:  two\n", true),
            ("X".into(), "  two".into())
        );
    }

    #[test]
    fn edits_count_as_postfix() {
        let mut m = Message::parse(CONTENT);
        m.change_header(2, "x-a", "two", false);
        m.delete_header(1, "X-A");
        m.insert_header(0, "X-Top", "t", false);
        m.change_header(1, "X-New", "n", false);
        m.delete_header(1, "Received");
        m.add_header("X-End", "e\r\n\tmore", false);
        m.replace_body(b"new\r\nbody\r\n");
        assert_eq!(
            String::from_utf8_lossy(&m.to_content()),
            "X-Top: t\nReceived: from x\n\tby y\nSubject: hi\nx-a: two\nX-New: n\nX-End: e\n\tmore\n\nnew\nbody\n"
        );
    }

    #[test]
    fn brackets() {
        assert_eq!(strip_brackets("<a@b>"), "a@b");
        assert_eq!(strip_brackets("a@b"), "a@b");
        assert_eq!(strip_brackets("<>"), "");
    }
}
