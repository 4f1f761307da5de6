//! The server's EHLO reply (Postfix `smtp_proto.c` feature parsing and
//! docs/smtp-client.md#the-ehlo-reply): the first line is the server's name; each later
//! line starts with a keyword, matched case-insensitively. Recognised:
//! `PIPELINING`, `SIZE [limit]`, `8BITMIME`, `STARTTLS` (used by the TLS policy of
//! `starttls.rs`), `AUTH mechs` and the
//! old `AUTH=mechs` form. When a second AUTH line carries a mechanism list
//! that differs (case-insensitively) from the first, the warning
//! `HOST[ADDR] offered AUTH option multiple times` is logged, as Postfix
//! 1.1-2.2 did, and the lists are merged as Postfix 3.x does; delivery
//! proceeds.

use crate::smtp::reply::Reply;

/// What the server offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Features {
    pub pipelining: bool,
    /// `Some(limit)` when SIZE was offered; a limit of 0 means none given.
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub starttls: bool,
    /// Merged AUTH mechanism list (upper-cased, no duplicates); `None`
    /// when AUTH was not offered.
    pub auth: Option<Vec<String>>,
}

/// Parse an EHLO reply. `namaddr` is `host[addr]` for warnings; the
/// returned warnings are the texts to log (without `warning: `).
pub(crate) fn parse_ehlo(reply: &Reply, namaddr: &str) -> (Features, Vec<String>) {
    let mut f = Features::default();
    let mut warnings = Vec::new();
    let mut first_auth: Option<String> = None;
    for body in reply.bodies().skip(1) {
        let body = body.trim();
        let (keyword, rest) = match body.find([' ', '=']) {
            Some(pos) => (&body[..pos], body[pos + 1..].trim()),
            None => (body, ""),
        };
        match keyword.to_ascii_uppercase().as_str() {
            "PIPELINING" => f.pipelining = true,
            "8BITMIME" => f.eight_bit_mime = true,
            "STARTTLS" => f.starttls = true,
            "SIZE" => {
                f.size = Some(
                    rest.split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                );
            }
            "AUTH" => {
                let normal = normalise_mechs(rest);
                match &first_auth {
                    None => first_auth = Some(normal.clone()),
                    Some(first) if *first != normal => {
                        warnings.push(format!("{namaddr} offered AUTH option multiple times"));
                    }
                    Some(_) => {}
                }
                let list = f.auth.get_or_insert_with(Vec::new);
                for mech in normal.split_whitespace() {
                    if !list.iter().any(|m| m == mech) {
                        list.push(mech.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    (f, warnings)
}

fn normalise_mechs(list: &str) -> String {
    list.split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply::from_lines(lines.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn keywords() {
        let (f, w) = parse_ehlo(
            &reply(&[
                "250-mx.far.test",
                "250-pipelining",
                "250-SIZE 10240000",
                "250-8BITMIME",
                "250-STARTTLS",
                "250 ENHANCEDSTATUSCODES",
            ]),
            "mx.far.test[127.0.0.2]",
        );
        assert!(w.is_empty());
        assert_eq!(
            f,
            Features {
                pipelining: true,
                size: Some(10_240_000),
                eight_bit_mime: true,
                starttls: true,
                auth: None,
            }
        );
        let (f, _) = parse_ehlo(&reply(&["250-x", "250 SIZE"]), "x[1]");
        assert_eq!(f.size, Some(0));
        // The greeting line is never a keyword.
        let (f, _) = parse_ehlo(&reply(&["250 PIPELINING"]), "x[1]");
        assert!(!f.pipelining);
    }

    /// (EHLO lines, merged AUTH list, warned)
    type AuthCase = (
        &'static [&'static str],
        Option<&'static [&'static str]>,
        bool,
    );

    #[test]
    fn auth_twice() {
        let cases: [AuthCase; 4] = [
            (
                &["250-x", "250 AUTH PLAIN LOGIN"],
                Some(&["PLAIN", "LOGIN"]),
                false,
            ),
            (
                &["250-x", "250-AUTH PLAIN LOGIN", "250 AUTH=plain login"],
                Some(&["PLAIN", "LOGIN"]),
                false,
            ),
            (
                &["250-x", "250-AUTH PLAIN", "250 AUTH=LOGIN CRAM-MD5"],
                Some(&["PLAIN", "LOGIN", "CRAM-MD5"]),
                true,
            ),
            (&["250-x", "250 8BITMIME"], None, false),
        ];
        for (lines, mechs, warned) in cases {
            let (f, w) = parse_ehlo(&reply(lines), "mx.far.test[127.0.0.4]");
            let want: Option<Vec<String>> =
                mechs.map(|m| m.iter().map(|s| s.to_string()).collect());
            assert_eq!(f.auth, want, "{lines:?}");
            let want_w: Vec<String> = if warned {
                vec!["mx.far.test[127.0.0.4] offered AUTH option multiple times".to_string()]
            } else {
                Vec::new()
            };
            assert_eq!(w, want_w, "{lines:?}");
        }
    }
}
