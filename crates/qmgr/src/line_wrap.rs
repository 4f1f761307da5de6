//! Postfix's `line_wrap()` as used in bounce messages: break a line at
//! whitespace so that no output line exceeds `width` columns unless a single
//! word is longer; continuation lines are indented by `indent` spaces (and
//! count that indent against the width).

/// Wrap `text` (one logical line) into output lines, indentation included.
pub(crate) fn line_wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let is_space = |b: u8| b == b' ' || b == b'\t';
    let mut curr_len = width;
    let mut curr_indent = 0;
    let mut start = 0usize;
    let mut word = 0usize;
    let mut first = true;
    loop {
        let next_space = bytes[word..]
            .iter()
            .position(|b| is_space(*b))
            .map(|p| word + p)
            .unwrap_or(bytes.len());
        if word > start && next_space - start > curr_len {
            let mut end = word;
            while end > start && is_space(bytes[end - 1]) {
                end -= 1;
            }
            out.push(format!("{}{}", " ".repeat(curr_indent), &text[start..end]));
            while word < bytes.len() && is_space(bytes[word]) {
                word += 1;
            }
            if first {
                curr_indent += indent;
                curr_len = curr_len.saturating_sub(indent);
                first = false;
            }
            start = word;
        }
        if next_space >= bytes.len() {
            break;
        }
        word = next_space + 1;
    }
    let mut end = bytes.len();
    while end > start && is_space(bytes[end - 1]) {
        end -= 1;
    }
    out.push(format!("{}{}", " ".repeat(curr_indent), &text[start..end]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_postfix() {
        assert_eq!(line_wrap("short line", 79, 4), vec!["short line"]);
        assert_eq!(line_wrap("aaa bbb ccc", 7, 2), vec!["aaa bbb", "  ccc"]);
        assert_eq!(
            line_wrap("aaaa bbbb cccc dddd", 9, 4),
            vec!["aaaa bbbb", "    cccc", "    dddd"]
        );
        // A word longer than the width is not broken.
        assert_eq!(
            line_wrap("x verylongword y", 5, 1),
            vec!["x", " verylongword", " y"]
        );
        let long = "Diagnostic-Code: X-Postfix; host mx.example[192.0.2.1] said: 550 5.1.1 <u@example>: Recipient address rejected: User unknown";
        let lines = line_wrap(long, 79, 4);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].len() <= 79);
        assert!(lines[1].starts_with("    "));
        assert_eq!(
            lines.join(" ").split_whitespace().collect::<Vec<_>>(),
            long.split_whitespace().collect::<Vec<_>>()
        );
    }
}
