//! SMTP command parsing: verb recognition (case-insensitive), argument
//! splitting, and the "non-SMTP command" test Postfix applies to lines that
//! look like mail headers or HTTP requests. NUL ends the command string, as
//! in Postfix.
//!
//! Bounds: input is one already length-limited command line.

/// The verbs the server knows, in Postfix's command-table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Helo,
    Ehlo,
    Xclient,
    Xforward,
    Starttls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Vrfy,
    Etrn,
    Quit,
}

impl Verb {
    pub fn from_word(word: &str) -> Option<Verb> {
        let v = match word.to_ascii_uppercase().as_str() {
            "HELO" => Verb::Helo,
            "EHLO" => Verb::Ehlo,
            "XCLIENT" => Verb::Xclient,
            "XFORWARD" => Verb::Xforward,
            "STARTTLS" => Verb::Starttls,
            "AUTH" => Verb::Auth,
            "MAIL" => Verb::Mail,
            "RCPT" => Verb::Rcpt,
            "DATA" => Verb::Data,
            "BDAT" => Verb::Bdat,
            "RSET" => Verb::Rset,
            "NOOP" => Verb::Noop,
            "VRFY" => Verb::Vrfy,
            "ETRN" => Verb::Etrn,
            "QUIT" => Verb::Quit,
            _ => return None,
        };
        Some(v)
    }

    /// Lower-case name used in the `disconnect from ...` counters.
    pub fn counter_name(self) -> &'static str {
        match self {
            Verb::Helo => "helo",
            Verb::Ehlo => "ehlo",
            Verb::Xclient => "xclient",
            Verb::Xforward => "xforward",
            Verb::Starttls => "starttls",
            Verb::Auth => "auth",
            Verb::Mail => "mail",
            Verb::Rcpt => "rcpt",
            Verb::Data => "data",
            Verb::Bdat => "bdat",
            Verb::Rset => "rset",
            Verb::Noop => "noop",
            Verb::Vrfy => "vrfy",
            Verb::Etrn => "etrn",
            Verb::Quit => "quit",
        }
    }

    /// Upper-case name used as the STAGE of log lines and `after CMD`.
    pub fn upper_name(self) -> &'static str {
        match self {
            Verb::Helo => "HELO",
            Verb::Ehlo => "EHLO",
            Verb::Xclient => "XCLIENT",
            Verb::Xforward => "XFORWARD",
            Verb::Starttls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Vrfy => "VRFY",
            Verb::Etrn => "ETRN",
            Verb::Quit => "QUIT",
        }
    }

    /// Counter order of Postfix's disconnect line.
    pub const ALL: [Verb; 15] = [
        Verb::Helo,
        Verb::Ehlo,
        Verb::Xclient,
        Verb::Xforward,
        Verb::Starttls,
        Verb::Auth,
        Verb::Mail,
        Verb::Rcpt,
        Verb::Data,
        Verb::Bdat,
        Verb::Rset,
        Verb::Noop,
        Verb::Vrfy,
        Verb::Etrn,
        Verb::Quit,
    ];

    /// Commands after which a pipelining client must wait for the reply
    /// (docs/smtp-session.md#pipelining-detection): HELO, EHLO, DATA, NOOP, VRFY.
    pub fn ends_pipeline_group(self) -> bool {
        matches!(
            self,
            Verb::Helo | Verb::Ehlo | Verb::Data | Verb::Noop | Verb::Vrfy
        )
    }

    /// HELO, EHLO, NOOP, RSET, VRFY and ETRN count toward the junk limit.
    pub fn is_junk(self) -> bool {
        matches!(
            self,
            Verb::Helo | Verb::Ehlo | Verb::Noop | Verb::Rset | Verb::Vrfy | Verb::Etrn
        )
    }
}

/// A parsed command line: the verb word and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The first word as sent.
    pub word: String,
    /// Recognised verb, if any.
    pub verb: Option<Verb>,
    /// Everything after the verb and the whitespace following it.
    pub args: String,
    /// The whole line (after NUL truncation), for logging.
    pub line: String,
}

impl Command {
    /// Parse one command line. NUL ends the string (`NO\0OP` is `NO`).
    /// Invalid UTF-8 is replaced (the caller checks UTF-8 validity first
    /// when `smtputf8_enable` asks for it).
    pub fn parse(raw: &[u8]) -> Command {
        let raw = match raw.iter().position(|&b| b == 0) {
            Some(nul) => &raw[..nul],
            None => raw,
        };
        let line = String::from_utf8_lossy(raw).into_owned();
        let trimmed = line.trim_start_matches([' ', '\t']);
        let (word, rest) = match trimmed.find([' ', '\t']) {
            Some(i) => (&trimmed[..i], trimmed[i..].trim_start_matches([' ', '\t'])),
            None => (trimmed, ""),
        };
        let args = rest.trim_end_matches([' ', '\t']).to_string();
        Command {
            word: word.to_string(),
            verb: Verb::from_word(word),
            args,
            line: line.clone(),
        }
    }

    /// Whether the line is blank.
    pub fn is_empty(&self) -> bool {
        self.word.is_empty()
    }

    /// Postfix's non-SMTP command test for an unrecognised verb: a word that
    /// looks like a mail header (`Word:`), `CONNECT`, `GET`, `POST`, or a
    /// verb that starts with a non-letter (`smtpd_forbidden_commands`
    /// default).
    pub fn looks_non_smtp(&self, forbidden: &[String]) -> bool {
        if self.verb.is_some() {
            return false;
        }
        let w = &self.word;
        if is_header_name(w) {
            return true;
        }
        if let Some(first) = w.chars().next() {
            if !first.is_ascii_alphabetic() {
                return true;
            }
        }
        forbidden.iter().any(|f| f.eq_ignore_ascii_case(w))
    }
}

/// `Word:` where Word is a run of header-name characters.
fn is_header_name(word: &str) -> bool {
    match word.strip_suffix(':') {
        Some(name) => !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verbs_case_insensitively() {
        let c = Command::parse(b"noop hello");
        assert_eq!(c.verb, Some(Verb::Noop));
        assert_eq!(c.args, "hello");
        assert_eq!(Command::parse(b"Mail FROM:<a@b>").verb, Some(Verb::Mail));
    }

    #[test]
    fn nul_ends_command() {
        let c = Command::parse(b"NO\0OP");
        assert_eq!(c.word, "NO");
        assert_eq!(c.verb, None);
    }

    #[test]
    fn non_smtp_detection() {
        let forbidden = vec!["CONNECT".to_string(), "GET".into(), "POST".into()];
        assert!(Command::parse(b"Subject: x").looks_non_smtp(&forbidden));
        assert!(Command::parse(b"GET / HTTP/1.0").looks_non_smtp(&forbidden));
        assert!(Command::parse(b"123 x").looks_non_smtp(&forbidden));
        assert!(!Command::parse(b"FOO bar").looks_non_smtp(&forbidden));
        assert!(!Command::parse(b"MAIL FROM:<a@b>").looks_non_smtp(&forbidden));
    }
}
