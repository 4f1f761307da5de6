//! The SMTP reply type: code, optional enhanced status code (RFC 3463) and
//! text, rendered on the wire as one or more `CODE-text` / `CODE text` lines.
//! Every reply the server sends is built through this type.

use std::fmt;

/// One SMTP reply. `dsn` is the enhanced status code (e.g. `5.7.1`), absent
/// for replies that carry none (greeting, HELO/EHLO, some syntax errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub dsn: Option<String>,
    /// One entry per line; a single-line reply has one entry.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code.
    pub fn new(code: u16, dsn: &str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            dsn: Some(dsn.to_string()),
            lines: vec![text.into()],
        }
    }

    /// A one-line reply without an enhanced status code.
    pub fn plain(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            dsn: None,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply without enhanced status codes (EHLO).
    pub fn multiline(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            dsn: None,
            lines,
        }
    }

    /// The text of the first line (without code and DSN).
    pub fn text(&self) -> &str {
        self.lines.first().map(String::as_str).unwrap_or("")
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    pub fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// Whether the session ends after this reply is sent (421 and 521).
    pub fn closes_session(&self) -> bool {
        self.code == 421 || self.code == 521
    }

    /// `soft_bounce`: turn a 5xx reply into 4xx, in code and DSN.
    pub fn soft_bounced(mut self) -> Reply {
        if (500..600).contains(&self.code) {
            self.code -= 100;
            if let Some(dsn) = &mut self.dsn {
                if dsn.starts_with('5') {
                    dsn.replace_range(0..1, "4");
                }
            }
        }
        self
    }

    /// The wire form, each line ended by CRLF.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 < n { '-' } else { ' ' };
            out.push_str(&self.code.to_string());
            out.push(sep);
            if let Some(dsn) = &self.dsn {
                out.push_str(dsn);
                if !text.is_empty() {
                    out.push(' ');
                }
            }
            out.push_str(text);
            out.push_str("\r\n");
        }
        out
    }
}

impl fmt::Display for Reply {
    /// The single-line form used in log lines: `CODE DSN TEXT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dsn {
            Some(dsn) => write!(f, "{} {} {}", self.code, dsn, self.text()),
            None => write!(f, "{} {}", self.code, self.text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        assert_eq!(Reply::new(250, "2.0.0", "Ok").to_wire(), "250 2.0.0 Ok\r\n");
        assert_eq!(
            Reply::multiline(250, vec!["mx".into(), "PIPELINING".into()]).to_wire(),
            "250-mx\r\n250 PIPELINING\r\n"
        );
    }

    #[test]
    fn soft_bounce_changes_code_and_dsn() {
        let r = Reply::new(554, "5.7.1", "no").soft_bounced();
        assert_eq!(r.to_string(), "454 4.7.1 no");
        let r = Reply::plain(501, "Syntax: HELO hostname").soft_bounced();
        assert_eq!(r.to_string(), "401 Syntax: HELO hostname");
    }
}
