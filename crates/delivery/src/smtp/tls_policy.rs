//! The SMTP client's TLS policy for one next hop (postconf(5)
//! `smtp_tls_security_level`, `smtp_tls_policy_maps`; Postfix
//! `smtp_tls_policy.c`): the global level (empty: the legacy
//! `smtp_enforce_tls` / `smtp_use_tls`), overridden by the first
//! `smtp_tls_policy_maps` entry found for the next hop as written
//! (`[host]:port`, `[host]`, `domain`), then, for a domain, for each parent
//! domain as `.parent`. A policy is a level and attributes: `match=`
//! (names separated by `:`, levels `verify` and `secure`) and
//! `protocols=`; other Postfix attributes (`ciphers=`, `exclude=`,
//! `servername=`, `tafile=`, `connection_reuse=`) are accepted and
//! ignored. A malformed policy, or a level gatepost lacks (`dane`,
//! `dane-only`, `fingerprint`), logs Postfix's warning and defers the
//! mail with `4.7.5 client TLS configuration problem`.
//!
//! Match names (`smtp_tls_verify_cert_match`, default `hostname`;
//! `smtp_tls_secure_cert_match`, default `nexthop, dot-nexthop`):
//! `hostname` is the server's name (the MX host), `nexthop` the next-hop
//! domain, `dot-nexthop` any name below it, `.domain` any name below
//! `domain`, anything else that name. Protocols: `smtp_tls_protocols` at
//! `may`, `smtp_tls_mandatory_protocols` above.

use gatepost_config::{params, Config};
use gatepost_table::{open_table, MapList};
use gatepost_tls::{MatchName, ProtocolFloor, TlsConnector, TrustAnchors};

use crate::smtp::destination::Destination;
use crate::verdict::Verdict;
use crate::DeliveryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsLevel {
    None,
    May,
    Encrypt,
    Verify,
    Secure,
}

impl TlsLevel {
    /// A level name; `Err(true)` for a Postfix level gatepost lacks.
    fn parse(name: &str) -> Result<TlsLevel, bool> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Ok(TlsLevel::None),
            "may" => Ok(TlsLevel::May),
            "encrypt" => Ok(TlsLevel::Encrypt),
            "verify" => Ok(TlsLevel::Verify),
            "secure" => Ok(TlsLevel::Secure),
            "dane" | "dane-only" | "fingerprint" => Err(true),
            _ => Err(false),
        }
    }

    /// Names must match the certificate (Postfix `TLS_MUST_MATCH`).
    pub(crate) fn must_match(self) -> bool {
        self >= TlsLevel::Verify
    }
}

/// The client's TLS settings, read once.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    level: TlsLevel,
    pub loglevel: i64,
    anchors: TrustAnchors,
    verify_match: Vec<String>,
    secure_match: Vec<String>,
    /// Connectors for `smtp_tls_protocols` and `smtp_tls_mandatory_protocols`.
    opportunistic: TlsConnector,
    mandatory: TlsConnector,
    policy_maps: MapList,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("level", &self.level)
            .field("loglevel", &self.loglevel)
            .finish_non_exhaustive()
    }
}

/// What one next hop gets.
#[derive(Clone)]
pub(crate) struct DestPolicy {
    pub level: TlsLevel,
    /// Names to match (resolved per server: `hostname` needs the server).
    matches: Vec<String>,
    /// Present unless the level is `none`.
    pub connector: Option<TlsConnector>,
    pub anchors: TrustAnchors,
    pub loglevel: i64,
}

fn connector(floor: ProtocolFloor) -> Result<TlsConnector, DeliveryError> {
    gatepost_tls::client_config(floor)
        .map(TlsConnector::from)
        .map_err(|e| DeliveryError::Config(format!("SMTP client TLS: {e}")))
}

fn floor_of(value: &[String], name: &str) -> Result<ProtocolFloor, DeliveryError> {
    gatepost_tls::parse_protocols(&value.join(" "), name)
        .map_err(|e| DeliveryError::Config(e.to_string()))
}

impl TlsSettings {
    pub(crate) fn from_config(cfg: &Config) -> Result<TlsSettings, DeliveryError> {
        let raw = cfg.get(&params::SMTP_TLS_SECURITY_LEVEL);
        let level = match raw.trim() {
            "" if cfg.get(&params::SMTP_ENFORCE_TLS) => TlsLevel::Encrypt,
            "" if cfg.get(&params::SMTP_USE_TLS) => TlsLevel::May,
            "" => TlsLevel::None,
            name => match TlsLevel::parse(name) {
                Ok(level) => level,
                // Refused at start-up unless the operator accepted it
                // (fail-closed table): without TLSA records Postfix's
                // `dane` is `may`; the others require a verified server.
                Err(true) if name.eq_ignore_ascii_case("dane") => TlsLevel::May,
                Err(true) => TlsLevel::Secure,
                Err(false) => {
                    return Err(DeliveryError::Config(format!(
                        "{}: unknown TLS security level: {name}",
                        params::SMTP_TLS_SECURITY_LEVEL.name()
                    )))
                }
            },
        };
        let anchors = match TrustAnchors::load(
            &cfg.get(&params::SMTP_TLS_CAFILE),
            &cfg.get(&params::SMTP_TLS_CAPATH),
            cfg.get(&params::TLS_APPEND_DEFAULT_CA),
        ) {
            Ok(a) => a,
            Err(e) => {
                // Nothing is trusted: verified levels defer, as in Postfix
                // when the CA certificates cannot be loaded.
                gatepost_log::warning("smtp", format!("TLS library problem: {e}"));
                TrustAnchors::none()
            }
        };
        let opportunistic = floor_of(
            &cfg.get(&params::SMTP_TLS_PROTOCOLS),
            params::SMTP_TLS_PROTOCOLS.name(),
        )?;
        let mandatory = floor_of(
            &cfg.get(&params::SMTP_TLS_MANDATORY_PROTOCOLS),
            params::SMTP_TLS_MANDATORY_PROTOCOLS.name(),
        )?;
        let maps = params::SMTP_TLS_POLICY_MAPS;
        Ok(TlsSettings {
            level,
            loglevel: cfg.get(&params::SMTP_TLS_LOGLEVEL),
            anchors,
            verify_match: cfg.get(&params::SMTP_TLS_VERIFY_CERT_MATCH),
            secure_match: cfg.get(&params::SMTP_TLS_SECURE_CERT_MATCH),
            opportunistic: connector(opportunistic)?,
            mandatory: connector(mandatory)?,
            policy_maps: MapList::open("smtp", maps.name(), &cfg.get(&maps), open_table),
        })
    }

    /// The policy for `nexthop` (as written in the transport or
    /// `relayhost`), or the deferral of a broken policy.
    pub(crate) fn for_nexthop(&self, nexthop: &str) -> Result<DestPolicy, Verdict> {
        let mut policy = DestPolicy {
            level: self.level,
            matches: Vec::new(),
            connector: None,
            anchors: self.anchors.clone(),
            loglevel: self.loglevel,
        };
        let mut protocols = None;
        if let Some((key, value)) = self.lookup(nexthop)? {
            let site = parse_policy(&value, &key)?;
            policy.level = site.level;
            policy.matches = site.matches;
            protocols = site.protocols;
        }
        if policy.matches.is_empty() {
            policy.matches = match policy.level {
                TlsLevel::Verify => self.verify_match.clone(),
                TlsLevel::Secure => self.secure_match.clone(),
                _ => Vec::new(),
            };
        }
        policy.connector = match (policy.level, protocols) {
            (TlsLevel::None, _) => None,
            (_, Some(floor)) => Some(connector(floor).map_err(|e| {
                gatepost_log::warning("smtp", e.to_string());
                config_problem()
            })?),
            (TlsLevel::May, None) => Some(self.opportunistic.clone()),
            (_, None) => Some(self.mandatory.clone()),
        };
        Ok(policy)
    }

    /// Postfix's lookup order: the next hop as written; for a domain,
    /// then each parent as `.parent`. Returns the key that matched.
    fn lookup(&self, nexthop: &str) -> Result<Option<(String, String)>, Verdict> {
        if self.policy_maps.is_empty() {
            return Ok(None);
        }
        let nexthop = nexthop.trim();
        let mut keys = vec![nexthop.to_string()];
        let is_domain = !nexthop.contains(['[', ':']);
        if is_domain {
            let mut rest = nexthop;
            while let Some(pos) = rest[1..].find('.') {
                rest = &rest[pos + 1..];
                keys.push(rest.to_string());
            }
        }
        for key in keys {
            match self.policy_maps.find(&key) {
                Ok(Some(value)) => return Ok(Some((key, value))),
                Ok(None) => {}
                Err(_) => {
                    gatepost_log::warning(
                        "smtp",
                        format!(
                            "{}, next-hop destination \"{key}\": policy table lookup error",
                            params::SMTP_TLS_POLICY_MAPS.name()
                        ),
                    );
                    return Err(config_problem());
                }
            }
        }
        Ok(None)
    }
}

impl DestPolicy {
    /// The names the certificate of `server_host` must carry, for next hop
    /// `dest`.
    pub(crate) fn match_names(&self, dest: &Destination, server_host: &str) -> Vec<MatchName> {
        self.matches
            .iter()
            .filter_map(|name| match name.to_ascii_lowercase().as_str() {
                "hostname" => Some(MatchName::Exact(server_host.to_string())),
                "nexthop" => Some(MatchName::Exact(dest.host.clone())),
                "dot-nexthop" => Some(MatchName::Below(dest.host.clone())),
                _ => match name.strip_prefix('.') {
                    Some("") => None,
                    Some(domain) => Some(MatchName::Below(domain.to_string())),
                    None => Some(MatchName::Exact(name.clone())),
                },
            })
            .collect()
    }
}

fn config_problem() -> Verdict {
    Verdict::deferred("4.7.5", "client TLS configuration problem")
}

/// One `smtp_tls_policy_maps` value.
struct SitePolicy {
    level: TlsLevel,
    matches: Vec<String>,
    protocols: Option<ProtocolFloor>,
}

fn parse_policy(value: &str, key: &str) -> Result<SitePolicy, Verdict> {
    let title = params::SMTP_TLS_POLICY_MAPS.name();
    let invalid = |why: String| {
        gatepost_log::warning(
            "smtp",
            format!("{title}, next-hop destination \"{key}\": {why}"),
        );
        config_problem()
    };
    let mut words = value
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return Err(invalid("invalid empty policy".to_string()));
    };
    let level = match TlsLevel::parse(first) {
        Ok(level) => level,
        Err(true) => {
            return Err(invalid(format!(
                "security level \"{first}\" is not implemented by gatepost"
            )))
        }
        Err(false) => return Err(invalid(format!("invalid security level \"{first}\""))),
    };
    let mut site = SitePolicy {
        level,
        matches: Vec::new(),
        protocols: None,
    };
    if level == TlsLevel::None {
        for word in words {
            gatepost_log::warning(
                "smtp",
                format!(
                    "{title}, next-hop destination \"{key}\": ignoring attribute \"{word}\" with TLS disabled"
                ),
            );
        }
        return Ok(site);
    }
    for word in words {
        let Some((name, val)) = word.split_once('=') else {
            return Err(invalid(format!(
                "malformed attribute/value pair \"{word}\": missing '=' after attribute name"
            )));
        };
        match name.to_ascii_lowercase().as_str() {
            "match" => {
                if val.is_empty() {
                    return Err(invalid(format!("attribute \"{name}\" has empty value")));
                }
                if !level.must_match() {
                    return Err(invalid(format!(
                        "attribute \"{name}\" invalid at security level \"{}\"",
                        first.to_ascii_lowercase()
                    )));
                }
                site.matches
                    .extend(val.split(':').filter(|n| !n.is_empty()).map(str::to_string));
            }
            "protocols" => {
                if site.protocols.is_some() {
                    return Err(invalid(format!(
                        "attribute \"{name}\" is specified multiple times"
                    )));
                }
                let floor = gatepost_tls::parse_protocols(&val.replace(':', " "), title)
                    .map_err(|e| invalid(e.to_string()))?;
                site.protocols = Some(floor);
            }
            "ciphers" | "exclude" | "servername" | "tafile" | "connection_reuse" => {}
            _ => return Err(invalid(format!("invalid attribute name: \"{name}\""))),
        }
    }
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(main_cf: &str) -> TlsSettings {
        let cfg = Config::parse_main_cf(main_cf, "main.cf").expect("main.cf");
        TlsSettings::from_config(&cfg).expect("settings")
    }

    #[test]
    fn global_level_and_legacy_switches() {
        for (main_cf, level) in [
            ("", TlsLevel::None),
            ("smtp_use_tls = yes", TlsLevel::May),
            ("smtp_enforce_tls = yes", TlsLevel::Encrypt),
            ("smtp_tls_security_level = Verify", TlsLevel::Verify),
            (
                "smtp_tls_security_level = secure\nsmtp_use_tls = yes",
                TlsLevel::Secure,
            ),
        ] {
            let p = settings(main_cf).for_nexthop("example.com").ok().unwrap();
            assert_eq!(p.level, level, "{main_cf}");
        }
    }

    #[test]
    fn policy_maps_in_postfix_lookup_order() {
        let s = settings(
            "smtp_tls_security_level = may\n\
             smtp_tls_policy_maps = inline:{ {example.com = secure match=mx.example.com:.example.net}, \
             {.example.com = verify}, {[relay.example.org]:587 = encrypt protocols=>=TLSv1.3}, \
             {plain.test = none}, {bad.test = verify match=}, {dane.test = dane-only}, \
             {odd.test = encrypt match=x}, {junk.test = bogus} }\n",
        );
        let p = s.for_nexthop("example.com").ok().unwrap();
        assert_eq!(p.level, TlsLevel::Secure);
        let dest = Destination::parse("example.com", 25).unwrap();
        assert_eq!(
            p.match_names(&dest, "mx1.example.com"),
            [
                MatchName::Exact("mx.example.com".into()),
                MatchName::Below("example.net".into())
            ]
        );
        let p = s.for_nexthop("a.b.example.com").ok().unwrap();
        assert_eq!(p.level, TlsLevel::Verify);
        let dest = Destination::parse("a.b.example.com", 25).unwrap();
        assert_eq!(
            p.match_names(&dest, "mx.a.b.example.com"),
            [MatchName::Exact("mx.a.b.example.com".into())]
        );
        assert_eq!(
            s.for_nexthop("[relay.example.org]:587").ok().unwrap().level,
            TlsLevel::Encrypt
        );
        // Only the next hop as written: no parent lookup for [host].
        assert_eq!(
            s.for_nexthop("[mx.example.com]").ok().unwrap().level,
            TlsLevel::May
        );
        let p = s.for_nexthop("plain.test").ok().unwrap();
        assert_eq!(p.level, TlsLevel::None);
        assert!(p.connector.is_none());
        assert_eq!(
            s.for_nexthop("other.test").ok().unwrap().level,
            TlsLevel::May
        );
        for broken in ["bad.test", "dane.test", "odd.test", "junk.test"] {
            let v = s.for_nexthop(broken).err().unwrap();
            assert_eq!(v.text, "client TLS configuration problem", "{broken}");
        }
        let dest = Destination::parse("example.com", 25).unwrap();
        let p = settings("smtp_tls_security_level = secure\n")
            .for_nexthop("example.com")
            .ok()
            .unwrap();
        assert_eq!(
            p.match_names(&dest, "mx.example.com"),
            [
                MatchName::Exact("example.com".into()),
                MatchName::Below("example.com".into())
            ]
        );
    }
}
