//! The `postmap` source format: `key whitespace value` per logical line
//! (see [`crate::readlline`]), leading and trailing whitespace trimmed, keys
//! folded to lower case by the table that stores them. Lines without a key or
//! without a value are skipped with Postfix's warning.

use crate::readlline::{is_space, logical_lines};

/// One `key value` record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub key: String,
    pub value: String,
    pub lineno: usize,
}

/// Parse a postmap source file's text.
pub(crate) fn parse_records(content: &str, path: &str, warnings: &mut Vec<String>) -> Vec<Record> {
    let mut out = Vec::new();
    for line in logical_lines(content, path, warnings) {
        let text = line.text.as_str();
        let (key, value) = match text.find(is_space) {
            Some(pos) => (&text[..pos], &text[pos..]),
            None => (text, ""),
        };
        let key = key.trim_matches(is_space);
        let value = value.trim_matches(is_space);
        if key.is_empty() || value.is_empty() {
            warnings.push(format!(
                "{path}, line {}: expected format: key whitespace value",
                line.lineno
            ));
            continue;
        }
        if key.ends_with(':') {
            warnings.push(format!(
                "{path}, line {}: record is in \"key: value\" format; is this an alias file?",
                line.lineno
            ));
        }
        out.push(Record {
            key: key.to_string(),
            value: value.to_string(),
            lineno: line.lineno,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_warnings() {
        let text = "# comment\nexample.com   REJECT  no thanks \n\
                    bare\n1.2.3.4 OK\nmulti 550 5.7.1\n  continued text\nroot: admin\n";
        let mut warnings = Vec::new();
        let recs = parse_records(text, "/etc/postfix/access", &mut warnings);
        let got: Vec<(&str, &str, usize)> = recs
            .iter()
            .map(|r| (r.key.as_str(), r.value.as_str(), r.lineno))
            .collect();
        assert_eq!(
            got,
            vec![
                ("example.com", "REJECT  no thanks", 2),
                ("1.2.3.4", "OK", 4),
                ("multi", "550 5.7.1  continued text", 5),
                ("root:", "admin", 7),
            ]
        );
        assert_eq!(
            warnings,
            vec![
                "/etc/postfix/access, line 3: expected format: key whitespace value",
                "/etc/postfix/access, line 7: record is in \"key: value\" format; is this an alias file?",
            ]
        );
    }
}
