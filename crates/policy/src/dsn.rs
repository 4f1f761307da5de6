//! RFC 3463 enhanced status codes as the restriction engine handles them:
//! Postfix's `dsn_valid()`, `dsn_split()` (an optional `D.S.N` at the start
//! of access-table / RBL / error-transport text) and `smtpd_dsn_fix()`
//! (sender/recipient `X.1.Y` translation, docs/restrictions.md#reply-post-processing step 6).

/// The reply classes that name an address (`SMTPD_NAME_SENDER`, `..._RECIPIENT`).
pub const CLASS_SENDER: &str = "Sender address";
pub const CLASS_RECIPIENT: &str = "Recipient address";

/// `dsn_valid()`: length of the DSN at the start of `text` (`[245].d{1,3}.d{1,3}`
/// followed by end of text or whitespace), or 0.
pub fn dsn_valid(text: &str) -> usize {
    let b = text.as_bytes();
    if !matches!(b.first(), Some(b'2' | b'4' | b'5')) || b.get(1) != Some(&b'.') {
        return 0;
    }
    let mut i = 2;
    let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 3 || b.get(i + n) != Some(&b'.') {
        return 0;
    }
    i += n + 1;
    let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 3 {
        return 0;
    }
    i += n;
    match b.get(i) {
        None => i,
        Some(c) if c.is_ascii_whitespace() => i,
        Some(_) => 0,
    }
}

/// `dsn_split()`: the DSN at the start of `text` (after leading whitespace),
/// or `def_dsn`, and the remaining text with leading whitespace removed.
pub fn dsn_split<'a>(def_dsn: &str, text: &'a str) -> (String, &'a str) {
    let t = text.trim_start();
    let len = dsn_valid(t);
    if len > 0 {
        (t[..len].to_string(), t[len..].trim_start())
    } else {
        (def_dsn.to_string(), t)
    }
}

/// `smtpd_dsn_fix()`: translate an address DSN (`X.1.Y`) to suit what is
/// being rejected. Returns the DSN to use and, when it changed, the log text
/// `mapping DSN status 5.1.8 into Recipient address status 5.1.2`.
///
/// The first digit of the result is left to the caller (it is forced to the
/// reply code's digit at the very end, after `soft_bounce`), so the returned
/// DSN keeps the input's first digit for readability.
pub fn dsn_fix(status: &str, reply_class: &str) -> (String, Option<String>) {
    let b = status.as_bytes();
    let is_addr = b.len() >= 5 && b[0].is_ascii_digit() && &status[1..4] == ".1.";
    if !is_addr {
        return (status.to_string(), None);
    }
    let micro = &status[4..];
    // docs/restrictions.md#reply-post-processing step 6 table: (micro, sender DSN, recipient DSN).
    const MAP: &[(&str, &str, &str)] = &[
        ("1", "4.1.7", "4.1.1"),
        ("2", "4.1.8", "4.1.2"),
        ("3", "4.1.7", "4.1.3"),
        ("4", "4.1.7", "4.1.4"),
        ("5", "4.1.0", "4.1.5"),
        ("6", "4.1.7", "4.1.6"),
        ("7", "4.1.7", "4.1.3"),
        ("8", "4.1.8", "4.1.2"),
    ];
    let found = MAP.iter().find(|(m, _, _)| *m == micro);
    let result = if reply_class == CLASS_SENDER {
        found.map_or("4.1.0", |f| f.1)
    } else if reply_class == CLASS_RECIPIENT {
        found.map_or("4.1.0", |f| f.2)
    } else {
        "4.0.0"
    };
    let fixed = format!("{}{}", &status[..1], &result[1..]);
    let note = if status[2..] != result[2..] {
        Some(format!(
            "mapping DSN status {status} into {reply_class} status {fixed}"
        ))
    } else {
        None
    };
    (fixed, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        for (t, n) in [
            ("5.7.1", 5),
            ("4.1.10 text", 6),
            ("2.0.0", 5),
            ("3.0.0", 0),
            ("5.7.1x", 0),
            ("5.7777.1", 0),
            ("5..1", 0),
            ("5.7.", 0),
            ("", 0),
        ] {
            assert_eq!(dsn_valid(t), n, "{t}");
        }
    }

    #[test]
    fn split() {
        assert_eq!(
            dsn_split("5.7.1", "5.1.1 no such user"),
            ("5.1.1".into(), "no such user")
        );
        assert_eq!(
            dsn_split("5.7.1", "  text only"),
            ("5.7.1".into(), "text only")
        );
        assert_eq!(dsn_split("4.7.1", ""), ("4.7.1".into(), ""));
        assert_eq!(dsn_split("4.7.1", "4.2.0"), ("4.2.0".into(), ""));
    }

    #[test]
    fn fix_table() {
        let cases = [
            ("5.1.8", CLASS_RECIPIENT, "5.1.2", true),
            ("5.1.1", CLASS_RECIPIENT, "5.1.1", false),
            ("5.1.1", CLASS_SENDER, "5.1.7", true),
            ("4.1.2", CLASS_SENDER, "4.1.8", true),
            ("5.1.5", CLASS_SENDER, "5.1.0", true),
            ("5.1.9", CLASS_RECIPIENT, "5.1.0", true),
            ("5.1.1", "Client host", "5.0.0", true),
            ("5.7.1", CLASS_RECIPIENT, "5.7.1", false),
            ("5.7.1", "Helo command", "5.7.1", false),
        ];
        for (dsn, class, want, logged) in cases {
            let (got, note) = dsn_fix(dsn, class);
            assert_eq!(got, want, "{dsn} {class}");
            assert_eq!(note.is_some(), logged, "{dsn} {class}");
        }
        assert_eq!(
            dsn_fix("5.1.8", CLASS_RECIPIENT).1.as_deref(),
            Some("mapping DSN status 5.1.8 into Recipient address status 5.1.2")
        );
    }
}
