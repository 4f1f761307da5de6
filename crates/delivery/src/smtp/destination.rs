//! Parsing a next-hop destination as Postfix's `smtp_parse_destination()`
//! and `host_port()` do: `[host]:port` and `[host]` (no MX lookup),
//! `host:port` and `host` (MX lookup, then A/AAAA), `[ipv6:addr]` and bare
//! IPv6 literals inside brackets. The port is a number or a service name
//! (`smtp` = 25, `submission` = 587, `lmtp` = 24); the default is
//! `smtp_tcp_port`.

use std::fmt;

/// A parsed next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    /// Host or domain name, or an address literal, without brackets.
    pub host: String,
    pub port: u16,
    /// Written in brackets: skip the MX lookup.
    pub literal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DestinationError {
    #[error("missing \"]\" in server description: {0}")]
    MissingBracket(String),
    #[error("empty host name in server description: {0}")]
    EmptyHost(String),
    #[error("bad network port: {port} for destination: {dest}")]
    BadPort { port: String, dest: String },
}

/// Well-known TCP services (Postfix `filter_known_tcp_port` plus the
/// services file entries used for mail).
fn service_port(service: &str) -> Option<u16> {
    if !service.is_empty() && service.bytes().all(|b| b.is_ascii_digit()) {
        return service.parse().ok().filter(|p| *p != 0);
    }
    match service.to_ascii_lowercase().as_str() {
        "smtp" => Some(25),
        "lmtp" => Some(24),
        "submission" => Some(587),
        "submissions" | "smtps" => Some(465),
        _ => None,
    }
}

/// The port for `smtp_tcp_port` (a number or service name).
pub(crate) fn default_port(service: &str) -> Option<u16> {
    service_port(service.trim())
}

impl Destination {
    /// Parse `nexthop`, using `default_port` when it names no port.
    pub(crate) fn parse(nexthop: &str, default_port: u16) -> Result<Destination, DestinationError> {
        let dest = nexthop.trim();
        let (host, literal, rest) = if let Some(inner) = dest.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| DestinationError::MissingBracket(dest.to_string()))?;
            (&inner[..end], true, &inner[end + 1..])
        } else {
            match dest.rfind(':') {
                // A bare IPv6 address has several colons: no port then.
                Some(pos) if dest[..pos].contains(':') => (dest, false, ""),
                Some(pos) => (&dest[..pos], false, &dest[pos..]),
                None => (dest, false, ""),
            }
        };
        let port = match rest.strip_prefix(':') {
            Some(service) => service_port(service).ok_or_else(|| DestinationError::BadPort {
                port: service.to_string(),
                dest: dest.to_string(),
            })?,
            None if rest.is_empty() => default_port,
            None => {
                return Err(DestinationError::MissingBracket(dest.to_string()));
            }
        };
        let host = host
            .strip_prefix("ipv6:")
            .or_else(|| host.strip_prefix("IPv6:"))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(DestinationError::EmptyHost(dest.to_string()));
        }
        Ok(Destination {
            host: host.to_string(),
            port,
            literal,
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.literal {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let ok = |host: &str, port: u16, literal: bool| {
            Ok(Destination {
                host: host.to_string(),
                port,
                literal,
            })
        };
        let cases = [
            ("example.com", ok("example.com", 25, false)),
            ("example.com:2525", ok("example.com", 2525, false)),
            ("[mx.example.com]", ok("mx.example.com", 25, true)),
            ("[127.0.0.2]:2525", ok("127.0.0.2", 2525, true)),
            ("[127.0.0.2]:submission", ok("127.0.0.2", 587, true)),
            ("[ipv6:::1]:26", ok("::1", 26, true)),
            ("[::1]", ok("::1", 25, true)),
            (" relay.example:smtp ", ok("relay.example", 25, false)),
            (
                "[127.0.0.2",
                Err(DestinationError::MissingBracket("[127.0.0.2".into())),
            ),
            (
                "host:0",
                Err(DestinationError::BadPort {
                    port: "0".into(),
                    dest: "host:0".into(),
                }),
            ),
            (
                "host:nosuchservice",
                Err(DestinationError::BadPort {
                    port: "nosuchservice".into(),
                    dest: "host:nosuchservice".into(),
                }),
            ),
            ("[]:25", Err(DestinationError::EmptyHost("[]:25".into()))),
        ];
        for (input, want) in cases {
            assert_eq!(Destination::parse(input, 25), want, "{input}");
        }
    }

    #[test]
    fn default_port_names() {
        assert_eq!(default_port("smtp"), Some(25));
        assert_eq!(default_port("2525"), Some(2525));
        assert_eq!(default_port("bogus"), None);
        assert_eq!(
            Destination::parse("[127.0.0.2]", 2526).map(|d| d.to_string()),
            Ok("[127.0.0.2]:2526".to_string())
        );
    }
}
