//! Postfix's logical-line reader (`readllines()`), shared by every
//! file-based table source: blank lines and lines whose first non-blank
//! character is `#` are skipped (also inside a logical line), and a line
//! that starts with whitespace continues the previous logical line (the
//! newline is dropped, the whitespace kept). A logical line that would begin
//! with whitespace is discarded with Postfix's warning.

/// One logical line and the physical line where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    pub text: String,
    pub lineno: usize,
}

/// `isspace()` for the ASCII text Postfix tables are made of.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Split `content` (read from `path`) into logical lines. Warnings are
/// appended to `warnings` in Postfix's wording.
pub(crate) fn logical_lines(
    content: &str,
    path: &str,
    warnings: &mut Vec<String>,
) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut current: Option<LogicalLine> = None;
    let mut flush = |line: Option<LogicalLine>, out: &mut Vec<LogicalLine>| {
        if let Some(line) = line {
            if line.text.starts_with(is_space) {
                let shown: String = line.text.chars().take(30).collect();
                let more = if line.text.chars().count() > 30 {
                    "..."
                } else {
                    ""
                };
                warnings.push(format!(
                    "{path}: logical line must not start with whitespace: \"{shown}{more}\""
                ));
            } else {
                out.push(line);
            }
        }
    };
    let body = content.strip_suffix('\n').unwrap_or(content);
    if content.is_empty() {
        return out;
    }
    for (idx, raw) in body.split('\n').enumerate() {
        let lineno = idx + 1;
        let rest = raw.trim_start_matches(is_space);
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        if raw.starts_with(is_space) {
            match current.as_mut() {
                Some(line) => line.text.push_str(raw),
                None => {
                    current = Some(LogicalLine {
                        text: raw.to_string(),
                        lineno,
                    })
                }
            }
        } else {
            flush(current.take(), &mut out);
            current = Some(LogicalLine {
                text: raw.to_string(),
                lineno,
            });
        }
    }
    flush(current.take(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> (Vec<String>, Vec<usize>, Vec<String>) {
        let mut warnings = Vec::new();
        let lines = logical_lines(input, "memory buffer", &mut warnings);
        (
            lines.iter().map(|l| l.text.clone()).collect(),
            lines.iter().map(|l| l.lineno).collect(),
            warnings,
        )
    }

    /// The cases of Postfix's own readlline.c test program.
    #[test]
    fn postfix_readllines_cases() {
        let cases: &[(&str, &[&str], &[usize])] = &[
            ("#abc\ndef", &["def"], &[2]),
            ("\nabc\n", &["abc"], &[2]),
            (" \nabc\n", &["abc"], &[2]),
            ("abc def", &["abc def"], &[1]),
            ("#abc def", &[], &[]),
            ("abc\n def\n", &["abc def"], &[1]),
            ("abc\n #def\n ghi", &["abc ghi"], &[1]),
            ("abc\n#def\n ghi", &["abc ghi"], &[1]),
            ("abc\n \n ghi", &["abc ghi"], &[1]),
            ("abc\n\n ghi", &["abc ghi"], &[1]),
            ("abc\n #def\n", &["abc"], &[1]),
            ("abc\n#def\n", &["abc"], &[1]),
            ("\n", &[], &[]),
            ("\n \n", &[], &[]),
            ("abc\n ", &["abc"], &[1]),
            ("a 1\nb 2\n", &["a 1", "b 2"], &[1, 2]),
        ];
        for (input, want, linenos) in cases {
            let (got, nums, warnings) = texts(input);
            assert_eq!(got, *want, "input {input:?}");
            assert_eq!(nums, *linenos, "input {input:?}");
            assert!(warnings.is_empty(), "input {input:?}");
        }
    }

    #[test]
    fn leading_whitespace_is_discarded_with_warning() {
        let (got, nums, warnings) = texts(" abcde\nfghij\n");
        assert_eq!(got, vec!["fghij"]);
        assert_eq!(nums, vec![2]);
        assert_eq!(
            warnings,
            vec!["memory buffer: logical line must not start with whitespace: \" abcde\""]
        );
        let (got, _, _) = texts(" #abcde\nfghij\n");
        assert_eq!(got, vec!["fghij"]);
    }
}
