//! The message content as sent after DATA (Postfix `smtp_text_out()`):
//! `\n` line ends become CRLF, a line starting with `.` gets another `.`
//! (RFC 5321 §4.5.2), lines longer than `smtp_line_length_limit` are broken
//! by inserting CRLF SPACE (the continuation never needs dot-stuffing), and
//! the end-of-data `.` CRLF is appended. Also tells whether the content
//! has 8-bit bytes (for `BODY=8BITMIME`).

/// Encode `content` for the DATA phase; `limit` 0 disables folding.
pub(crate) fn encode_data(content: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 40 + 8);
    if !content.is_empty() {
        let body = content.strip_suffix(b"\n").unwrap_or(content);
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            write_line(&mut out, line, limit);
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn write_line(out: &mut Vec<u8>, line: &[u8], limit: usize) {
    if line.first() == Some(&b'.') {
        out.push(b'.');
    }
    if limit == 0 {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        return;
    }
    let mut rest = line;
    let mut space_left = limit;
    loop {
        if rest.len() >= space_left {
            out.extend_from_slice(&rest[..space_left]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[space_left..];
            if rest.is_empty() {
                return;
            }
            out.push(b' ');
            space_left = limit - 1;
        } else {
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
            return;
        }
    }
}

/// Whether the content has bytes outside US-ASCII.
pub(crate) fn has_8bit(content: &[u8]) -> bool {
    content.iter().any(|&b| b >= 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_table() {
        let cases: &[(&[u8], usize, &[u8])] = &[
            (
                b"Subject: x\n\nhello\n",
                998,
                b"Subject: x\r\n\r\nhello\r\n.\r\n",
            ),
            (b"a\n.\n..b\n", 998, b"a\r\n..\r\n...b\r\n.\r\n"),
            (b"no newline at end", 998, b"no newline at end\r\n.\r\n"),
            (b"crlf already\r\n", 998, b"crlf already\r\n.\r\n"),
            (b"", 998, b".\r\n"),
            (b"abcdefghij\n", 4, b"abcd\r\n efg\r\n hij\r\n.\r\n"),
            (b"abcd\n", 4, b"abcd\r\n.\r\n"),
            (b".bcdef\n", 4, b"..bcd\r\n ef\r\n.\r\n"),
            (b"abcdefghij\n", 0, b"abcdefghij\r\n.\r\n"),
        ];
        for (input, limit, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&encode_data(input, *limit)),
                String::from_utf8_lossy(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn long_line_folded_at_998() {
        let line = "x".repeat(2500);
        let out = encode_data(format!("{line}\n").as_bytes(), 998);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0].len(), 998);
        assert_eq!(lines[1].len(), 998);
        assert!(lines[1].starts_with(' '));
        assert_eq!(lines[2].len(), 1 + 2500 - 998 - 997);
        assert_eq!(lines[3], ".");
    }

    #[test]
    fn eight_bit() {
        assert!(!has_8bit(b"plain ascii\n"));
        assert!(has_8bit("caf\u{e9}\n".as_bytes()));
    }
}
