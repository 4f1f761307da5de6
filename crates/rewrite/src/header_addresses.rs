//! Address qualification in message headers, as Postfix's cleanup does
//! for mail in the "local" rewrite context (local submissions, and SMTP
//! clients in `local_header_rewrite_clients`): bare addresses in address
//! headers get `@$myorigin`. A header with nothing to qualify is kept byte
//! for byte; one that changed is written back unfolded, with single spaces
//! and refolded after commas at 78 columns, as Postfix's cleanup does.

/// Headers whose addresses are qualified in the local rewrite context, as
/// Postfix's cleanup does (canonical address rewriting of message headers).
pub const ADDRESS_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "resent-from",
    "resent-sender",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "resent-reply-to",
    "return-receipt-to",
    "errors-to",
];

/// Append `@$myorigin` (via `qualify`) to the bare addresses of one
/// address header, keeping every other byte (display names, comments,
/// folding) as it was: `Cc: carol, Bob <bob>` becomes
/// `Cc: carol@ORIGIN, Bob <bob@ORIGIN>`.
pub fn qualify_header(header: &str, qualify: &dyn Fn(&str) -> String) -> String {
    let Some(colon) = header.find(':') else {
        return header.to_string();
    };
    let chars: Vec<(usize, char)> = header
        .char_indices()
        .skip_while(|(i, _)| *i <= colon)
        .collect();
    // (insert position, address text) for each address that needs a domain.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let (mut in_quote, mut depth) = (false, 0usize);
    let mut angle: Option<(String, bool)> = None; // (address text, has @)
    let mut bare = String::new();
    let mut bare_end = None::<usize>;
    let mut bare_words = 0usize;
    let mut had_angle = false;
    // End of one list item: a lone word without `@` is a bare address.
    let flush = |bare: &mut String,
                 bare_end: &mut Option<usize>,
                 words: &mut usize,
                 had_angle: &mut bool,
                 inserts: &mut Vec<(usize, String)>| {
        if !*had_angle && *words == 1 && !bare.contains('@') && !bare.is_empty() {
            if let Some(end) = *bare_end {
                inserts.push((end, bare.clone()));
            }
        }
        bare.clear();
        *bare_end = None;
        *words = 0;
        *had_angle = false;
    };
    let mut prev_space = true;
    let mut iter = chars.iter().peekable();
    while let Some(&(i, c)) = iter.next() {
        if in_quote {
            if c == '\\' {
                iter.next();
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        if depth > 0 {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '\\' => {
                    iter.next();
                }
                _ => {}
            }
            prev_space = true;
            continue;
        }
        if let Some((text, at)) = angle.as_mut() {
            if c == '>' {
                if let Some((text, at)) = angle.take() {
                    let t = text.trim().to_string();
                    if !at && !t.is_empty() {
                        inserts.push((i, t));
                    }
                }
                had_angle = true;
            } else {
                if c == '@' {
                    *at = true;
                }
                if !c.is_whitespace() {
                    text.push(c);
                }
            }
            continue;
        }
        match c {
            '"' => {
                in_quote = true;
                bare_words += 2; // a quoted phrase: not a bare address
            }
            '(' => depth = 1,
            '<' => angle = Some((String::new(), false)),
            ':' => {
                // A group's display name.
                bare.clear();
                bare_end = None;
                bare_words = 0;
            }
            ',' | ';' => flush(
                &mut bare,
                &mut bare_end,
                &mut bare_words,
                &mut had_angle,
                &mut inserts,
            ),
            c if c.is_whitespace() => prev_space = true,
            c => {
                if prev_space {
                    bare_words += 1;
                }
                prev_space = false;
                bare.push(c);
                bare_end = Some(i + c.len_utf8());
            }
        }
        if c.is_whitespace() || c == ',' || c == ';' || c == ':' {
            prev_space = true;
        }
    }
    flush(
        &mut bare,
        &mut bare_end,
        &mut bare_words,
        &mut had_angle,
        &mut inserts,
    );
    let mut out = header.to_string();
    inserts.sort_by_key(|b| std::cmp::Reverse(b.0));
    let mut changed = false;
    for (pos, addr) in inserts {
        let q = qualify(&addr);
        if let Some(suffix) = q.strip_prefix(addr.as_str()) {
            if !suffix.is_empty() {
                out.insert_str(pos, suffix);
                changed = true;
            }
        }
    }
    if changed {
        refold(&out)
    } else {
        out
    }
}

/// A rewritten header, as Postfix's cleanup writes it back: unfolded, runs
/// of white space outside quotes made one space, items separated by `, `,
/// and folded after a comma (`,\n\t`) where a line would pass 78 columns.
fn refold(header: &str) -> String {
    let had_newline = header.ends_with('\n');
    let (name, value) = header.split_once(':').unwrap_or((header, ""));
    // Unfold and collapse white space outside quoted strings.
    let mut flat = String::new();
    let (mut in_quote, mut escaped, mut space) = (false, false, false);
    for c in value.chars() {
        if in_quote {
            flat.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !flat.is_empty() && c != ',' {
            flat.push(' ');
        }
        space = false;
        flat.push(c);
        if c == '"' {
            in_quote = true;
        }
        if c == ',' {
            space = true;
        }
    }
    // Split into items at top-level commas, then fill lines.
    let mut items: Vec<String> = Vec::new();
    let (mut cur, mut q, mut depth, mut angle) = (String::new(), false, 0usize, false);
    for c in flat.chars() {
        match c {
            '"' if depth == 0 => q = !q,
            '(' if !q => depth += 1,
            ')' if !q && depth > 0 => depth -= 1,
            '<' if !q && depth == 0 => angle = true,
            '>' if !q && depth == 0 => angle = false,
            ',' if !q && depth == 0 && !angle => {
                items.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    items.push(cur.trim().to_string());
    let mut out = format!("{name}:");
    let mut col = out.len();
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let piece = if last {
            item.clone()
        } else {
            format!("{item},")
        };
        if i > 0 && col + 1 + piece.len() > 78 {
            out.push_str("\n\t");
            col = 8;
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(&piece);
        col += piece.len();
    }
    if had_newline {
        out.push('\n');
    }
    out
}

/// Whether `name` (lower case, without the colon) is an address header.
pub fn is_address_header(name: &str) -> bool {
    ADDRESS_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_addresses_are_qualified() {
        let q = |a: &str| format!("{a}@mx.spec.test");
        let cases = [
            ("Cc: carol\n", "Cc: carol@mx.spec.test\n"),
            (
                "To: bob@spec.test, carol\n",
                "To: bob@spec.test, carol@mx.spec.test\n",
            ),
            (
                "To: Carol Smith <carol>\n",
                "To: Carol Smith <carol@mx.spec.test>\n",
            ),
            (
                "To: \"Smith, C\" <carol>, dave\n",
                "To: \"Smith, C\" <carol@mx.spec.test>, dave@mx.spec.test\n",
            ),
            (
                "To: carol (Carol Smith)\n",
                "To: carol@mx.spec.test (Carol Smith)\n",
            ),
            (
                "To: undisclosed-recipients:;\n",
                "To: undisclosed-recipients:;\n",
            ),
            (
                "To: team: carol, bob@x.example;\n",
                "To: team: carol@mx.spec.test, bob@x.example;\n",
            ),
            ("From: <>\n", "From: <>\n"),
            // A rewritten header is unfolded and refolded, as Postfix does.
            ("To: a,\n\tb\n", "To: a@mx.spec.test, b@mx.spec.test\n"),
            (
                "To: \"Carol X\"  <carol>,  Dave <d@x.example>\n",
                "To: \"Carol X\" <carol@mx.spec.test>, Dave <d@x.example>\n",
            ),
            // Untouched headers keep their folding byte for byte.
            ("To: a@x.example,\n\tb@y.example\n", "To: a@x.example,\n\tb@y.example\n"),
            (
                "To: aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbb, cccccccccccccccc, ddddddddddddddddd\n",
                "To: aaaaaaaaaaaaaaaa@mx.spec.test, bbbbbbbbbbbbbbbbbb@mx.spec.test,\n\tcccccccccccccccc@mx.spec.test, ddddddddddddddddd@mx.spec.test\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(qualify_header(input, &q), want, "{input:?}");
        }
    }
}
