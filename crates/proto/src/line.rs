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

/// Incremental line splitter. Input is processed lazily, up to and
/// including the next LF, so bytes after a complete line stay raw (the DATA
/// framer and the pipelining check see them as sent).
#[derive(Debug)]
pub struct LineReader {
    limit: usize,
    /// Raw input not yet processed.
    buf: Vec<u8>,
    /// The current line so far (at most `limit` bytes, CRs that turned out
    /// not to be trailing included).
    line: Vec<u8>,
    /// Length of the current line so far, dropped bytes included, trailing
    /// CRs excluded.
    line_len: usize,
    /// CRs seen at the current end of the line: trailing if an LF follows.
    pending_crs: usize,
    /// Some byte of the current line was processed.
    in_line: bool,
}

impl LineReader {
    pub fn new(limit: usize) -> LineReader {
        LineReader {
            limit: limit.max(1),
            buf: Vec::new(),
            line: Vec::new(),
            line_len: 0,
            pending_crs: 0,
            in_line: false,
        }
    }

    /// Bytes received but not yet returned as a line (a partial line's
    /// kept bytes, then the raw rest).
    pub fn pending(&self) -> Vec<u8> {
        let mut out = self.line.clone();
        out.extend(std::iter::repeat_n(b'\r', self.pending_crs.min(self.limit)));
        out.extend_from_slice(&self.buf);
        out
    }

    /// Whether input is waiting beyond the lines already returned.
    pub fn has_pending(&self) -> bool {
        self.in_line || !self.buf.is_empty()
    }

    /// Take all buffered input (used when switching to DATA).
    pub fn take_pending(&mut self) -> Vec<u8> {
        let out = self.pending();
        self.buf.clear();
        self.reset_line();
        out
    }

    /// Throw away buffered input (STARTTLS: defeats command injection).
    pub fn discard_pending(&mut self) {
        self.buf.clear();
        self.reset_line();
    }

    /// Give back the buffers' memory when they hold nothing (a session
    /// waiting for its next command keeps none).
    pub fn release_idle(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        if self.line.is_empty() {
            self.line = Vec::new();
        }
    }

    /// Add bytes from the socket.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    fn reset_line(&mut self) {
        self.line.clear();
        self.line_len = 0;
        self.pending_crs = 0;
        self.in_line = false;
    }

    fn push(&mut self, b: u8) {
        if self.line.len() < self.limit {
            self.line.push(b);
        }
        self.line_len += 1;
    }

    /// Return the next complete line, if any.
    pub fn next_line(&mut self) -> Option<CommandLine> {
        let mut done = None;
        let mut consumed = 0;
        for i in 0..self.buf.len() {
            let b = self.buf[i];
            consumed = i + 1;
            self.in_line = true;
            match b {
                b'\n' => {
                    done = Some(CommandLine {
                        bytes: std::mem::take(&mut self.line),
                        original_len: self.line_len,
                        bare_lf: self.pending_crs == 0,
                    });
                    self.reset_line();
                    break;
                }
                b'\r' => self.pending_crs += 1,
                _ => {
                    for _ in 0..std::mem::take(&mut self.pending_crs) {
                        self.push(b'\r');
                    }
                    self.push(b);
                }
            }
        }
        self.buf.drain(..consumed);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_idle_frees_empty_buffers_and_keeps_a_partial_line() {
        let mut r = LineReader::new(2048);
        r.feed(b"EHLO a\r\n");
        assert_eq!(r.next_line().unwrap().bytes, b"EHLO a");
        r.release_idle();
        assert_eq!(r.buf.capacity(), 0);
        assert_eq!(r.line.capacity(), 0);
        r.feed(b"NO");
        assert!(r.next_line().is_none());
        r.release_idle();
        r.feed(b"OP\r\n");
        assert_eq!(r.next_line().unwrap().bytes, b"NOOP");
    }

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
