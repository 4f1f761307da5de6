//! Postfix list splitting (`mystrtokq` with separators `, \t\r\n` and `{}`
//! quoting): items are separated by commas and/or whitespace in any mix,
//! empty items are dropped, and a `{ ... }` group keeps commas and whitespace
//! inside one item (the braces stay in the item; callers strip them where
//! Postfix does).

/// Separator characters of a Postfix list.
const SEPARATORS: &[char] = &[',', ' ', '\t', '\r', '\n'];

/// Split a Postfix list value: items separated by commas and/or whitespace;
/// `{ ... }` keeps one item whole (braces kept in the item).
pub fn split_list(value: &str) -> Vec<String> {
    split_outside_braces(value, |ch| SEPARATORS.contains(&ch))
}

/// Split `value` at characters for which `is_separator` holds, except
/// inside `{ ... }` groups, which stay in one item with their braces.
/// Empty items are dropped.
pub(crate) fn split_outside_braces(
    value: &str,
    is_separator: impl Fn(char) -> bool,
) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut level = 0usize;
    for ch in value.chars() {
        if level == 0 && is_separator(ch) {
            if !current.is_empty() {
                items.push(std::mem::take(&mut current));
            }
            continue;
        }
        match ch {
            '{' => level += 1,
            '}' => level = level.saturating_sub(1),
            _ => {}
        }
        current.push(ch);
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::split_list;

    /// A list such as `prepend_delivered_header`: commas, blanks and tabs.
    #[test]
    fn list_items() {
        assert_eq!(
            split_list("alias, forward\tinclude"),
            vec!["alias", "forward", "include"]
        );
    }

    #[test]
    fn splits_like_postfix() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ,, ,", &[]),
            ("a", &["a"]),
            ("a,b", &["a", "b"]),
            ("a, b c\t,d\n  e", &["a", "b", "c", "d", "e"]),
            (
                "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
                &[
                    "permit_mynetworks",
                    "permit_sasl_authenticated",
                    "defer_unauth_destination",
                ],
            ),
            (
                "check_recipient_access inline:{ a@x=REJECT, { b@x = 550 5.7.1 text } }",
                &[
                    "check_recipient_access",
                    "inline:{ a@x=REJECT, { b@x = 550 5.7.1 text } }",
                ],
            ),
            ("{ a b }, c", &["{ a b }", "c"]),
            ("x = a, b # note", &["x", "=", "a", "b", "#", "note"]),
            ("unbalanced {a, b", &["unbalanced", "{a, b"]),
        ];
        for (input, want) in cases {
            assert_eq!(split_list(input), *want, "input {input:?}");
        }
    }
}
