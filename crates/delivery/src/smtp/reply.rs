//! Reading a server reply (Postfix `smtp_chat_resp()`): one or more
//! `CODE-text` lines ending with `CODE text`. Network input is bounded:
//! each line is cut at `line_length_limit` (2048) bytes (the rest of the
//! line is read and discarded), and at most [`MAX_LINES`] lines are kept
//! (later lines are read and dropped). The enhanced status code comes from
//! the first line, or `X.0.0` from the reply code when the server sent none.
//! The reply text used in log lines is all lines joined with a space, codes
//! included, as Postfix shows it.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::verdict::dsn_valid;

/// Longest reply line kept (Postfix `line_length_limit`).
pub(crate) const LINE_LIMIT: usize = 2048;
/// Most reply lines kept.
pub(crate) const MAX_LINES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    /// Enhanced status code (`2.0.0` when the server sent none).
    pub dsn: String,
    /// Lines as received, without CRLF.
    pub lines: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplyError {
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed reply: {0}")]
    Malformed(String),
}

impl Reply {
    /// Build from complete lines (tests and [`read_reply`]).
    pub(crate) fn from_lines(lines: Vec<String>) -> Result<Reply, ReplyError> {
        let first = lines
            .first()
            .ok_or_else(|| ReplyError::Malformed(String::new()))?;
        let code = parse_code(first).ok_or_else(|| ReplyError::Malformed(first.clone()))?;
        let rest = first.get(4..).unwrap_or("").trim_start();
        let word = rest.split_whitespace().next().unwrap_or("");
        let class = (code / 100) as u8;
        let dsn = if dsn_valid(word) && word.as_bytes().first() == Some(&(b'0' + class)) {
            word.to_string()
        } else {
            format!("{class}.0.0")
        };
        Ok(Reply { code, dsn, lines })
    }

    /// The reply class: 2, 3, 4 or 5.
    pub(crate) fn class(&self) -> u16 {
        self.code / 100
    }

    /// All lines joined with a space (`250 2.0.0 Ok: queued as X`).
    pub(crate) fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The text after the code on each line (EHLO keywords).
    pub(crate) fn bodies(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.get(4..).unwrap_or(""))
    }
}

fn parse_code(line: &str) -> Option<u16> {
    let code = line.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(b'2'..=b'5').contains(&code.as_bytes()[0]) {
        return None;
    }
    match line.as_bytes().get(3) {
        None | Some(b' ') | Some(b'-') | Some(b'\t') => code.parse().ok(),
        _ => None,
    }
}

/// Read one line, cut at [`LINE_LIMIT`]; `None` at end of stream.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<String>, ReplyError> {
    let mut line = Vec::new();
    let mut saw_any = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if saw_any {
                break;
            }
            return Ok(None);
        }
        saw_any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(pos) => (&buf[..=pos], true),
            None => (buf, false),
        };
        let room = LINE_LIMIT.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        r.consume(used);
        if done {
            break;
        }
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Read one complete reply.
pub(crate) async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Reply, ReplyError> {
    let mut lines = Vec::new();
    loop {
        let line = read_line(r).await?.ok_or(ReplyError::Closed)?;
        if parse_code(&line).is_none() {
            return Err(ReplyError::Malformed(line));
        }
        let last = line.as_bytes().get(3) != Some(&b'-');
        if lines.len() < MAX_LINES {
            lines.push(line);
        }
        if last {
            return Reply::from_lines(lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(input: &str) -> Result<Reply, ReplyError> {
        let mut r = tokio::io::BufReader::new(input.as_bytes());
        read_reply(&mut r).await
    }

    #[tokio::test]
    async fn replies() {
        let cases = [
            (
                "250 2.0.0 Ok: queued as ABC\r\n",
                250,
                "2.0.0",
                "250 2.0.0 Ok: queued as ABC",
            ),
            ("220 mx ESMTP\r\n", 220, "2.0.0", "220 mx ESMTP"),
            (
                "451 4.3.0 try later\r\n",
                451,
                "4.3.0",
                "451 4.3.0 try later",
            ),
            ("550 no such user\r\n", 550, "5.0.0", "550 no such user"),
            // A DSN of the wrong class is not a DSN.
            ("550 4.1.1 odd\r\n", 550, "5.0.0", "550 4.1.1 odd"),
            (
                "550-5.1.1 The account does not exist\r\n550 5.1.1 see docs\r\n",
                550,
                "5.1.1",
                "550-5.1.1 The account does not exist 550 5.1.1 see docs",
            ),
            ("250\n", 250, "2.0.0", "250"),
        ];
        for (input, code, dsn, text) in cases {
            let r = parse(input).await.unwrap();
            assert_eq!(
                (r.code, r.dsn.as_str(), r.text()),
                (code, dsn, text.to_string()),
                "{input:?}"
            );
        }
    }

    #[tokio::test]
    async fn bad_input() {
        assert!(matches!(parse("").await, Err(ReplyError::Closed)));
        assert!(matches!(
            parse("250-more\r\n").await,
            Err(ReplyError::Closed)
        ));
        assert!(matches!(
            parse("hello\r\n").await,
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse("2500 x\r\n").await,
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse("150 x\r\n").await,
            Err(ReplyError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn long_lines_and_many_lines_are_bounded() {
        let long = format!("250 {}\r\n", "x".repeat(10_000));
        let r = parse(&long).await.unwrap();
        assert_eq!(r.lines[0].len(), LINE_LIMIT);
        let many = "250-x\r\n".repeat(500) + "250 end\r\n";
        let r = parse(&many).await.unwrap();
        assert_eq!(r.lines.len(), MAX_LINES);
    }
}
