//! RFC 5321/5322 quoting of an address local part, Postfix's
//! `quote_822_local` / `unquote_822_local`: the internal (unquoted) form
//! `u@far.example@spec.test` ↔ the external form `"u@far.example"@spec.test`.
//! The local part is everything before the last `@`; it is quoted when it is
//! not an RFC 822 dot-string (specials, space, control characters, leading,
//! trailing or double dots, or empty).

/// Whether `local` is an RFC 822 dot-string (needs no quoting). 8-bit
/// characters are left alone, as Postfix does with SMTPUTF8 (8BITCLEAN).
pub(crate) fn is_dot_string(local: &str) -> bool {
    if local.is_empty() || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    !local.chars().any(|ch| {
        ch == ' '
            || ch.is_ascii_control()
            || matches!(
                ch,
                '(' | ')' | '<' | '>' | '@' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'
            )
    })
}

/// Quote a bare local part when it is not a dot-string.
pub(crate) fn quote_local(local: &str) -> String {
    if is_dot_string(local) {
        return local.to_string();
    }
    let mut out = String::with_capacity(local.len() + 2);
    out.push('"');
    for ch in local.chars() {
        if matches!(ch, '"' | '\\' | '\r') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// Internal form → external (RFC 5321) form: quote the local part when needed.
/// The empty address stays empty; a source route prefix (`@a,@b:`) is kept.
pub fn quote_address(internal: &str) -> String {
    if internal.is_empty() {
        return String::new();
    }
    let (route, rest) = split_route(internal);
    let (local, domain) = match rest.rfind('@') {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let mut out = String::with_capacity(internal.len() + 2);
    out.push_str(route);
    out.push_str(&quote_local(local));
    if let Some(domain) = domain {
        out.push_str(domain);
    }
    out
}

/// External form → internal form: remove quoting of the local part (quotes
/// and backslash escapes before the last unquoted `@`).
pub fn unquote_address(external: &str) -> String {
    let (route, rest) = split_route(external);
    let mut out = String::with_capacity(external.len());
    out.push_str(route);
    let base = out.len();
    let mut in_quote = false;
    let mut bare_at: Option<(usize, usize)> = None;
    let mut chars = rest.char_indices();
    while let Some((pos, ch)) = chars.next() {
        match ch {
            '"' => in_quote = !in_quote,
            '@' => {
                if !in_quote {
                    bare_at = Some((out.len(), pos));
                }
                out.push(ch);
            }
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => out.push(ch),
            },
            _ => out.push(ch),
        }
    }
    if let Some((dst_pos, src_pos)) = bare_at {
        // Text after the last unquoted '@' is copied verbatim.
        out.truncate(dst_pos.max(base));
        out.push_str(&rest[src_pos..]);
    }
    out
}

/// Split a leading source route `@a,@b:` off an address.
fn split_route(addr: &str) -> (&str, &str) {
    if addr.starts_with('@') {
        if let Some(colon) = addr.find(':') {
            return addr.split_at(colon + 1);
        }
    }
    ("", addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_table() {
        let cases = [
            ("", ""),
            ("user@spec.test", "user@spec.test"),
            ("first.last@spec.test", "first.last@spec.test"),
            ("u@far.example@spec.test", "\"u@far.example\"@spec.test"),
            ("a b@spec.test", "\"a b\"@spec.test"),
            ("a\"b@spec.test", "\"a\\\"b\"@spec.test"),
            ("a\\b@spec.test", "\"a\\\\b\"@spec.test"),
            (".lead@spec.test", "\".lead\"@spec.test"),
            ("trail.@spec.test", "\"trail.\"@spec.test"),
            ("dou..ble@spec.test", "\"dou..ble\"@spec.test"),
            ("@spec.test", "\"\"@spec.test"),
            ("u%far.example@spec.test", "u%far.example@spec.test"),
            ("far.example!u@spec.test", "far.example!u@spec.test"),
            ("a(b)@x", "\"a(b)\"@x"),
            ("a,b;c:d<e>[f]@x", "\"a,b;c:d<e>[f]\"@x"),
            ("postmaster", "postmaster"),
            ("a b", "\"a b\""),
            ("@r1,@r2:a b@x", "@r1,@r2:\"a b\"@x"),
        ];
        for (internal, external) in cases {
            assert_eq!(quote_address(internal), external, "quote {internal:?}");
        }
    }

    #[test]
    fn unquote_table() {
        let cases = [
            ("", ""),
            ("user@spec.test", "user@spec.test"),
            ("\"u@far.example\"@spec.test", "u@far.example@spec.test"),
            ("\"a b\"@spec.test", "a b@spec.test"),
            ("\"a\\\"b\"@spec.test", "a\"b@spec.test"),
            ("\"\"@spec.test", "@spec.test"),
            ("\"postmaster\"", "postmaster"),
            ("@r1:\"a b\"@x", "@r1:a b@x"),
            ("u@\"dom\"", "u@\"dom\""),
        ];
        for (external, internal) in cases {
            assert_eq!(unquote_address(external), internal, "unquote {external:?}");
        }
    }

    #[test]
    fn round_trip() {
        for internal in [
            "u@far.example@spec.test",
            "a b@x",
            "x\\y\"z@d",
            "plain@d",
            "@d",
        ] {
            assert_eq!(unquote_address(&quote_address(internal)), internal);
        }
    }
}
