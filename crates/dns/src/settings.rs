//! Resolver settings from `main.cf` (gatepost-only parameters):
//! `dns_nameservers` (list of `ip`, `ip:port` or `[ipv6]:port`; empty =
//! the name servers of `/etc/resolv.conf`), `/etc/hosts` being consulted
//! first for A/AAAA/PTR either way (like the system resolver's `files`
//! source, so `localhost` never costs a query),
//! `dns_query_timeout` (per query and server, at least 1s) and
//! `dns_query_attempts` (rounds over all servers, 1 to 5; both ranges are
//! enforced when the configuration is loaded). A lookup therefore never
//! takes longer than timeout × attempts × servers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use gatepost_config::{params, Config};

/// At most this many name servers are used (as `MAXNS` in libresolv).
pub const MAX_NAMESERVERS: usize = 3;

/// Where and how to ask.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolverSettings {
    /// Explicit servers; empty means "read /etc/resolv.conf".
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: u32,
    /// Answer client-name lookups (PTR and its forward confirmation) from
    /// `/etc/hosts` before asking DNS, as the system resolver Postfix's
    /// smtpd uses for them does. Restriction checks and MX/A lookups for
    /// delivery always use DNS only.
    pub use_hosts_file: bool,
}

impl Default for ResolverSettings {
    /// The system's name servers with the registry defaults.
    fn default() -> Self {
        let defaults = Config::defaults();
        ResolverSettings {
            nameservers: Vec::new(),
            timeout: defaults.get(&params::DNS_QUERY_TIMEOUT),
            attempts: defaults.get(&params::DNS_QUERY_ATTEMPTS),
            use_hosts_file: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("dns_nameservers: bad name server address \"{0}\": need ip or ip:port")]
    BadServer(String),
}

/// Parse one `dns_nameservers` item.
pub fn parse_server(item: &str) -> Result<SocketAddr, SettingsError> {
    let bad = || SettingsError::BadServer(item.to_string());
    if let Ok(ip) = item.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    if let Some(inner) = item.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner
            .parse::<IpAddr>()
            .map(|ip| SocketAddr::new(ip, 53))
            .map_err(|_| bad());
    }
    item.parse::<SocketAddr>().map_err(|_| bad())
}

impl ResolverSettings {
    /// Read the settings; a bad server address is an error (the caller
    /// logs it and the resolver then fails every lookup, like Postfix's
    /// "Name service initialization failure").
    pub fn from_config(cfg: &Config) -> Result<ResolverSettings, SettingsError> {
        let nameservers = cfg
            .get(&params::DNS_NAMESERVERS)
            .iter()
            .map(|s| parse_server(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ResolverSettings {
            use_hosts_file: true,
            nameservers,
            timeout: cfg.get(&params::DNS_QUERY_TIMEOUT),
            attempts: cfg.get(&params::DNS_QUERY_ATTEMPTS),
        })
    }
}

/// The name servers of the system configuration (`/etc/resolv.conf`).
pub fn system_nameservers() -> Result<Vec<SocketAddr>, String> {
    let (config, _opts) =
        hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string())?;
    let mut out: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        if !out.contains(&ns.socket_addr) {
            out.push(ns.socket_addr);
        }
    }
    out.truncate(MAX_NAMESERVERS);
    if out.is_empty() {
        return Err("no name servers in /etc/resolv.conf".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_items() {
        let cases: &[(&str, Option<&str>)] = &[
            ("127.0.0.1", Some("127.0.0.1:53")),
            ("127.0.0.1:5353", Some("127.0.0.1:5353")),
            ("::1", Some("[::1]:53")),
            ("[::1]", Some("[::1]:53")),
            ("[::1]:5353", Some("[::1]:5353")),
            ("localhost", None),
            ("127.0.0.1:x", None),
        ];
        for (item, want) in cases {
            let got = parse_server(item).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), *want, "{item}");
        }
    }
}
