//! LMTP next hops as smtp(8) describes them for LMTP: `unix:PATH` (a
//! Unix-domain socket; a relative path starts at the queue directory, as
//! Postfix's daemons run there), `inet:HOST`, `inet:HOST:PORT`, `HOST`,
//! `HOST:PORT` and `[HOST]:PORT` (TCP, default port `lmtp_tcp_port`). LMTP
//! does no MX lookups: a host name means its own addresses.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::smtp::addr_list::{SocketPath, Target};
use crate::smtp::destination::{Destination, DestinationError};

/// Where an LMTP next hop points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LmtpHop {
    /// A Unix-domain socket; the target's host is `myhostname`, as in
    /// Postfix's `relay=myhostname[private/dovecot-lmtp]`.
    Unix(Target),
    /// A TCP destination, always looked up without MX.
    Inet(Destination),
}

/// Parse an LMTP next hop.
pub(crate) fn parse(
    nexthop: &str,
    default_port: u16,
    queue_directory: &Path,
    myhostname: &str,
) -> Result<LmtpHop, DestinationError> {
    let hop = nexthop.trim();
    if let Some(path) = hop.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(DestinationError::EmptyHost(hop.to_string()));
        }
        return Ok(LmtpHop::Unix(Target {
            host: myhostname.to_string(),
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            pref: 0,
            socket: Some(SocketPath {
                shown: path.to_string(),
                path: queue_directory.join(path),
            }),
        }));
    }
    let tcp = hop.strip_prefix("inet:").unwrap_or(hop);
    let mut dest = Destination::parse(tcp, default_port)?;
    dest.literal = true;
    Ok(LmtpHop::Inet(dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_hop_forms() {
        let q = Path::new("/var/spool/gatepost");
        let unix = |hop: &str| match parse(hop, 24, q, "mail.example") {
            Ok(LmtpHop::Unix(t)) => (t.relay(), t.socket.map(|s| s.path)),
            other => panic!("{hop}: {other:?}"),
        };
        assert_eq!(
            unix("unix:private/dovecot-lmtp"),
            (
                "mail.example[private/dovecot-lmtp]".to_string(),
                Some(q.join("private/dovecot-lmtp"))
            )
        );
        assert_eq!(
            unix("unix:/run/dovecot/lmtp").1,
            Some(Path::new("/run/dovecot/lmtp").to_path_buf())
        );
        let inet = |hop: &str| match parse(hop, 24, q, "mail.example") {
            Ok(LmtpHop::Inet(d)) => d.to_string(),
            other => panic!("{hop}: {other:?}"),
        };
        assert_eq!(inet("inet:127.0.0.1:2424"), "[127.0.0.1]:2424");
        assert_eq!(inet("inet:imap.example"), "[imap.example]:24");
        assert_eq!(inet("[127.0.0.1]:24"), "[127.0.0.1]:24");
        assert_eq!(inet("imap.example:lmtp"), "[imap.example]:24");
        assert!(parse("unix:", 24, q, "m").is_err());
        assert!(parse("inet:host:nosuch", 24, q, "m").is_err());
    }
}
