//! The right-hand side of an aliases(5) entry, split into delivery targets
//! (Postfix local `token.c`): comma-separated items, double quotes protect
//! commas and spaces; each item is `|command`, `/file/name` (Maildir when
//! it ends in `/`), `:include:/file`, or an address (angle brackets
//! removed).

/// One alias target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AliasTarget {
    Command(String),
    File(String),
    Include(String),
    Address(String),
}

/// Split an alias value into items at commas outside double quotes.
fn split_items(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                current.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Remove one level of surrounding double quotes (and backslash escapes
/// inside them).
fn unquote(item: &str) -> String {
    match item.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => item.to_string(),
    }
}

/// Parse an alias value into targets.
pub(crate) fn parse(value: &str) -> Vec<AliasTarget> {
    split_items(value)
        .iter()
        .map(|item| {
            // `"|cmd"` and `"/file"` are quoted as a whole; an address may
            // have a quoted local part (`"a b"@x`) and must keep it.
            let whole = unquote(item);
            if let Some(cmd) = whole.strip_prefix('|') {
                AliasTarget::Command(cmd.trim().to_string())
            } else if whole.starts_with('/') {
                AliasTarget::File(whole)
            } else if whole.len() >= 9 && whole[..9].eq_ignore_ascii_case(":include:") {
                AliasTarget::Include(whole[9..].trim().to_string())
            } else {
                let addr = item.trim();
                let addr = addr
                    .strip_prefix('<')
                    .and_then(|a| a.strip_suffix('>'))
                    .unwrap_or(addr);
                AliasTarget::Address(addr.trim().to_string())
            }
        })
        .filter(|t| !matches!(t, AliasTarget::Address(a) if a.is_empty()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::AliasTarget::*;
    use super::*;

    #[test]
    fn alias_values() {
        let cases: Vec<(&str, Vec<AliasTarget>)> = vec![
            ("bob", vec![Address("bob".into())]),
            (
                "bob, carol@example.com",
                vec![Address("bob".into()), Address("carol@example.com".into())],
            ),
            ("bob carol", vec![Address("bob carol".into())]),
            ("<bob@x.example>", vec![Address("bob@x.example".into())]),
            (
                "\"|cat > /tmp/x, y\"",
                vec![Command("cat > /tmp/x, y".into())],
            ),
            (
                "|/usr/bin/procmail",
                vec![Command("/usr/bin/procmail".into())],
            ),
            (
                "/var/log/mail.archive, root",
                vec![File("/var/log/mail.archive".into()), Address("root".into())],
            ),
            ("/srv/mail/team/", vec![File("/srv/mail/team/".into())]),
            (
                ":include:/etc/mail/list",
                vec![Include("/etc/mail/list".into())],
            ),
            (
                "\"a b\"@x.example",
                vec![Address("\"a b\"@x.example".into())],
            ),
            (" , ,", vec![]),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value), want, "{value}");
        }
    }
}
