//! `header_address_token_limit` (Postfix `tok822_parse_limit()`): an
//! address header is parsed for rewriting or recipient extraction up to
//! that many tokens (atoms, quoted strings, comments, domain literals and
//! the specials `<>@,;:.`), and the rest of it is dropped.

/// `value` (the text after the colon) cut after `limit` tokens.
pub(crate) fn limit_address_tokens(value: &str, limit: usize) -> &str {
    let bytes = value.as_bytes();
    let (mut i, mut count) = (0usize, 0usize);
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if count == limit {
            return value[..i].trim_end();
        }
        count += 1;
        i = match c {
            b'"' => skip_quoted(bytes, i + 1, b'"'),
            b'[' => skip_quoted(bytes, i + 1, b']'),
            b'(' => skip_comment(bytes, i + 1),
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' | b')' | b']' | b'\\' => i + 1,
            _ => {
                let mut j = i;
                while j < bytes.len()
                    && !bytes[j].is_ascii_whitespace()
                    && !b"\"[(<>@,;:.)]\\".contains(&bytes[j])
                {
                    j += 1;
                }
                j
            }
        };
        while i < bytes.len() && !value.is_char_boundary(i) {
            i += 1;
        }
    }
    value
}

fn skip_quoted(bytes: &[u8], mut i: usize, close: u8) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == close => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn skip_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::limit_address_tokens;

    #[test]
    fn tokens_beyond_the_limit_are_dropped() {
        // a@x.example is 5 tokens: a @ x . example
        let v = " a@x.example, b@y.example, c@z.example";
        assert_eq!(limit_address_tokens(v, 100), v);
        assert_eq!(limit_address_tokens(v, 5), " a@x.example");
        assert_eq!(limit_address_tokens(v, 6), " a@x.example,");
        assert_eq!(limit_address_tokens(v, 11), " a@x.example, b@y.example");
        // A quoted string and a comment are one token each.
        assert_eq!(
            limit_address_tokens(" \"A, B\" (c d) <e@f>, g", 6),
            " \"A, B\" (c d) <e@f"
        );
    }
}
