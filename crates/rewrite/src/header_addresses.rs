//! Address rewriting in message headers, as Postfix's cleanup does for
//! mail in the "local" rewrite context (local submissions, and SMTP
//! clients in `local_header_rewrite_clients`): bare addresses in address
//! headers get `@$myorigin`, and canonical maps and masquerading apply. A header with nothing to qualify is kept byte
//! for byte; one that changed is written back unfolded, with single spaces
//! and refolded after commas at 78 columns, as Postfix's cleanup does.
//! The address-list tokenizer used for this, for `Bcc:` handling and for
//! `sendmail -t` recipient extraction lives here too.

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

/// Rewrite each address of one address header with `rewrite`
/// (canonicalisation: `Cc: carol, Bob <bob>` becomes
/// `Cc: carol@ORIGIN, Bob <bob@ORIGIN>`; canonical maps, masquerading). A
/// header with nothing changed is kept byte for byte; a changed one is
/// unfolded and refolded as Postfix's cleanup writes it.
pub fn rewrite_header(header: &str, rewrite: &dyn Fn(&str) -> String) -> String {
    let Some(colon) = header.find(':') else {
        return header.to_string();
    };
    let value_start = colon + 1;
    let mut spans: Vec<((usize, usize), String)> = address_list_items(&header[value_start..])
        .into_iter()
        .filter_map(|item| {
            item.span
                .map(|(a, b)| ((value_start + a, value_start + b), item.address))
        })
        .collect();
    spans.sort_by_key(|(span, _)| std::cmp::Reverse(span.0));
    let mut out = header.to_string();
    let mut changed = false;
    for ((start, end), addr) in spans {
        let new = rewrite(&addr);
        if new != addr {
            out.replace_range(start..end, &new);
            changed = true;
        }
    }
    if changed {
        refold(&out)
    } else {
        out
    }
}

/// One item of an RFC 5322 address list, as cleanup's header processing
/// sees it (Postfix `tok822_parse`, reduced to what cleanup needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The address: the `<...>` text when there is one, else the item's
    /// words (comments and group names left out).
    pub address: String,
    /// Where the address is written (byte offsets in the text given to
    /// [`address_list_items`]): inside `<...>`, or a lone unquoted word.
    /// `None` for anything else (a phrase of several words, a quoted
    /// string), which is then left as it is.
    pub span: Option<(usize, usize)>,
}

/// Split an address-list header value into its items: display names,
/// quoted strings, comments, `<angle addresses>` and `group: ...;` are
/// understood. The one tokenizer behind header address qualification,
/// `Bcc:` handling and `sendmail -t` recipient extraction.
pub fn address_list_items(value: &str) -> Vec<ListItem> {
    let mut items = Vec::new();
    let mut item = ItemScan::default();
    let (mut in_quote, mut depth) = (false, 0usize);
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_quote {
            let target = if item.in_angle() {
                item.angle.get_or_insert_with(String::new)
            } else {
                &mut item.words
            };
            target.push(c);
            if c == '\\' {
                if let Some((_, n)) = chars.next() {
                    target.push(n);
                }
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
                    chars.next();
                }
                _ => {}
            }
            item.word_break = true;
            continue;
        }
        match c {
            '(' => depth = 1,
            '"' => {
                in_quote = true;
                if item.in_angle() {
                    item.angle.get_or_insert_with(String::new).push(c);
                } else {
                    item.quoted = true;
                    item.push_word_char(c, i);
                }
            }
            '>' if item.in_angle() => item.angle_end = Some(i),
            _ if item.in_angle() => {
                if !c.is_whitespace() {
                    item.angle.get_or_insert_with(String::new).push(c);
                }
            }
            '<' => {
                item.angle = Some(String::new());
                item.angle_start = i + 1;
                item.angle_end = None;
            }
            ':' => item = ItemScan::default(), // a group's display name
            ',' | ';' => item.flush(&mut items),
            c if c.is_whitespace() => item.word_break = true,
            c => item.push_word_char(c, i),
        }
    }
    item.flush(&mut items);
    items
}

/// The addresses of an address-list header value (see
/// [`address_list_items`]); empty items are left out.
pub fn address_list(value: &str) -> Vec<String> {
    address_list_items(value)
        .into_iter()
        .map(|item| item.address)
        .collect()
}

/// The scan state of one list item.
#[derive(Default)]
struct ItemScan {
    words: String,
    word_count: usize,
    word_start: Option<usize>,
    word_end: Option<usize>,
    word_break: bool,
    quoted: bool,
    /// Text of the open or last `<...>`.
    angle: Option<String>,
    /// Offset just after the `<` that opened `angle`.
    angle_start: usize,
    /// Offset of the `>` that closed `angle`; `None` while it is open.
    angle_end: Option<usize>,
}

impl ItemScan {
    fn in_angle(&self) -> bool {
        self.angle.is_some() && self.angle_end.is_none()
    }

    fn push_word_char(&mut self, c: char, at: usize) {
        if self.word_break || self.word_count == 0 {
            if self.word_count > 0 {
                self.words.push(' ');
            } else {
                self.word_start = Some(at);
            }
            self.word_count += 1;
            self.word_break = false;
        }
        self.words.push(c);
        self.word_end = Some(at + c.len_utf8());
    }

    fn flush(&mut self, items: &mut Vec<ListItem>) {
        let scan = std::mem::take(self);
        let item = match scan.angle {
            Some(address) => ListItem {
                span: scan
                    .angle_end
                    .filter(|_| !address.is_empty())
                    .map(|end| (scan.angle_start, end)),
                address,
            },
            None => ListItem {
                span: scan
                    .word_start
                    .zip(scan.word_end)
                    .filter(|_| scan.word_count == 1 && !scan.quoted),
                address: scan.words,
            },
        };
        if !item.address.is_empty() {
            items.push(item);
        }
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

/// Whether `name` (without the colon) is a sender address header (Postfix
/// `HDR_OPT_SENDER`); the other address headers hold recipients.
pub fn is_sender_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "from"
            | "sender"
            | "reply-to"
            | "errors-to"
            | "return-receipt-to"
            | "resent-from"
            | "resent-sender"
    )
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
        let q = |a: &str| {
            if a.contains('@') {
                a.to_string()
            } else {
                format!("{a}@mx.spec.test")
            }
        };
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
            assert_eq!(rewrite_header(input, &q), want, "{input:?}");
        }
    }

    #[test]
    fn address_lists() {
        let cases: &[(&str, &[&str])] = &[
            ("bob", &["bob"]),
            (
                "bob@x.example, carol@y.example",
                &["bob@x.example", "carol@y.example"],
            ),
            ("Bob Smith <bob@x.example>", &["bob@x.example"]),
            (
                "\"Smith, Bob\" <bob@x.example>, c@y",
                &["bob@x.example", "c@y"],
            ),
            ("bob@x.example (Bob, the builder)", &["bob@x.example"]),
            ("friends: a@x, b@y;, c@z", &["a@x", "b@y", "c@z"]),
            ("undisclosed-recipients:;", &[]),
            ("<\"odd user\"@x.example>", &["\"odd user\"@x.example"]),
            ("", &[]),
        ];
        for (value, want) in cases {
            assert_eq!(address_list(value), *want, "{value}");
        }
    }
}
