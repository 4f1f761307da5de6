//! Cleanup-time canonicalisation of one address (Postfix `rewrite_tree`
//! with the `local` rule set): `site!user` → `user@site` (`swap_bangpath`),
//! `user%site` → `user@site` (`allow_percent_hack`), bare `user` →
//! `user@$myorigin` (`append_at_myorigin`), `user@host` →
//! `user@host.$mydomain` (`append_dot_mydomain`), one trailing dot removed.
//! The empty address (`<>`) stays empty. Works on the internal form; a local
//! part that is not a dot-string counts as quoted (its `!`/`%` are data).

use crate::quote::is_dot_string;
use crate::resolve_loop::split_last_at;

/// Switches of the canonicaliser.
#[derive(Debug, Clone)]
pub(crate) struct CanonSettings {
    pub(crate) swap_bangpath: bool,
    pub(crate) percent_hack: bool,
    pub(crate) append_at_myorigin: bool,
    pub(crate) myorigin: String,
    /// `$mydomain` when `append_dot_mydomain = yes`.
    pub(crate) append_dot_mydomain: Option<String>,
}

/// Canonicalise one internal-form address.
pub(crate) fn canonicalize(addr: &str, settings: &CanonSettings) -> String {
    if addr.is_empty() || addr == "@" {
        return String::new();
    }
    let addr = match addr.strip_prefix('@').and_then(|rest| rest.split_once(':')) {
        Some((_, rest)) if !rest.is_empty() => rest,
        _ => addr,
    };
    let (mut local, mut domain) = split_last_at(addr);
    if domain.is_none() {
        let unquoted = is_dot_string(&local);
        if let Some(bang) = local
            .find('!')
            .filter(|_| unquoted && settings.swap_bangpath)
        {
            domain = Some(local[..bang].to_string());
            local = local[bang + 1..].to_string();
        } else if let Some(pct) = local
            .rfind('%')
            .filter(|_| unquoted && settings.percent_hack)
        {
            domain = Some(local[pct + 1..].to_string());
            local.truncate(pct);
        } else if settings.append_at_myorigin && !settings.myorigin.is_empty() {
            domain = Some(settings.myorigin.clone());
        }
    }
    if let (Some(d), Some(mydomain)) = (domain.as_mut(), &settings.append_dot_mydomain) {
        if !d.is_empty() && !d.starts_with('[') && !d.contains('.') && !mydomain.is_empty() {
            d.push('.');
            d.push_str(mydomain);
        }
    }
    match domain {
        Some(mut d) => {
            if d.len() >= 2 && d.ends_with('.') && !d[..d.len() - 1].ends_with('.') {
                d.pop();
            }
            format!("{local}@{d}")
        }
        None => local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CanonSettings {
        CanonSettings {
            swap_bangpath: true,
            percent_hack: true,
            append_at_myorigin: true,
            myorigin: "mx.spec.test".into(),
            append_dot_mydomain: None,
        }
    }

    #[test]
    fn canonicalize_table() {
        let s = settings();
        let cases = [
            ("", ""),
            ("@", ""),
            ("user", "user@mx.spec.test"),
            ("user@host.example", "user@host.example"),
            ("user@host", "user@host"),
            ("user@host.example.", "user@host.example"),
            ("user@host..", "user@host.."),
            ("far.example!u", "u@far.example"),
            ("u%far.example", "u@far.example"),
            ("a b!c", "a b!c@mx.spec.test"),
            ("@r1:u@far.example", "u@far.example"),
            ("MAILER-DAEMON", "MAILER-DAEMON@mx.spec.test"),
        ];
        for (addr, want) in cases {
            assert_eq!(canonicalize(addr, &s), want, "{addr:?}");
        }
    }

    #[test]
    fn switches() {
        let mut s = settings();
        s.append_at_myorigin = false;
        assert_eq!(canonicalize("user", &s), "user");
        s.append_dot_mydomain = Some("spec.test".into());
        assert_eq!(canonicalize("user@host", &s), "user@host.spec.test");
        assert_eq!(canonicalize("user@[10.1.1.1]", &s), "user@[10.1.1.1]");
        assert_eq!(canonicalize("user@a.b", &s), "user@a.b");
    }
}
