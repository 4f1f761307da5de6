//! BDAT content framing (RFC 3030): splits the bytes of one or more chunks
//! into content lines, as Postfix's smtpd does for BDAT. Nothing ends the
//! message but `BDAT ... LAST`: a `.` line is content, there is no
//! dot-stuffing, and a line may continue from one chunk into the next.
//!
//! A line ends at LF; one CR before it is removed (so `\r\r\n` leaves a CR
//! in the line). A LF without CR is a bare LF, reported for
//! `smtpd_forbid_bare_newline = reject`. At the end of the last chunk a
//! line without an ending is emitted as a complete line.
//!
//! Sizes are counted as Postfix counts them (each emitted line or piece
//! plus 2), for `message_size_limit` and the `N bytes queued` reply.
//!
//! Bounds: a line longer than `line_length_limit` is emitted in pieces, so
//! memory per session is bounded by the limit.

use crate::data::DataEvent;

/// Incremental BDAT framer for one message.
#[derive(Debug)]
pub struct ChunkReader {
    limit: usize,
    cur: Vec<u8>,
    bare_lf: bool,
}

impl ChunkReader {
    pub fn new(line_length_limit: usize) -> ChunkReader {
        ChunkReader {
            limit: line_length_limit.max(2),
            cur: Vec::new(),
            bare_lf: false,
        }
    }

    /// Whether a bare LF was seen so far.
    pub fn saw_bare_lf(&self) -> bool {
        self.bare_lf
    }

    /// Bytes of an unfinished line carried to the next chunk.
    pub fn pending_len(&self) -> usize {
        self.cur.len()
    }

    /// Feed chunk bytes; complete lines and long-line pieces go to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<DataEvent>) {
        for &b in input {
            if b == b'\n' {
                if self.cur.last() == Some(&b'\r') {
                    self.cur.pop();
                } else {
                    self.bare_lf = true;
                }
                out.push(DataEvent::Line {
                    bytes: std::mem::take(&mut self.cur),
                    complete: true,
                });
                continue;
            }
            self.cur.push(b);
            // Keep a trailing CR: the LF that may follow decides its fate.
            if self.cur.len() > self.limit || (self.cur.len() == self.limit && b != b'\r') {
                let keep_cr = self.cur.len() > self.limit;
                let carry = if keep_cr { self.cur.pop() } else { None };
                out.push(DataEvent::Line {
                    bytes: std::mem::take(&mut self.cur),
                    complete: false,
                });
                self.cur.extend(carry);
            }
        }
    }

    /// The last chunk ended: emit an unfinished line as complete.
    pub fn finish(&mut self, out: &mut Vec<DataEvent>) {
        if !self.cur.is_empty() {
            out.push(DataEvent::Line {
                bytes: std::mem::take(&mut self.cur),
                complete: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(events: &[DataEvent]) -> Vec<(String, bool)> {
        events
            .iter()
            .map(|DataEvent::Line { bytes, complete }| {
                (String::from_utf8_lossy(bytes).into_owned(), *complete)
            })
            .collect()
    }

    #[test]
    fn dot_lines_are_content_and_not_unstuffed() {
        let mut r = ChunkReader::new(2048);
        let mut out = Vec::new();
        r.feed(b"a\r\n.\r\n..b\r\n", &mut out);
        assert_eq!(
            lines(&out),
            [("a".into(), true), (".".into(), true), ("..b".into(), true)]
        );
        assert!(!r.saw_bare_lf());
    }

    #[test]
    fn lines_span_chunks_and_the_last_needs_no_ending() {
        let mut r = ChunkReader::new(2048);
        let mut out = Vec::new();
        r.feed(b"hel", &mut out);
        assert!(out.is_empty());
        assert_eq!(r.pending_len(), 3);
        r.feed(b"lo\r", &mut out);
        r.feed(b"\nend", &mut out);
        r.finish(&mut out);
        assert_eq!(lines(&out), [("hello".into(), true), ("end".into(), true)]);
    }

    #[test]
    fn bare_lf_ends_a_line_and_is_reported() {
        let mut r = ChunkReader::new(2048);
        let mut out = Vec::new();
        r.feed(b"bare\nlf\r\r\n", &mut out);
        assert_eq!(lines(&out), [("bare".into(), true), ("lf\r".into(), true)]);
        assert!(r.saw_bare_lf());
    }

    #[test]
    fn long_lines_come_in_pieces() {
        let mut r = ChunkReader::new(4);
        let mut out = Vec::new();
        r.feed(b"abcdefghij\r\n", &mut out);
        let joined: String = lines(&out).into_iter().map(|(l, _)| l).collect();
        assert_eq!(joined, "abcdefghij");
        assert_eq!(out.len(), 3);
        assert!(matches!(
            out.last(),
            Some(DataEvent::Line { complete: true, .. })
        ));
    }
}
