//! Cutting one input into reads: the read sizes come from a seed byte, so
//! an input file fixes both the bytes and how they arrive.

/// Split `data` into pieces of 1..=`max` bytes chosen by a small LCG seeded
/// with `seed`.
pub(crate) fn split(data: &[u8], seed: u8, max: usize) -> Vec<&[u8]> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = 1 + (state >> 16) as usize % max.max(1);
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}
