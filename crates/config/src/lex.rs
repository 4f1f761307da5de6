//! Lexing of Postfix `name = value` files (`main.cf`) into logical lines, as
//! Postfix's `readllines` + `split_nameval`: a logical line starts with a
//! non-whitespace character; a physical line that starts with space or tab
//! continues it (newline dropped, leading whitespace kept); lines whose first
//! non-blank character is `#` and blank lines are ignored, even between
//! continuation lines; `#` after a value is part of the value.

use crate::error::ConfigError;

/// One logical line of a Postfix configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// Line number of the first physical line (1-based).
    pub line: usize,
    /// The joined text, trailing whitespace removed.
    pub text: String,
}

/// One `name = value` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub name: String,
    pub value: String,
    pub line: usize,
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// Join physical lines into logical lines. Continuation lines with nothing
/// before them are skipped with a warning pushed to `warnings`.
pub(crate) fn logical_lines(
    text: &str,
    file: &str,
    warnings: &mut Vec<String>,
) -> Vec<LogicalLine> {
    let mut out: Vec<LogicalLine> = Vec::new();
    let mut current: Option<LogicalLine> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if is_blank_or_comment(line) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match current.as_mut() {
                Some(logical) => logical.text.push_str(line),
                None => {
                    let shown: String = line.chars().take(30).collect();
                    let more = if line.chars().count() > 30 { "..." } else { "" };
                    warnings.push(format!(
                        "{file}: logical line must not start with whitespace: \"{shown}{more}\""
                    ));
                }
            }
            continue;
        }
        if let Some(done) = current.take() {
            out.push(done);
        }
        current = Some(LogicalLine {
            line: number,
            text: line.to_string(),
        });
    }
    out.extend(current);
    for logical in &mut out {
        let trimmed_len = logical.text.trim_end().len();
        logical.text.truncate(trimmed_len);
    }
    out
}

/// Split one logical line into name and value (`split_nameval`).
pub(crate) fn split_nameval(text: &str) -> Result<(String, String), &'static str> {
    let text = text.trim_start();
    if text.is_empty() || text.starts_with('=') {
        return Err("missing attribute name");
    }
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    let Some(value) = rest.trim_start().strip_prefix('=') else {
        return Err("missing '=' after attribute name");
    };
    Ok((name.to_string(), value.trim().to_string()))
}

/// Lex a whole `main.cf`: every `name = value` in file order.
pub(crate) fn parse_settings(
    text: &str,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Setting>, ConfigError> {
    logical_lines(text, file, warnings)
        .into_iter()
        .map(|logical| match split_nameval(&logical.text) {
            Ok((name, value)) => Ok(Setting {
                name,
                value,
                line: logical.line,
            }),
            Err(why) => Err(ConfigError::Syntax {
                file: file.to_string(),
                line: logical.line,
                msg: format!("{why}: \"{}\"", logical.text),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, expected (name, value, line) settings)
    type LexCase = (&'static str, &'static [(&'static str, &'static str, usize)]);

    fn settings(text: &str) -> Vec<(String, String, usize)> {
        let mut warnings = Vec::new();
        parse_settings(text, "main.cf", &mut warnings)
            .expect("parses")
            .into_iter()
            .map(|s| (s.name, s.value, s.line))
            .collect()
    }

    #[test]
    fn lexing_table() {
        let cases: &[LexCase] = &[
            ("a = b", &[("a", "b", 1)]),
            ("a=b", &[("a", "b", 1)]),
            ("  \n# comment\na\t =\t b c \t\n", &[("a", "b c", 3)]),
            ("a =", &[("a", "", 1)]),
            ("a = x, y # note", &[("a", "x, y # note", 1)]),
            ("a = x,\n  y,\n\tz", &[("a", "x,  y,\tz", 1)]),
            (
                "a = x,\n# inside\n  y\nb = 2",
                &[("a", "x,  y", 1), ("b", "2", 4)],
            ),
            ("a = x,\n\n  y", &[("a", "x,  y", 1)]),
            ("a = x\r\nb = y\r\n", &[("a", "x", 1), ("b", "y", 2)]),
            ("a = b = c", &[("a", "b = c", 1)]),
            ("a = $b ${c}", &[("a", "$b ${c}", 1)]),
            ("a\n  = b", &[("a", "b", 1)]),
        ];
        for (input, want) in cases {
            let want: Vec<(String, String, usize)> = want
                .iter()
                .map(|(n, v, l)| (n.to_string(), v.to_string(), *l))
                .collect();
            assert_eq!(settings(input), want, "input {input:?}");
        }
    }

    #[test]
    fn leading_whitespace_without_logical_line_warns() {
        let mut warnings = Vec::new();
        let got = parse_settings("  orphan\na = b\n", "main.cf", &mut warnings).expect("parses");
        assert_eq!(got.len(), 1);
        assert_eq!(
            warnings,
            vec!["main.cf: logical line must not start with whitespace: \"  orphan\"".to_string()]
        );
    }

    #[test]
    fn syntax_errors_table() {
        let cases = [
            (
                "a = b\nfoo bar\n",
                "/etc/postfix/main.cf, line 2: missing '=' after attribute name: \"foo bar\"",
            ),
            (
                "justname",
                "/etc/postfix/main.cf, line 1: missing '=' after attribute name: \"justname\"",
            ),
            (
                "x = 1\n= value",
                "/etc/postfix/main.cf, line 2: missing attribute name: \"= value\"",
            ),
        ];
        for (input, want) in cases {
            let mut warnings = Vec::new();
            let err = parse_settings(input, "/etc/postfix/main.cf", &mut warnings)
                .expect_err("must fail");
            assert_eq!(err.to_string(), want);
        }
    }
}
