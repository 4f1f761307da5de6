//! Command-line framing: splits the client byte stream into command lines,
//! bounded by `line_length_limit` (excess bytes are discarded and reported,
//! the truncated command is still executed, as Postfix does). CRLF and bare
//! LF both end a line; whether a bare LF is acceptable is the caller's
//! decision (`smtpd_forbid_bare_newline`), so each line says which it had.
//!
//! Bounds: the internal buffer never holds more than `limit` bytes of one
//! line plus one read's worth of input.

/// One command line as read from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Line content without the line ending and without trailing CRs,
    /// truncated to the limit.
    pub bytes: Vec<u8>,
    /// Total length of the line as sent (before truncation).
    pub original_len: usize,
    /// The line ended with a bare LF (no CR before it).
    pub bare_lf: bool,
}

impl CommandLine {
    pub fn truncated(&self) -> bool {
        self.original_len > self.bytes.len()
    }
}

/// Incremental line splitter.
#[derive(Debug)]
pub struct LineReader {
    limit: usize,
    buf: Vec<u8>,
    /// Bytes of the current line dropped because it exceeded the limit.
    dropped: usize,
}

impl LineReader {
    pub fn new(limit: usize) -> LineReader {
        LineReader {
            limit: limit.max(1),
            buf: Vec::new(),
            dropped: 0,
        }
    }

    /// Bytes buffered but not yet returned as a line.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Whether input is waiting beyond the lines already returned.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Take all buffered input (used when switching to DATA or TLS).
    pub fn take_pending(&mut self) -> Vec<u8> {
        self.dropped = 0;
        std::mem::take(&mut self.buf)
    }

    /// Throw away buffered input (STARTTLS: defeats command injection).
    pub fn discard_pending(&mut self) {
        self.buf.clear();
        self.dropped = 0;
    }

    /// Add bytes from the socket.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Return the next complete line, if any.
    pub fn next_line(&mut self) -> Option<CommandLine> {
        let Some(pos) = self.buf.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > self.limit {
                // Keep the first `limit` bytes; drop the rest of this line.
                self.dropped += self.buf.len() - self.limit;
                self.buf.truncate(self.limit);
            }
            return None;
        };
        let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
        line.pop(); // the LF
        let mut bare_lf = true;
        while line.last() == Some(&b'\r') {
            line.pop();
            bare_lf = false;
        }
        let original_len = line.len() + self.dropped;
        self.dropped = 0;
        line.truncate(self.limit);
        Some(CommandLine {
            original_len: original_len.max(line.len()),
            bytes: line,
            bare_lf,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_crlf_and_bare_lf() {
        let mut r = LineReader::new(2048);
        r.feed(b"EHLO a\r\nNOOP\nQU");
        let l1 = r.next_line().unwrap();
        assert_eq!(l1.bytes, b"EHLO a");
        assert!(!l1.bare_lf);
        let l2 = r.next_line().unwrap();
        assert_eq!(l2.bytes, b"NOOP");
        assert!(l2.bare_lf);
        assert!(r.next_line().is_none());
        assert!(r.has_pending());
        r.feed(b"IT\r\r\n");
        assert_eq!(r.next_line().unwrap().bytes, b"QUIT");
    }

    #[test]
    fn truncates_long_lines_and_reports_length() {
        let mut r = LineReader::new(10);
        r.feed(b"NOOP ");
        r.feed(&[b'x'; 3000]);
        assert!(r.next_line().is_none());
        r.feed(b"\r\n");
        let l = r.next_line().unwrap();
        assert_eq!(l.bytes, b"NOOP xxxxx");
        assert_eq!(l.original_len, 3005);
        assert!(l.truncated());
    }
}
