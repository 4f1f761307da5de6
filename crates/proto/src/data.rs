//! DATA content framing: finds the end of the message, undoes
//! dot-stuffing, and applies `smtpd_forbid_bare_newline`
//! (docs/smtp-session.md#bare-lf-and-smuggling):
//!
//! - `no`: a bare LF ends a line and `\n.\n` ends the message (Postfix 3.7's
//!   historical behaviour, open to SMTP smuggling);
//! - `normalize` (gatepost's default, as Postfix 3.9): only `CRLF.CRLF` ends
//!   the message; a lone `.` line ended by, or preceded by, a bare LF is
//!   dropped and the data goes on;
//! - `reject`: as `normalize`, and the presence of a bare LF is reported so
//!   the server can answer `550 5.5.2 ... bare <LF> received` at the end.
//!
//! Bounds: a content line longer than `line_length_limit` is emitted in
//! pieces (a continuation is never dot-unstuffed and never ends the data),
//! so memory per session is bounded by the limit.

/// `smtpd_forbid_bare_newline` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareNewlineMode {
    No,
    Normalize,
    Reject,
}

impl BareNewlineMode {
    /// Parse a Postfix value (`yes` is an alias of `normalize`).
    pub fn parse(value: &str) -> Option<BareNewlineMode> {
        match value.to_ascii_lowercase().as_str() {
            "no" => Some(BareNewlineMode::No),
            "yes" | "normalize" => Some(BareNewlineMode::Normalize),
            "reject" => Some(BareNewlineMode::Reject),
            _ => None,
        }
    }
}

/// Output of the framer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataEvent {
    /// Content bytes (without line ending). `complete` is false for a piece
    /// of a line that continues in the next event.
    Line { bytes: Vec<u8>, complete: bool },
}

/// Incremental DATA framer.
#[derive(Debug)]
pub struct DataReader {
    mode: BareNewlineMode,
    limit: usize,
    cur: Vec<u8>,
    continuation: bool,
    prev_crlf: bool,
    saw_bare_lf: bool,
    size: u64,
}

impl DataReader {
    pub fn new(mode: BareNewlineMode, line_length_limit: usize) -> DataReader {
        DataReader {
            mode,
            limit: line_length_limit.max(2),
            cur: Vec::new(),
            continuation: false,
            prev_crlf: true,
            saw_bare_lf: false,
            size: 0,
        }
    }

    /// Bytes of content seen so far, counted as Postfix does (line + 2).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether a bare LF was seen in the content.
    pub fn saw_bare_lf(&self) -> bool {
        self.saw_bare_lf
    }

    /// Feed input. Returns `Some(n)` when the end of data was found after
    /// consuming `n` bytes of `input` (the rest belongs to the next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<DataEvent>) -> Option<usize> {
        self.feed_lines(input, |bytes, complete| {
            out.push(DataEvent::Line {
                bytes: bytes.to_vec(),
                complete,
            })
        })
    }

    /// As [`feed`](Self::feed), handing each line (or piece of a long line)
    /// to `sink` as a borrowed slice: nothing is allocated per line.
    pub fn feed_lines(&mut self, input: &[u8], mut sink: impl FnMut(&[u8], bool)) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            let end = memchr::memchr(b'\n', &input[i..]).map_or(input.len(), |n| i + n);
            if end < input.len() && self.cur.is_empty() && end - i < self.limit {
                // The common case: a whole line within the input, handed
                // on from there without a copy.
                if self.line_ends(&input[i..end], &mut sink) {
                    return Some(end + 1);
                }
                i = end + 1;
                continue;
            }
            if self.cur.len() + (end - i) < self.limit {
                // The rest of the line cannot reach the limit: taken whole.
                self.cur.extend_from_slice(&input[i..end]);
            } else {
                for &b in &input[i..end] {
                    self.push_byte(b, &mut sink);
                }
            }
            if end == input.len() {
                break;
            }
            let cur = std::mem::take(&mut self.cur);
            let ended = self.line_ends(&cur, &mut sink);
            self.cur = cur;
            self.cur.clear();
            if ended {
                return Some(end + 1);
            }
            i = end + 1;
        }
        None
    }

    /// One byte of a line that may reach the line length limit.
    fn push_byte(&mut self, b: u8, sink: &mut impl FnMut(&[u8], bool)) {
        self.cur.push(b);
        // A CR at the limit waits for the next byte (it may end the line),
        // but only one: a run of CRs is content, not a way to make the
        // buffer grow without bound.
        let held_cr = b == b'\r';
        if self.cur.len() > self.limit && held_cr {
            self.cur.pop();
            let skip = self.stuffed_dot();
            self.size += (self.cur.len() - skip) as u64;
            sink(&self.cur[skip..], false);
            self.cur.clear();
            self.cur.push(b'\r');
            self.continuation = true;
        } else if self.cur.len() >= self.limit && !held_cr {
            let skip = self.stuffed_dot();
            self.size += (self.cur.len() - skip) as u64;
            sink(&self.cur[skip..], false);
            self.cur.clear();
            self.continuation = true;
        }
    }

    /// A newline: `line` (what came before it, its CR included) ends.
    /// True when it was the end of the data (the lone dot).
    fn line_ends(&mut self, line: &[u8], sink: &mut impl FnMut(&[u8], bool)) -> bool {
        let (line, crlf) = match line.strip_suffix(b"\r") {
            Some(text) => (text, true),
            None => (line, false),
        };
        let bare = !crlf;
        if bare {
            self.saw_bare_lf = true;
        }
        let was_continuation = self.continuation;
        if !was_continuation && line == b"." {
            let ends = match self.mode {
                BareNewlineMode::No => true,
                BareNewlineMode::Normalize | BareNewlineMode::Reject => !bare && self.prev_crlf,
            };
            if ends {
                return true;
            }
            // A smuggling attempt: drop the lone dot and go on.
            self.prev_crlf = !bare;
            return false;
        }
        // A stuffed dot is dropped (never in the continuation of a long line).
        let skip = usize::from(!was_continuation && line.first() == Some(&b'.'));
        self.continuation = false;
        self.size += (line.len() - skip) as u64 + 2;
        sink(&line[skip..], true);
        self.prev_crlf = !bare;
        false
    }

    /// 1 when the current line starts with a stuffed dot to drop (never in
    /// the continuation of a long line), else 0.
    fn stuffed_dot(&self) -> usize {
        usize::from(!self.continuation && self.cur.first() == Some(&b'.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: BareNewlineMode, input: &[u8]) -> (Vec<String>, Option<usize>) {
        let mut r = DataReader::new(mode, 2048);
        let mut out = Vec::new();
        let end = r.feed(input, &mut out);
        let lines = out
            .into_iter()
            .map(|DataEvent::Line { bytes, .. }| String::from_utf8_lossy(&bytes).into_owned())
            .collect();
        (lines, end)
    }

    #[test]
    fn crlf_dot_crlf_ends_and_unstuffs() {
        let (lines, end) = run(BareNewlineMode::Normalize, b"a\r\n..b\r\n.\r\nQUIT\r\n");
        assert_eq!(lines, vec!["a", ".b"]);
        assert_eq!(end, Some(11));
    }

    #[test]
    fn smuggling_dot_is_dropped_in_normalize() {
        let input = b"line1\n.\nMAIL FROM:<x@y>\r\n.\r\n";
        let (lines, end) = run(BareNewlineMode::Normalize, input);
        assert_eq!(lines, vec!["line1", "MAIL FROM:<x@y>"]);
        assert_eq!(end, Some(input.len()));
        let (lines, end) = run(BareNewlineMode::Normalize, b"a\r\n.\nb\r\n.\r\n");
        assert_eq!(lines, vec!["a", "b"]);
        assert!(end.is_some());
    }

    #[test]
    fn bare_lf_dot_ends_in_no_mode() {
        let input = b"line1\n.\nMAIL FROM:<x@y>\r\n";
        let (lines, end) = run(BareNewlineMode::No, input);
        assert_eq!(lines, vec!["line1"]);
        assert_eq!(end, Some(8));
    }

    #[test]
    fn a_run_of_crs_is_cut_at_the_limit() {
        // Found by the fuzz target data_reader: CRs were held back without
        // bound, so a client could grow the buffer past any limit.
        let mut r = DataReader::new(BareNewlineMode::Normalize, 4);
        let mut out = Vec::new();
        let mut input = b"ab".to_vec();
        input.extend(std::iter::repeat_n(b'\r', 100));
        input.extend_from_slice(b"\n.\r\n");
        assert_eq!(r.feed(&input, &mut out), Some(input.len()));
        assert!(out
            .iter()
            .all(|DataEvent::Line { bytes, .. }| bytes.len() <= 4));
        let joined: Vec<u8> = out
            .iter()
            .flat_map(|DataEvent::Line { bytes, .. }| bytes.clone())
            .collect();
        assert_eq!(joined.len(), 2 + 99);
    }

    #[test]
    fn long_lines_are_split_not_truncated() {
        let mut r = DataReader::new(BareNewlineMode::Normalize, 4);
        let mut out = Vec::new();
        assert_eq!(r.feed(b"abcdefghij\r\n.\r\n", &mut out), Some(15));
        let joined: Vec<u8> = out
            .iter()
            .flat_map(|DataEvent::Line { bytes, .. }| bytes.clone())
            .collect();
        assert_eq!(joined, b"abcdefghij");
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn size_counts_line_plus_two() {
        let mut r = DataReader::new(BareNewlineMode::Normalize, 2048);
        let mut out = Vec::new();
        r.feed(b"abc\r\n.\r\n", &mut out);
        assert_eq!(r.size(), 5);
    }

    #[test]
    fn any_split_of_the_input_reads_the_same() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"ab.\r\n";
        for round in 0..300 {
            let len = rng.gen_range(0..120);
            let mut input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            input.extend_from_slice(b"\r\n.\r\n");
            let limit = rng.gen_range(1..12);
            let mode = [BareNewlineMode::No, BareNewlineMode::Normalize][round % 2];
            let whole = {
                let mut r = DataReader::new(mode, limit);
                let mut out = Vec::new();
                let end = r.feed(&input, &mut out);
                (out, end, r.size())
            };
            // The same bytes arriving in pieces of random size.
            let mut r = DataReader::new(mode, limit);
            let mut out = Vec::new();
            let (mut at, mut end) = (0, None);
            while at < input.len() && end.is_none() {
                let n = rng.gen_range(1..=(input.len() - at).min(9));
                end = r.feed(&input[at..at + n], &mut out).map(|e| at + e);
                at += n;
            }
            assert_eq!((out, end, r.size()), whole, "input {input:?} limit {limit}");
        }
    }
}
