//! MAIL FROM / RCPT TO argument parsing: the `FROM:` / `TO:` keyword, the
//! path in angle brackets (or bare, as Postfix accepts with
//! `strict_rfc821_envelopes = no`), source-route stripping
//! (`<@a,@b:user@d>` → `user@d`; `<@d>` stays `@d`), local-part unquoting to Postfix's internal
//! form, and ESMTP parameters `NAME[=VALUE]`.
//!
//! Bounds: input is one length-limited command line; no recursion.

/// A parsed MAIL/RCPT argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// Internal form: local part unquoted, `@domain` appended; empty for `<>`.
    pub address: String,
    /// The address text as the client wrote it (inside the brackets).
    pub raw: String,
    /// ESMTP parameters in order; names upper-cased.
    pub params: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// `FROM:` / `TO:` missing (→ `501 5.5.4 Syntax: MAIL FROM:<address>`).
    #[error("syntax error")]
    Syntax,
    /// The address itself is malformed (→ `501 5.1.7` / `501 5.1.3`).
    #[error("bad address syntax")]
    BadAddress,
}

/// Parse the arguments of MAIL (`keyword` = `FROM:`) or RCPT (`TO:`).
pub fn parse_path(args: &str, keyword: &str, strict_rfc821: bool) -> Result<Path, PathError> {
    let head = args.get(..keyword.len()).ok_or(PathError::Syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(PathError::Syntax);
    }
    let rest = args[keyword.len()..].trim_start_matches([' ', '\t']);
    if rest.is_empty() {
        return Err(PathError::Syntax);
    }
    let (raw, params_text) = if let Some(inner) = rest.strip_prefix('<') {
        let end = find_closing_bracket(inner).ok_or(PathError::BadAddress)?;
        (&inner[..end], &inner[end + 1..])
    } else {
        if strict_rfc821 {
            return Err(PathError::BadAddress);
        }
        match rest.find([' ', '\t']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        }
    };
    if !params_text.is_empty() && !params_text.starts_with([' ', '\t']) {
        return Err(PathError::BadAddress);
    }
    let address = internalize(raw)?;
    let mut params = Vec::new();
    for word in params_text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if word.starts_with('<') || word.contains('@') && !word.contains('=') {
            // A second address in the argument.
            return Err(PathError::BadAddress);
        }
        match word.split_once('=') {
            Some((name, value)) => {
                params.push((name.to_ascii_uppercase(), Some(value.to_string())))
            }
            None => params.push((word.to_ascii_uppercase(), None)),
        }
    }
    Ok(Path {
        address,
        raw: raw.to_string(),
        params,
    })
}

/// Index of the `>` closing the path, honouring quotes and backslashes.
fn find_closing_bracket(s: &str) -> Option<usize> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' => escaped = true,
            '"' => in_quote = !in_quote,
            '>' if !in_quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// Turn the client's path text into Postfix's internal address form.
fn internalize(raw: &str) -> Result<String, PathError> {
    if raw.chars().any(|c| c.is_control()) {
        return Err(PathError::BadAddress);
    }
    let mut text = raw.trim();
    // Source route: @a,@b:user@domain → user@domain. Without a colon
    // (`<@domain>`) the text is kept as Postfix keeps it: `@domain`, which
    // the address checks then judge.
    if text.starts_with('@') {
        if let Some(colon) = text.find(':') {
            text = &text[colon + 1..];
        }
    }
    if text.is_empty() {
        return Ok(String::new());
    }
    let mut local = String::new();
    let mut in_quote = false;
    let mut escaped = false;
    let mut split_at = None;
    for (i, ch) in text.char_indices() {
        if escaped {
            local.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' => escaped = true,
            '"' => in_quote = !in_quote,
            ' ' | '\t' | '<' | '>' | '(' | ')' | ',' if !in_quote => {
                return Err(PathError::BadAddress)
            }
            _ => local.push(ch),
        }
        let _ = i;
    }
    if in_quote || escaped {
        return Err(PathError::BadAddress);
    }
    // Find the domain separator: the last '@' outside quotes in the original.
    let mut in_q = false;
    let mut esc = false;
    for (i, ch) in text.char_indices() {
        if esc {
            esc = false;
            continue;
        }
        match ch {
            '\\' => esc = true,
            '"' => in_q = !in_q,
            '@' if !in_q => split_at = Some(i),
            _ => {}
        }
    }
    match split_at {
        Some(at) => {
            let local_raw = &text[..at];
            let domain = &text[at + 1..];
            let local_internal = unquote_local(local_raw);
            Ok(format!("{local_internal}@{domain}"))
        }
        None => Ok(local),
    }
}

fn unquote_local(local: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for ch in local.chars() {
        if escaped {
            out.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' => escaped = true,
            '"' => {}
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(args: &str) -> Result<String, PathError> {
        parse_path(args, "FROM:", false).map(|p| p.address)
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            ("FROM:<a@b.example>", "a@b.example"),
            ("from: <a@b.example>", "a@b.example"),
            ("FROM:a@b.example", "a@b.example"),
            ("FROM:<>", ""),
            ("FROM:<@r1,@r2:u@d.example>", "u@d.example"),
            (
                "FROM:<\"u@far.example\"@spec.test>",
                "u@far.example@spec.test",
            ),
            ("FROM:<u%far.example@spec.test>", "u%far.example@spec.test"),
            ("FROM:<postmaster>", "postmaster"),
        ];
        for (args, want) in cases {
            assert_eq!(addr(args).as_deref(), Ok(want), "{args}");
        }
    }

    #[test]
    fn rejected_forms() {
        assert_eq!(addr("<a@b>"), Err(PathError::Syntax));
        assert_eq!(addr("FROM:"), Err(PathError::Syntax));
        assert_eq!(addr("FROM:<a@b"), Err(PathError::BadAddress));
        assert_eq!(addr("FROM:<a b@c>"), Err(PathError::BadAddress));
        assert_eq!(addr("FROM:<a@b> <c@d>"), Err(PathError::BadAddress));
        assert_eq!(
            parse_path("FROM:a@b", "FROM:", true).map(|p| p.address),
            Err(PathError::BadAddress)
        );
    }

    #[test]
    fn parameters() {
        let p = parse_path(
            "TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b",
            "TO:",
            false,
        )
        .unwrap();
        assert_eq!(
            p.params[0],
            ("NOTIFY".to_string(), Some("SUCCESS,FAILURE".to_string()))
        );
        assert_eq!(p.params[1].0, "ORCPT");
        let p = parse_path("FROM:<a@b> SIZE=100 BODY=8BITMIME SMTPUTF8", "FROM:", false).unwrap();
        assert_eq!(p.params.len(), 3);
        assert_eq!(p.params[2], ("SMTPUTF8".to_string(), None));
    }
}
