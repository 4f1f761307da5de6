//! Randomised checks over an SMTP-shaped alphabet (CR, LF, dot, NUL,
//! letters, `<>@:`): the line reader and the DATA and BDAT framers give the same
//! result however the input is split into reads, never panic, and respect
//! their bounds. A cheap stand-in for a coverage-guided fuzzer that runs on
//! every test run.

use gatepost_proto::{BareNewlineMode, ChunkReader, Command, DataEvent, DataReader, LineReader};
use rand::{Rng, SeedableRng};

const ALPHABET: &[u8] = b"\r\n\r\n..\0 MAILFROM:<a@b>RCPTDATAxyz\t";

fn random_input(rng: &mut impl Rng, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
        .collect()
}

fn random_splits(rng: &mut impl Rng, data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let n = rng.gen_range(1..=8.min(data.len() - i));
        out.push(data[i..i + n].to_vec());
        i += n;
    }
    out
}

fn lines_of(chunks: &[Vec<u8>], limit: usize) -> Vec<(Vec<u8>, usize, bool)> {
    let mut r = LineReader::new(limit);
    let mut out = Vec::new();
    for c in chunks {
        r.feed(c);
        while let Some(l) = r.next_line() {
            assert!(l.bytes.len() <= limit);
            out.push((l.bytes, l.original_len, l.bare_lf));
        }
    }
    out
}

fn frame(chunks: &[Vec<u8>], mode: BareNewlineMode, limit: usize) -> (Vec<u8>, Option<usize>) {
    let mut r = DataReader::new(mode, limit);
    let mut content = Vec::new();
    let mut consumed = 0;
    for c in chunks {
        let mut events = Vec::new();
        let end = r.feed(c, &mut events);
        for DataEvent::Line { bytes, complete } in events {
            content.extend_from_slice(&bytes);
            if complete {
                content.push(b'\n');
            }
        }
        match end {
            Some(n) => return (content, Some(consumed + n)),
            None => consumed += c.len(),
        }
    }
    (content, None)
}

#[test]
fn line_reader_is_split_invariant() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5321);
    for _ in 0..2000 {
        let data = {
            let n = rng.gen_range(0..200);
            random_input(&mut rng, n)
        };
        let whole = lines_of(std::slice::from_ref(&data), 16);
        let split = lines_of(&random_splits(&mut rng, &data), 16);
        assert_eq!(whole, split, "input {:?}", String::from_utf8_lossy(&data));
        for (bytes, _, _) in &whole {
            let _ = Command::parse(bytes);
        }
    }
}

#[test]
fn data_framer_is_split_invariant() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3030);
    for mode in [
        BareNewlineMode::No,
        BareNewlineMode::Normalize,
        BareNewlineMode::Reject,
    ] {
        for _ in 0..2000 {
            let data = {
                let n = rng.gen_range(0..300);
                random_input(&mut rng, n)
            };
            let (whole, end_whole) = frame(std::slice::from_ref(&data), mode, 12);
            let (split, end_split) = frame(&random_splits(&mut rng, &data), mode, 12);
            assert_eq!(
                end_whole,
                end_split,
                "{mode:?} {:?}",
                String::from_utf8_lossy(&data)
            );
            if end_whole.is_some() {
                assert_eq!(
                    whole,
                    split,
                    "{mode:?} {:?}",
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}

#[test]
fn crlf_dot_crlf_always_ends_data_in_every_mode() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for mode in [
        BareNewlineMode::No,
        BareNewlineMode::Normalize,
        BareNewlineMode::Reject,
    ] {
        for _ in 0..500 {
            // Content made of CRLF-terminated lines only.
            let mut data = Vec::new();
            for _ in 0..rng.gen_range(0..10) {
                let line: Vec<u8> = {
                    let n = rng.gen_range(0..20);
                    random_input(&mut rng, n)
                }
                .into_iter()
                .filter(|b| *b != b'\r' && *b != b'\n')
                .collect();
                data.extend_from_slice(&line);
                data.extend_from_slice(b"\r\n");
            }
            let body_len = data.len();
            data.extend_from_slice(b".\r\nQUIT\r\n");
            let (_, end) = frame(std::slice::from_ref(&data), mode, 2048);
            let end = end.expect("end of data found");
            assert!(end >= 3 && end <= body_len + 3, "{mode:?}");
        }
    }
}

/// BDAT content: the same lines however the chunks are cut, every byte
/// accounted for (content, a removed CR before LF, or the LF itself), and
/// no piece longer than the limit.
#[test]
fn chunk_framer_is_split_invariant_and_lossless() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(30301);
    let run = |chunks: &[Vec<u8>]| {
        let mut r = ChunkReader::new(12);
        let mut events = Vec::new();
        for c in chunks {
            r.feed(c, &mut events);
        }
        r.finish(&mut events);
        (events, r.saw_bare_lf())
    };
    for _ in 0..2000 {
        let data = {
            let n = rng.gen_range(0..300);
            random_input(&mut rng, n)
        };
        let (whole, bare_whole) = run(std::slice::from_ref(&data));
        let (split, bare_split) = run(&random_splits(&mut rng, &data));
        assert_eq!(whole, split, "{:?}", String::from_utf8_lossy(&data));
        assert_eq!(bare_whole, bare_split);
        let lfs = data.iter().filter(|b| **b == b'\n').count();
        let crlfs = data.windows(2).filter(|w| w == b"\r\n").count();
        let content: usize = whole
            .iter()
            .map(|DataEvent::Line { bytes, .. }| {
                assert!(bytes.len() <= 12);
                bytes.len()
            })
            .sum();
        assert_eq!(
            content + lfs + crlfs,
            data.len(),
            "{:?}",
            String::from_utf8_lossy(&data)
        );
    }
}
