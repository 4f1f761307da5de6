//! Client name resolution at connect, as Postfix's smtpd does it
//! (`smtpd_peer.c`): the reverse (PTR) name, then a forward lookup of that
//! name that must list the client address again; otherwise the verified
//! name is `unknown` and a warning says why. Done by the service's
//! resolver (its `dns_nameservers`, bounded timeouts, shared cache), which
//! also remembers whether a failure was temporary or
//! permanent (`gatepost_dns::PeerStatus`) for `reject_unknown_client_hostname`.

use std::net::IpAddr;

use gatepost_dns::{PeerName, Resolver};

/// The client's names and lookup statuses, looked up with `resolver`.
pub async fn lookup_client(resolver: &Resolver, addr: IpAddr) -> PeerName {
    resolver.with_program("smtpd").peer_name(addr).await
}
