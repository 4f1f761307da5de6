//! `smtpd_reject_footer` (postconf(5)): text appended to every 4XX and 5XX
//! reply, as Postfix's smtp_reply_footer() does; or the footer that
//! `smtpd_reject_footer_maps` (Postfix 3.4 and later) finds for the
//! complete reply text (`554 5.7.1 <a@b.test>: Relay access denied`), as
//! smtpd_chat_reply() looks it up, before `soft_bounce` changes it. `\n` starts another reply
//! line (same code and enhanced status code); `\c` at the very start
//! appends the first part to the reply's last line instead. `$name` and
//! `${name}` expand the session attributes Postfix offers there
//! (`server_name`, `client`, `client_address`, `client_name`,
//! `client_port`, `reverse_client_name`, `helo_name`, `sender`,
//! `sender_name`, `sender_domain`, `recipient`..., `localtime`); an
//! unknown name drops the footer with Postfix's warning. Expanded values
//! outside printable ASCII become `_` (`smtpd_expansion_filter`'s default).

use gatepost_proto::Reply;
use gatepost_table::MapList;

/// The session attributes a footer may name.
pub(crate) struct FooterVars<'a> {
    pub server_name: &'a str,
    pub client: &'a str,
    pub client_address: String,
    pub client_name: &'a str,
    pub client_port: String,
    pub reverse_client_name: &'a str,
    pub helo_name: &'a str,
    /// The envelope sender once MAIL was accepted (internal form).
    pub sender: Option<&'a str>,
}

impl FooterVars<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        let value = match name {
            "server_name" => self.server_name.to_string(),
            "client" => self.client.to_string(),
            "client_port" => self.client_port.clone(),
            "client_address" => self.client_address.clone(),
            "client_name" => self.client_name.to_string(),
            "reverse_client_name" => self.reverse_client_name.to_string(),
            "helo_name" => self.helo_name.to_string(),
            "localtime" => chrono::Local::now().format("%b %d %H:%M:%S").to_string(),
            _ => {
                if let Some(suffix) = name.strip_prefix("sender") {
                    return address_part(self.sender, suffix);
                }
                // The recipient is not known at reply time here.
                if let Some(suffix) = name.strip_prefix("recipient") {
                    return address_part(None, suffix);
                }
                return None;
            }
        };
        Some(value)
    }
}

/// `$sender`, `$sender_name`, `$sender_domain` (and the recipient forms).
fn address_part(addr: Option<&str>, suffix: &str) -> Option<String> {
    let Some(addr) = addr else {
        return matches!(suffix, "" | "_name" | "_domain").then(String::new);
    };
    let value = match suffix {
        "" if addr.is_empty() => "<>".to_string(),
        "" => addr.to_string(),
        "_name" if addr.is_empty() => "<>".to_string(),
        "_name" => addr.rsplit_once('@').map_or(addr, |(l, _)| l).to_string(),
        "_domain" => addr.rsplit_once('@').map_or("", |(_, d)| d).to_string(),
        _ => return None,
    };
    Some(value)
}

/// Expand `$name`, `${name}` and `$(name)` in one footer line; `None` (after
/// the warning) for an unknown name.
fn expand(text: &str, vars: &FooterVars<'_>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail) = match after.chars().next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
                continue;
            }
            Some(open @ ('{' | '(')) => {
                let close = if open == '{' { '}' } else { ')' };
                match after.find(close) {
                    Some(end) => (&after[1..end], &after[end + 1..]),
                    None => (after, ""),
                }
            }
            _ => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        match vars.lookup(name) {
            Some(value) => out.extend(value.chars().map(|c| {
                if c == '\t' || (' '..='~').contains(&c) {
                    c
                } else {
                    '_'
                }
            })),
            None => {
                gatepost_log::warning(
                    "smtpd",
                    format!("unknown macro name \"{name}\" in expansion request"),
                );
                return None;
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The footer of a 4XX/5XX reply: the first of `maps` that has the whole
/// reply (its lines joined by CRLF), else `footer` (also when a table
/// cannot be searched, as Postfix's maps_find() failing); `None` when
/// there is none.
pub(crate) fn template(reply: &Reply, maps: &MapList, footer: &str) -> Option<String> {
    if reply.code < 400 {
        return None;
    }
    if !maps.is_empty() {
        let wire = reply.to_wire();
        if let Ok(Some(found)) = maps.find(wire.trim_end_matches("\r\n")) {
            return Some(found);
        }
    }
    (!footer.is_empty()).then(|| footer.to_string())
}

/// Append the footer to a 4XX/5XX reply.
pub(crate) fn apply(reply: &mut Reply, template: &str, vars: &FooterVars<'_>) {
    if template.is_empty() || reply.code < 400 {
        return;
    }
    let mut lines = Vec::new();
    let mut glue_first = false;
    for (i, part) in template.split("\\n").enumerate() {
        let part = if i == 0 {
            match part.strip_prefix("\\c") {
                Some(p) => {
                    glue_first = true;
                    p
                }
                None => part,
            }
        } else {
            part
        };
        match expand(part, vars) {
            Some(line) => lines.push(line),
            None => return,
        }
    }
    let mut lines = lines.into_iter();
    if glue_first {
        if let (Some(first), Some(last)) = (lines.next(), reply.lines.last_mut()) {
            last.push_str(&first);
        }
    }
    reply.lines.extend(lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> FooterVars<'static> {
        FooterVars {
            server_name: "mx.spec.test",
            client: "unknown[127.0.0.1]",
            client_address: "127.0.0.1".into(),
            client_name: "unknown",
            client_port: "40000".into(),
            reverse_client_name: "unknown",
            helo_name: "c.example",
            sender: Some("a@example.org"),
        }
    }

    #[test]
    fn lines_and_names_as_postfix() {
        let mut r = Reply::new(450, "4.7.1", "<x>: Helo command rejected: Host not found");
        apply(
            &mut r,
            "For help see $server_name\\n$client_address ${sender} $helo_name",
            &vars(),
        );
        assert_eq!(
            r.to_wire(),
            "450-4.7.1 <x>: Helo command rejected: Host not found\r\n\
             450-4.7.1 For help see mx.spec.test\r\n\
             450 4.7.1 127.0.0.1 a@example.org c.example\r\n"
        );
    }

    #[test]
    fn glue_unknown_names_and_positive_replies() {
        let mut r = Reply::plain(503, "Error: send HELO/EHLO first");
        apply(&mut r, "\\c (see $sender_domain)", &vars());
        assert_eq!(
            r.to_wire(),
            "503 Error: send HELO/EHLO first (see example.org)\r\n"
        );
        let mut r = Reply::new(554, "5.7.1", "no");
        apply(&mut r, "ask $nobody", &vars());
        assert_eq!(r.lines.len(), 1);
        let mut r = Reply::new(250, "2.0.0", "Ok");
        apply(&mut r, "footer", &vars());
        assert_eq!(r.lines.len(), 1);
    }
}
