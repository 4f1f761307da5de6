//! SMTP AUTH to the next hop (RFC 4954; Postfix `smtp_sasl_glue.c`,
//! `smtp_sasl_proto.c`), with `smtp_sasl_auth_enable = yes`:
//!
//! - credentials come from `smtp_sasl_password_maps` (`username:password`),
//!   looked up with the sender address and then `@domain` when
//!   `smtp_sender_dependent_authentication = yes`, then the server's host
//!   name, then the next hop as written (`[host]:port`, `domain`); none
//!   found: no AUTH, the session goes on as between strangers;
//! - the server's mechanisms pass `smtp_sasl_mechanism_filter` (empty:
//!   all; `!name` excludes); gatepost speaks PLAIN (preferred) and LOGIN,
//!   which `smtp_sasl_security_options` (plaintext), `smtp_sasl_tls_security_options`
//!   (inside TLS) or `smtp_sasl_tls_verified_security_options` (inside
//!   verified TLS) rule out with any option but `noanonymous` (Postfix's
//!   default `noplaintext, noanonymous` rules them out outside TLS too);
//! - failures defer (or bounce) as Postfix words them:
//!
//! | event | text | DSN |
//! |---|---|---|
//! | no mechanism left | `SASL authentication failed; cannot authenticate to server H[A]: no mechanism available` (and `warning: SASL authentication failure: No worthy mechs found`) | 4.7.0 |
//! | the filter left none | `SASL authentication failed: server H[A] offered no compatible authentication mechanisms for this type of connection security` | 4.7.0 |
//! | refused | `SASL authentication failed; server H[A] said: 535 5.7.8 ...` | the reply's, 5 → 4 with `smtp_sasl_auth_soft_bounce = yes` |
//! | password table unavailable | `local data error while talking to H[A]` (with `warning: ID: smtp_sasl_password_maps lookup error`) | 4.3.0 |

use base64::Engine;
use gatepost_config::{params, Config};
use gatepost_table::{open_table, MapList};

use crate::smtp::addr_list::Target;
use crate::smtp::conn::{Broken, Conn};
use crate::verdict::Verdict;
use crate::DeliveryError;

/// The TLS state of the session when AUTH starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    Plaintext,
    Tls,
    VerifiedTls,
}

/// The client's SASL settings, read once.
#[derive(Debug, Clone)]
pub(crate) struct SaslSettings {
    pub enabled: bool,
    password_maps: MapList,
    /// Whether PLAIN/LOGIN are allowed per [`Security`].
    plaintext_ok: [bool; 3],
    mechanism_filter: Vec<String>,
    sender_dependent: bool,
    soft_bounce: bool,
    /// `smtp_send_dummy_mail_auth`.
    pub dummy_mail_auth: bool,
}

/// Credentials for one server.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Login {
    pub username: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

const KNOWN_OPTIONS: &[&str] = &[
    "noanonymous",
    "noplaintext",
    "nodictionary",
    "noactive",
    "mutual_auth",
    "forward_secrecy",
];

/// Whether PLAIN and LOGIN satisfy these security options: they resist
/// no attack but anonymity, as in Cyrus SASL.
fn plaintext_allowed(options: &[String], name: &str) -> Result<bool, DeliveryError> {
    let mut ok = true;
    for option in options {
        let option = option.to_ascii_lowercase();
        if !KNOWN_OPTIONS.contains(&option.as_str()) {
            return Err(DeliveryError::Config(format!(
                "unknown {name} value \"{option}\""
            )));
        }
        if option != "noanonymous" {
            ok = false;
        }
    }
    Ok(ok)
}

impl SaslSettings {
    pub(crate) fn from_config(cfg: &Config) -> Result<SaslSettings, DeliveryError> {
        let enabled = cfg.get(&params::SMTP_SASL_AUTH_ENABLE);
        let maps = params::SMTP_SASL_PASSWORD_MAPS;
        let specs = cfg.get(&maps);
        if enabled {
            if specs.is_empty() {
                return Err(DeliveryError::Config(format!(
                    "specify a password table via the `{}' configuration parameter",
                    maps.name()
                )));
            }
            let sasl_type = cfg.get(&params::SMTP_SASL_TYPE);
            if !sasl_type.eq_ignore_ascii_case("cyrus") {
                return Err(DeliveryError::Config(format!(
                    "unsupported SASL client implementation: {sasl_type}"
                )));
            }
        }
        let opts =
            |p: gatepost_config::Param<Vec<String>>| plaintext_allowed(&cfg.get(&p), p.name());
        Ok(SaslSettings {
            enabled,
            password_maps: if enabled {
                MapList::open("smtp", maps.name(), &specs, open_table)
            } else {
                MapList::default()
            },
            plaintext_ok: [
                opts(params::SMTP_SASL_SECURITY_OPTIONS)?,
                opts(params::SMTP_SASL_TLS_SECURITY_OPTIONS)?,
                opts(params::SMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS)?,
            ],
            mechanism_filter: cfg.get(&params::SMTP_SASL_MECHANISM_FILTER),
            sender_dependent: cfg.get(&params::SMTP_SENDER_DEPENDENT_AUTHENTICATION),
            soft_bounce: cfg.get(&params::SMTP_SASL_AUTH_SOFT_BOUNCE),
            dummy_mail_auth: cfg.get(&params::SMTP_SEND_DUMMY_MAIL_AUTH),
        })
    }

    /// The credentials for this server, in Postfix's lookup order.
    /// `Err` is the deferral of a table that cannot be read.
    pub(crate) fn credentials(
        &self,
        queue_id: &str,
        sender: &str,
        server_host: &str,
        nexthop: &str,
        namaddr: &str,
    ) -> Result<Option<Login>, Verdict> {
        let mut keys: Vec<String> = Vec::new();
        if self.sender_dependent && !sender.is_empty() {
            keys.push(sender.to_string());
            if let Some((_, domain)) = sender.rsplit_once('@') {
                keys.push(format!("@{domain}"));
            }
        }
        keys.push(server_host.to_string());
        keys.push(nexthop.trim().to_string());
        for key in keys {
            match self.password_maps.find(&key) {
                Ok(Some(value)) => {
                    let (username, password) = value.split_once(':').unwrap_or((&value, ""));
                    return Ok(Some(Login {
                        username: username.to_string(),
                        password: password.to_string(),
                    }));
                }
                Ok(None) => {}
                Err(_) => {
                    gatepost_log::warning(
                        "smtp",
                        format!(
                            "{queue_id}: {} lookup error",
                            params::SMTP_SASL_PASSWORD_MAPS.name()
                        ),
                    );
                    return Err(Verdict::deferred(
                        "4.3.0",
                        format!("local data error while talking to {namaddr}"),
                    ));
                }
            }
        }
        Ok(None)
    }

    /// The server's mechanisms that `smtp_sasl_mechanism_filter` keeps.
    pub(crate) fn filter(&self, offered: &[String]) -> Vec<String> {
        if self.mechanism_filter.is_empty() {
            return offered.to_vec();
        }
        offered
            .iter()
            .filter(|mech| {
                self.mechanism_filter
                    .iter()
                    .find_map(|pattern| match pattern.strip_prefix('!') {
                        Some(name) if name.eq_ignore_ascii_case(mech) => Some(false),
                        None if pattern.eq_ignore_ascii_case(mech) => Some(true),
                        _ => None,
                    })
                    .unwrap_or(false)
            })
            .cloned()
            .collect()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn failed(text: String) -> Verdict {
    Verdict::deferred("4.7.0", text)
}

/// Log in to the server. `mechanisms` is the filtered list the server
/// offered (not empty). `Ok(Err(verdict))`: the login failed.
pub(crate) async fn authenticate(
    conn: &mut Conn,
    target: &Target,
    settings: &SaslSettings,
    login: &Login,
    mechanisms: &[String],
    security: Security,
    timeout: std::time::Duration,
) -> Result<Result<(), Verdict>, Broken> {
    let namaddr = target.namaddr();
    let allowed = settings.plaintext_ok[security as usize];
    let offered = |name: &str| mechanisms.iter().any(|m| m.eq_ignore_ascii_case(name));
    let stage = "performing the AUTH handshake";
    let (first, mut answers): (String, Vec<Vec<u8>>) = if allowed && offered("PLAIN") {
        let mut response = vec![0u8];
        response.extend_from_slice(login.username.as_bytes());
        response.push(0);
        response.extend_from_slice(login.password.as_bytes());
        let initial = b64(&response);
        // RFC 4954: no initial response that would make the line too long.
        if initial.len() + "AUTH PLAIN ".len() + 2 <= 512 {
            (format!("AUTH PLAIN {initial}"), Vec::new())
        } else {
            ("AUTH PLAIN".to_string(), vec![response])
        }
    } else if allowed && offered("LOGIN") {
        (
            "AUTH LOGIN".to_string(),
            vec![
                login.username.as_bytes().to_vec(),
                login.password.as_bytes().to_vec(),
            ],
        )
    } else {
        // Cyrus SASL's complaint, which Postfix logs.
        gatepost_log::warning("smtp", "SASL authentication failure: No worthy mechs found");
        return Ok(Err(failed(format!(
            "SASL authentication failed; cannot authenticate to server {namaddr}: no mechanism available"
        ))));
    };
    answers.reverse();
    let mut reply = conn.command(&first, timeout, stage).await?;
    let mut steps = 0;
    while reply.class() == 3 {
        steps += 1;
        let Some(answer) = answers.pop().filter(|_| steps <= 100) else {
            // The server asks more than the mechanism has to say.
            let _ = conn.command("*", timeout, stage).await?;
            return Ok(Err(Verdict::deferred(
                "4.3.0",
                format!(
                    "SASL authentication failed; authentication protocol loop with server {namaddr}"
                ),
            )));
        };
        reply = conn.command(&b64(&answer), timeout, stage).await?;
    }
    if reply.class() == 2 {
        return Ok(Ok(()));
    }
    let mut dsn = reply.dsn.clone();
    if settings.soft_bounce && dsn.starts_with('5') {
        dsn.replace_range(..1, "4");
    }
    let text = format!(
        "SASL authentication failed; server {namaddr} said: {}",
        gatepost_log::sanitize(&reply.text())
    );
    Ok(Err(if dsn.starts_with('5') {
        Verdict::bounced(&dsn, text)
    } else {
        Verdict::deferred(&dsn, text)
    }))
}

/// RFC 3461 xtext, for the `AUTH=` parameter of MAIL FROM.
pub(crate) fn xtext(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(main_cf: &str) -> SaslSettings {
        let cfg = Config::parse_main_cf(main_cf, "main.cf").expect("main.cf");
        SaslSettings::from_config(&cfg).expect("settings")
    }

    #[test]
    fn password_lookup_order() {
        let s = settings(
            "smtp_sasl_auth_enable = yes\n\
             smtp_sasl_password_maps = inline:{ {[relay.test]:587 = dest:pw1}, {relay.test = host:pw2}, \
             {alice@spec.test = alice:pw3}, {@other.test = other:pw4} }\n",
        );
        let user = |sender: &str, host: &str, nexthop: &str| {
            s.credentials("Q1", sender, host, nexthop, "h[a]")
                .ok()
                .unwrap()
                .map(|l| l.username)
        };
        assert_eq!(
            user("alice@spec.test", "relay.test", "[relay.test]:587").as_deref(),
            Some("host")
        );
        assert_eq!(
            user("alice@spec.test", "x.test", "[relay.test]:587").as_deref(),
            Some("dest")
        );
        assert_eq!(user("", "x.test", "y.test"), None);
        let s = settings(
            "smtp_sasl_auth_enable = yes\nsmtp_sender_dependent_authentication = yes\n\
             smtp_sasl_password_maps = inline:{ {relay.test = host:pw2}, \
             {alice@spec.test = alice:pw3}, {@other.test = other:pw4} }\n",
        );
        let user = |sender: &str| {
            s.credentials("Q1", sender, "relay.test", "relay.test", "h[a]")
                .ok()
                .unwrap()
                .map(|l| l.username)
        };
        assert_eq!(user("alice@spec.test").as_deref(), Some("alice"));
        assert_eq!(user("bob@other.test").as_deref(), Some("other"));
        assert_eq!(user("bob@spec.test").as_deref(), Some("host"));
    }

    #[test]
    fn security_options_and_filter() {
        let s = settings("");
        assert_eq!(s.plaintext_ok, [false, false, false]);
        let s = settings(
            "smtp_sasl_security_options = noanonymous\nsmtp_sasl_tls_verified_security_options = noplaintext\n\
             smtp_sasl_mechanism_filter = !login, plain, cram-md5\n",
        );
        assert_eq!(s.plaintext_ok, [true, true, false]);
        let offered: Vec<String> = ["LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(s.filter(&offered), ["PLAIN", "CRAM-MD5"]);
        assert!(SaslSettings::from_config(
            &Config::parse_main_cf("smtp_sasl_security_options = bogus\n", "main.cf").unwrap()
        )
        .is_err());
        assert!(SaslSettings::from_config(
            &Config::parse_main_cf("smtp_sasl_auth_enable = yes\n", "main.cf").unwrap()
        )
        .is_err());
    }

    #[test]
    fn xtext_encoding() {
        assert_eq!(xtext("alice@spec.test"), "alice@spec.test");
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
    }
}
