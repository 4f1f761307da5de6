//! `inet_protocols` (postconf(5)): the address families the server listens
//! on and the SMTP/LMTP client looks up and connects to: `all` (IPv4 and
//! IPv6), `ipv4`, `ipv6`, or a list of them. An unknown name is Postfix's
//! fatal `unknown inet_protocols value "X" in "LIST"`.

use std::net::IpAddr;

use crate::config::Config;
use crate::error::ConfigError;
use crate::registry::INET_PROTOCOLS;

/// The address families in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetProtocols {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Default for InetProtocols {
    /// `all`.
    fn default() -> InetProtocols {
        InetProtocols {
            ipv4: true,
            ipv6: true,
        }
    }
}

impl InetProtocols {
    /// Parse a list of protocol names (case-insensitive, as name_mask()).
    pub fn parse(items: &[String]) -> Result<InetProtocols, String> {
        let mut out = InetProtocols {
            ipv4: false,
            ipv6: false,
        };
        for item in items {
            match item.to_ascii_lowercase().as_str() {
                "all" => {
                    out.ipv4 = true;
                    out.ipv6 = true;
                }
                "ipv4" => out.ipv4 = true,
                "ipv6" => out.ipv6 = true,
                _ => {
                    return Err(format!(
                        "unknown {} value \"{item}\" in \"{}\"",
                        INET_PROTOCOLS.name(),
                        items.join(", ")
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Whether `addr` belongs to an enabled family.
    pub fn allows(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6,
        }
    }
}

impl Config {
    /// `inet_protocols`, interpreted.
    pub fn inet_protocols(&self) -> Result<InetProtocols, ConfigError> {
        InetProtocols::parse(&self.get(&INET_PROTOCOLS)).map_err(|why| ConfigError::BadValue {
            location: self.location(INET_PROTOCOLS.name()),
            name: INET_PROTOCOLS.name().to_string(),
            value: self.expanded(INET_PROTOCOLS.name()),
            why,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<InetProtocols, String> {
        let items: Vec<String> = crate::list::split_list(text);
        InetProtocols::parse(&items)
    }

    #[test]
    fn values() {
        let both = InetProtocols::default();
        assert_eq!(parse("all"), Ok(both));
        assert_eq!(parse("ipv4, ipv6"), Ok(both));
        assert_eq!(
            parse("IPv4"),
            Ok(InetProtocols {
                ipv4: true,
                ipv6: false
            })
        );
        let v6 = parse("ipv6").unwrap();
        assert!(v6.allows(&"::1".parse().unwrap()));
        assert!(!v6.allows(&"127.0.0.1".parse().unwrap()));
        assert_eq!(
            parse("ipv5"),
            Err("unknown inet_protocols value \"ipv5\" in \"ipv5\"".to_string())
        );
    }
}
