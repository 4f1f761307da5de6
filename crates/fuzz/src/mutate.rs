//! Corpus mutation: random bytes alone rarely make a main.cf line or a DNS
//! reply that gets past the first check, so every target also runs on seed
//! inputs changed by random operations (flip, insert, delete, repeat a
//! slice, insert a token that matters to one of the readers).

/// Tokens that steer the readers into their interesting branches.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b".",
    b"..",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\0",
    b"<",
    b">",
    b"@",
    b":",
    b",",
    b"\"",
    b"\\",
    b"=",
    b"$",
    b"${",
    b"}",
    b"{",
    b"(",
    b")",
    b"[",
    b"]",
    b"/",
    b"!",
    b"|",
    b" ",
    b"\t",
    b"\n ",
    b"if ",
    b"endif",
    b"-o ",
    b"#",
    b"\xc3\xa9",
    b"\xff",
    b"FROM:",
    b"TO:",
    b"SIZE=",
    b"192.0.2.1/24",
    b"::",
    b"inet",
    b"unix",
    b"smtpd",
    b"\xc0\x0c",
    b"\x00\x01",
];

fn pick(state: &mut u64, n: usize) -> usize {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((*state >> 33) as usize) % n.max(1)
}

/// A seed from `seeds` (chosen by the first byte of `ops`) changed by
/// operations drawn from the rest of `ops`.
pub fn mutate(seeds: &[Vec<u8>], ops: &[u8]) -> Vec<u8> {
    let Some((&first, ops)) = ops.split_first() else {
        return Vec::new();
    };
    let mut out = seeds
        .get(usize::from(first) % seeds.len().max(1))
        .cloned()
        .unwrap_or_default();
    for op in ops.chunks(4) {
        let mut state = u64::from_le_bytes({
            let mut b = [0u8; 8];
            b[..op.len()].copy_from_slice(op);
            b
        });
        let at = pick(&mut state, out.len() + 1);
        match op[0] % 6 {
            0 if at < out.len() => out[at] ^= 1 << (op.get(1).copied().unwrap_or(0) % 8),
            1 => out.insert(at, op.get(1).copied().unwrap_or(0)),
            2 if at < out.len() => {
                let n = 1 + pick(&mut state, 8);
                out.drain(at..(at + n).min(out.len()));
            }
            3 => {
                let token = TOKENS[pick(&mut state, TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            4 if at < out.len() => {
                let n = 1 + pick(&mut state, 32);
                let slice = out[at..(at + n).min(out.len())].to_vec();
                let to = pick(&mut state, out.len() + 1);
                out.splice(to..to, slice);
            }
            _ => {
                let other = &seeds[pick(&mut state, seeds.len())];
                let from = pick(&mut state, other.len() + 1);
                let to = pick(&mut state, out.len() + 1);
                out.splice(to..to, other[from..].iter().copied().take(64));
            }
        }
        if out.len() > 65_536 {
            out.truncate(65_536);
        }
    }
    out
}
