//! The SMTP command reader and parser, the MAIL/RCPT path parser and the
//! DATA framer (dot-stuffing, line ends, line-length pieces).

use gatepost_proto::{
    parse_path, BareNewlineMode, Command, DataEvent, DataReader, LineReader, Verb,
};

use crate::chunks::split;

const LIMITS: [usize; 8] = [1, 2, 3, 4, 7, 16, 512, 2048];

fn header(input: &[u8]) -> (u8, u8, &[u8]) {
    match input {
        [a, b, rest @ ..] => (*a, *b, rest),
        [a] => (*a, 0, &[]),
        [] => (0, 0, &[]),
    }
}

type Line = (Vec<u8>, usize, bool);

fn command_lines(chunks: &[&[u8]], limit: usize) -> (Vec<Line>, Vec<u8>) {
    let mut reader = LineReader::new(limit);
    let mut out = Vec::new();
    for chunk in chunks {
        reader.feed(chunk);
        while let Some(line) = reader.next_line() {
            out.push((line.bytes, line.original_len, line.bare_lf));
        }
    }
    (out, reader.pending())
}

/// Command lines: the same lines (and the same unfinished rest) however the
/// bytes arrive; no line longer than the limit; every line parses into a
/// verb word without blanks and, for MAIL/RCPT, a path or an error.
pub fn smtp_command(input: &[u8]) {
    let (seed, sel, data) = header(input);
    let limit = LIMITS[usize::from(sel) % LIMITS.len()];
    let whole = command_lines(&[data], limit);
    let pieces = split(data, seed, 9);
    assert_eq!(
        whole,
        command_lines(&pieces, limit),
        "split changed the lines"
    );
    for (bytes, original_len, _) in &whole.0 {
        assert!(bytes.len() <= limit, "line over the limit");
        assert!(*original_len >= bytes.len());
        let cmd = Command::parse(bytes);
        assert!(!cmd.word.contains([' ', '\t']), "blank in verb word");
        if let Some(verb) = cmd.verb {
            assert_eq!(Verb::from_word(&cmd.word), Some(verb));
        }
        match cmd.verb {
            Some(Verb::Mail) => {
                let _ = parse_path(&cmd.args, "FROM:", false);
            }
            Some(Verb::Rcpt) => {
                let _ = parse_path(&cmd.args, "TO:", true);
            }
            _ => {}
        }
    }
}

/// MAIL/RCPT paths: no panic in either strictness; a path parsed from
/// `<raw>` parses again to the same result when written back.
pub fn address(input: &[u8]) {
    let (mode, _, data) = header(input);
    let text = String::from_utf8_lossy(data);
    let keyword = if mode & 1 == 0 { "FROM:" } else { "TO:" };
    let strict = mode & 2 != 0;
    let args = format!("{keyword}{text}");
    let Ok(path) = parse_path(&args, keyword, strict) else {
        return;
    };
    if path.raw.contains(['<', '>', '"', ' ', '\t']) {
        return;
    }
    let mut again = format!("{keyword}<{}>", path.raw);
    for (name, value) in &path.params {
        again.push(' ');
        again.push_str(name);
        if let Some(value) = value {
            again.push('=');
            again.push_str(value);
        }
    }
    let reparsed = parse_path(&again, keyword, true);
    assert_eq!(reparsed.as_ref(), Ok(&path), "{args:?} → {again:?}");
}

#[derive(Debug, PartialEq, Eq)]
struct Framed {
    events: Vec<(Vec<u8>, bool)>,
    end: Option<usize>,
    size: u64,
    bare_lf: bool,
}

fn frame(chunks: &[&[u8]], mode: BareNewlineMode, limit: usize) -> Framed {
    let mut reader = DataReader::new(mode, limit);
    let mut events = Vec::new();
    let mut consumed = 0;
    let mut end = None;
    for chunk in chunks {
        let mut out = Vec::new();
        let found = reader.feed(chunk, &mut out);
        events.extend(
            out.into_iter()
                .map(|DataEvent::Line { bytes, complete }| (bytes, complete)),
        );
        if let Some(n) = found {
            end = Some(consumed + n);
            break;
        }
        consumed += chunk.len();
    }
    Framed {
        events,
        end,
        size: reader.size(),
        bare_lf: reader.saw_bare_lf(),
    }
}

fn mode_of(sel: u8) -> BareNewlineMode {
    match sel % 3 {
        0 => BareNewlineMode::No,
        1 => BareNewlineMode::Normalize,
        _ => BareNewlineMode::Reject,
    }
}

/// The DATA framer: the same pieces, end of data, size and bare-LF flag
/// however the input is cut into reads; no piece longer than the limit.
pub fn data_reader(input: &[u8]) {
    let (seed, sel, data) = header(input);
    let mode = mode_of(sel);
    let limit = LIMITS[usize::from(sel / 3) % LIMITS.len()];
    let whole = frame(&[data], mode, limit);
    let pieces = split(data, seed, 9);
    assert_eq!(
        whole,
        frame(&pieces, mode, limit),
        "split changed the framing: {:?}",
        data.escape_ascii().to_string()
    );
    for (bytes, _) in &whole.events {
        assert!(
            bytes.len() <= limit.max(2) + 1,
            "piece over the limit: {:?}",
            data.escape_ascii().to_string()
        );
    }
    if let Some(end) = whole.end {
        assert!(end <= data.len());
        assert_eq!(data[..end].last(), Some(&b'\n'));
    }
}

/// Dot-stuffing round trip: any lines, stuffed and sent with CRLF and the
/// final dot, come back as the same lines, whatever the mode, read size
/// and line-length limit (long lines come back in pieces that join to the
/// line).
pub fn data_round_trip(input: &[u8]) {
    let (seed, sel, data) = header(input);
    let mode = mode_of(sel);
    let limit = LIMITS[usize::from(sel / 3) % LIMITS.len()];
    let lines: Vec<Vec<u8>> = data
        .split(|&b| b == b'\n')
        .map(|l| l.iter().copied().filter(|&b| b != b'\r').collect())
        .collect();
    let mut wire = Vec::new();
    for line in &lines {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\nQUIT\r\n");
    let framed = frame(&split(&wire, seed, 9), mode, limit);
    assert_eq!(framed.end, Some(wire.len() - b"QUIT\r\n".len()));
    assert!(!framed.bare_lf);
    let mut got = Vec::new();
    let mut cur = Vec::new();
    for (bytes, complete) in framed.events {
        cur.extend_from_slice(&bytes);
        if complete {
            got.push(std::mem::take(&mut cur));
        }
    }
    assert!(cur.is_empty(), "unfinished line at the end");
    assert_eq!(got, lines);
}
