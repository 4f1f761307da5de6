//! The trivial-rewrite resolver loop (docs/address-classes.md#resolving-an-address, Postfix
//! `resolve_addr`), on the internal (unquoted) address form:
//!
//! 1. strip one trailing dot from the domain (not `..`, not `@.`);
//! 2. strip the domain when it is local, remembering it;
//! 3. rewrite routing operators of an unquoted local part and loop:
//!    `site!user` → `user@site` (`swap_bangpath`), `user%site` → `user@site`
//!    at the rightmost `%` (`allow_percent_hack`);
//! 4. look inside a quoted local part for `@`, `%`, `!` when
//!    `resolve_dequoted_address` is set, and loop;
//! 5. an empty local part becomes `empty_address_recipient`;
//! 6. no domain left: put back the stripped local domain, else `@$myhostname`.
//!
//! Whether a local part is "quoted" follows `quote_822_local`: any local part
//! that is not an RFC 822 dot-string is one quoted string, whose operators
//! are invisible to step 3. The loop is bounded by the address length.

use crate::error::RewriteError;
use crate::quote::is_dot_string;

/// Switches of the loop (main.cf booleans) and the names it appends.
#[derive(Debug, Clone)]
pub(crate) struct LoopSettings {
    pub(crate) swap_bangpath: bool,
    pub(crate) percent_hack: bool,
    pub(crate) resolve_dequoted: bool,
    pub(crate) resolve_null_domain: bool,
    /// `$mydomain` when `append_dot_mydomain = yes`.
    pub(crate) append_dot_mydomain: Option<String>,
    pub(crate) empty_address_recipient: String,
    pub(crate) myhostname: String,
}

/// Outcome of the loop: `local@domain`, and whether the domain is local
/// (a local domain was stripped, or none was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoopResult {
    pub(crate) local_part: String,
    pub(crate) domain: String,
    pub(crate) domain_is_local: bool,
}

/// Split an internal address at its last `@`.
pub(crate) fn split_last_at(addr: &str) -> (String, Option<String>) {
    match addr.rfind('@') {
        Some(at) => (addr[..at].to_string(), Some(addr[at + 1..].to_string())),
        None => (addr.to_string(), None),
    }
}

/// Strip a leading source route `@a,@b:` (RFC 5321 says to ignore it).
fn strip_source_route(addr: &str) -> &str {
    if addr.starts_with('@') {
        if let Some(colon) = addr.find(':') {
            if colon + 1 < addr.len() {
                return &addr[colon + 1..];
            }
        }
    }
    addr
}

/// Strip one trailing dot, but not from `..` or a lone `.`.
fn strip_trailing_dot(domain: &mut String) {
    if domain.len() >= 2 && domain.ends_with('.') && !domain[..domain.len() - 1].ends_with('.') {
        domain.pop();
    }
}

/// The tail of Postfix `rewrite_tree`: `append_dot_mydomain`, trailing dot.
fn canonical_tail(domain: &mut Option<String>, settings: &LoopSettings) {
    if let Some(d) = domain.as_mut() {
        if let Some(mydomain) = &settings.append_dot_mydomain {
            if !d.is_empty() && !d.starts_with('[') && !d.contains('.') && !mydomain.is_empty() {
                d.push('.');
                d.push_str(mydomain);
            }
        }
        strip_trailing_dot(d);
    }
}

/// `site!user` → (`user`, `site`) at the first `!`.
fn swap_bang(local: &str, bang: usize) -> (String, Option<String>) {
    (
        local[bang + 1..].to_string(),
        Some(local[..bang].to_string()),
    )
}

/// Run the resolver loop; `is_local` is Postfix `resolve_local`.
pub(crate) fn resolve_loop<F>(
    addr: &str,
    settings: &LoopSettings,
    is_local: F,
) -> Result<LoopResult, RewriteError>
where
    F: Fn(&str) -> Result<bool, RewriteError>,
{
    let addr = strip_source_route(addr);
    let (mut local, mut domain) = split_last_at(addr);
    let mut saved: Option<String> = None;
    let mut remote: Option<String> = None;
    let max_loops = addr.len() + 100;

    for _ in 0..=max_loops {
        if let Some(d) = domain.as_mut() {
            strip_trailing_dot(d);
        }
        if settings.resolve_null_domain && domain.as_deref() == Some("") {
            domain = None;
        }
        if let Some(d) = domain.take() {
            if !d.is_empty() && !is_local(&d)? {
                remote = Some(d);
                break;
            }
            saved = Some(d);
        }

        // Routing operators in an unquoted local part.
        if is_dot_string(&local) {
            if settings.swap_bangpath {
                if let Some(bang) = local.find('!') {
                    (local, domain) = swap_bang(&local, bang);
                    canonical_tail(&mut domain, settings);
                    continue;
                }
            }
            if settings.percent_hack {
                if let Some(pct) = local.rfind('%') {
                    domain = Some(local[pct + 1..].to_string());
                    local.truncate(pct);
                    canonical_tail(&mut domain, settings);
                    continue;
                }
            }
        } else if settings.resolve_dequoted {
            // Crack open a quoted local part ("wrong but safe").
            let oper = local
                .rfind('@')
                .or_else(|| settings.percent_hack.then(|| local.rfind('%')).flatten())
                .or_else(|| settings.swap_bangpath.then(|| local.rfind('!')).flatten());
            if let Some(pos) = oper {
                if local[pos..].starts_with('!') {
                    // Rescanned unquoted, then rewrite_tree swaps at the first '!'.
                    let bang = local.find('!').unwrap_or(pos);
                    (local, domain) = swap_bang(&local, bang);
                } else {
                    // '%' becomes '@'; requoting splits at that last '@'.
                    domain = Some(local[pos + 1..].to_string());
                    local.truncate(pos);
                }
                canonical_tail(&mut domain, settings);
                continue;
            }
        }

        if local.is_empty() {
            local = settings.empty_address_recipient.clone();
        }
        break;
    }
    // Loop exhausted (pathological input): whatever domain is pending is final.
    if remote.is_none() {
        remote = domain.filter(|d| !d.is_empty());
    }

    Ok(match (remote, saved) {
        (Some(domain), _) => LoopResult {
            local_part: local,
            domain,
            domain_is_local: false,
        },
        (None, Some(domain)) => LoopResult {
            local_part: local,
            domain,
            domain_is_local: true,
        },
        (None, None) => LoopResult {
            local_part: local,
            domain: settings.myhostname.clone(),
            domain_is_local: true,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LoopSettings {
        LoopSettings {
            swap_bangpath: true,
            percent_hack: true,
            resolve_dequoted: true,
            resolve_null_domain: false,
            append_dot_mydomain: None,
            empty_address_recipient: "MAILER-DAEMON".into(),
            myhostname: "mx.spec.test".into(),
        }
    }

    fn local(domain: &str) -> Result<bool, RewriteError> {
        Ok(matches!(
            domain.to_ascii_lowercase().as_str(),
            "spec.test" | "mx.spec.test" | "localhost" | "[127.0.0.1]"
        ))
    }

    fn run(addr: &str, s: &LoopSettings) -> (String, bool) {
        let r = resolve_loop(addr, s, local).unwrap();
        (format!("{}@{}", r.local_part, r.domain), r.domain_is_local)
    }

    #[test]
    fn loop_table() {
        let s = settings();
        let cases = [
            ("x@far.example", "x@far.example", false),
            ("x@far.example.", "x@far.example", false),
            ("x@far.example..", "x@far.example..", false),
            ("u@spec.test", "u@spec.test", true),
            ("u@SPEC.TEST.", "u@SPEC.TEST", true),
            ("u@[127.0.0.1]", "u@[127.0.0.1]", true),
            ("u@[10.9.9.9]", "u@[10.9.9.9]", false),
            ("u%far.example@spec.test", "u@far.example", false),
            ("a%b%c@spec.test", "a%b@c", false),
            ("a%b%spec.test@spec.test", "a@b", false),
            ("u@far.example@spec.test", "u@far.example", false),
            ("far.example!u@spec.test", "u@far.example", false),
            ("a!b!u@spec.test", "b!u@a", false),
            ("u%spec.test@spec.test", "u@spec.test", true),
            ("spec.test!u@spec.test", "u@spec.test", true),
            ("postmaster", "postmaster@mx.spec.test", true),
            ("", "MAILER-DAEMON@mx.spec.test", true),
            ("@spec.test", "MAILER-DAEMON@spec.test", true),
            ("u@", "u@", true),
            ("u@bar@", "u@bar", false),
            ("@r1,@r2:u@far.example", "u@far.example", false),
            ("u@1.2.3.4", "u@1.2.3.4", false),
            ("a b%far.example@spec.test", "a b@far.example", false),
            ("far.example!a b@spec.test", "a b@far.example", false),
        ];
        for (addr, want, want_local) in cases {
            assert_eq!(run(addr, &s), (want.to_string(), want_local), "{addr:?}");
        }
    }

    #[test]
    fn switches_off() {
        let mut s = settings();
        s.percent_hack = false;
        s.swap_bangpath = false;
        assert_eq!(
            run("u%far.example@spec.test", &s),
            ("u%far.example@spec.test".into(), true)
        );
        assert_eq!(
            run("far.example!u@spec.test", &s),
            ("far.example!u@spec.test".into(), true)
        );
        // '@' inside quotes is still looked at.
        assert_eq!(
            run("u@far.example@spec.test", &s),
            ("u@far.example".into(), false)
        );
        s.resolve_dequoted = false;
        assert_eq!(
            run("u@far.example@spec.test", &s),
            ("u@far.example@spec.test".into(), true)
        );
        let mut s = settings();
        s.resolve_null_domain = true;
        assert_eq!(run("u@", &s), ("u@mx.spec.test".into(), true));
        let mut s = settings();
        s.append_dot_mydomain = Some("spec.test".into());
        assert_eq!(run("u%mx@spec.test", &s), ("u@mx.spec.test".into(), true));
    }

    #[test]
    fn temporary_failure_propagates() {
        let fail = |_: &str| -> Result<bool, RewriteError> {
            Err(RewriteError::Temporary("mydestination".into()))
        };
        let err = resolve_loop("u@x.test", &settings(), fail).unwrap_err();
        assert!(matches!(err, RewriteError::Temporary(_)));
    }
}
