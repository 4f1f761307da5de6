//! Client name resolution at connect, as Postfix's `smtpd_peer.c` does it
//! (docs/dns.md#client-names): the reverse (PTR) name, then a forward
//! lookup of that name that must list the client address again. The
//! outcome keeps the unverified reverse name (for
//! `reject_unknown_reverse_client_hostname`) and tells a temporary failure
//! (450 always) from a permanent one or a mismatch ("forged",
//! `unknown_client_reject_code`). Results are also remembered per address
//! for a while ([`Resolver::recent_peer`]) so that later checks can ask.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::outcome::DnsResult;
use crate::resolver::Resolver;
use gatepost_proto::hostname::{check_hostname, valid_hostaddr};

/// How long a client-name result is remembered.
pub const PEER_MEMORY: Duration = Duration::from_secs(3600);
/// Most client-name results remembered at once.
const PEER_ENTRIES: usize = 10_000;

/// Postfix's `SMTPD_PEER_CODE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerStatus {
    Ok,
    /// Temporary lookup failure (SERVFAIL, timeout).
    Temp,
    /// Permanent failure (no PTR, bad name).
    Perm,
    /// The forward lookup does not lead back to the address.
    Forged,
}

/// The client's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerName {
    /// Verified name, or `unknown`.
    pub name: String,
    pub name_status: PeerStatus,
    /// Unverified reverse name, or `unknown`.
    pub reverse_name: String,
    pub reverse_status: PeerStatus,
}

/// The client name when nothing is known.
pub const UNKNOWN: &str = "unknown";

impl PeerName {
    fn unknown(status: PeerStatus) -> PeerName {
        PeerName {
            name: UNKNOWN.to_string(),
            name_status: status,
            reverse_name: UNKNOWN.to_string(),
            reverse_status: status,
        }
    }
}

fn gai_text<T>(r: &DnsResult<T>) -> &'static str {
    match r {
        DnsResult::TempFail(_) => "Temporary failure in name resolution",
        DnsResult::NoData(_) => "No address associated with hostname",
        DnsResult::Fail(_) => "Non-recoverable failure in name resolution",
        _ => "Name or service not known",
    }
}

impl Resolver {
    /// Look up the client's names and remember the result. Warnings are
    /// logged as this handle's program (`smtpd`).
    pub async fn peer_name(&self, addr: IpAddr) -> PeerName {
        let peer = self.resolve_peer(addr).await;
        let mut peers = match self.inner.peers.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        if peers.len() >= PEER_ENTRIES {
            peers.retain(|_, (_, t)| now.duration_since(*t) < PEER_MEMORY);
            if peers.len() >= PEER_ENTRIES {
                peers.clear();
            }
        }
        peers.insert(addr, (peer.clone(), now));
        peer
    }

    /// The result of the latest [`Resolver::peer_name`] for `addr`, if it
    /// is recent.
    pub fn recent_peer(&self, addr: IpAddr) -> Option<PeerName> {
        let peers = match self.inner.peers.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        peers
            .get(&addr)
            .filter(|(_, t)| t.elapsed() < PEER_MEMORY)
            .map(|(p, _)| p.clone())
    }

    async fn resolve_peer(&self, addr: IpAddr) -> PeerName {
        let program = self.program();
        let reverse = match self.ptr(addr).await {
            DnsResult::Found(names) => names.into_iter().next(),
            DnsResult::TempFail(_) => return PeerName::unknown(PeerStatus::Temp),
            _ => None,
        };
        let Some(name) = reverse else {
            return PeerName::unknown(PeerStatus::Perm);
        };
        if valid_hostaddr(&name) {
            gatepost_log::warning(program, format!("numeric hostname: {name}"));
            return PeerName::unknown(PeerStatus::Perm);
        }
        if let Err(why) = check_hostname(&name) {
            gatepost_log::warning(program, why);
            return PeerName::unknown(PeerStatus::Perm);
        }
        let forward = match addr {
            IpAddr::V4(_) => self
                .a_host_lookup(&name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V4).collect::<Vec<_>>()),
            IpAddr::V6(_) => self
                .aaaa_host_lookup(&name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V6).collect::<Vec<_>>()),
        };
        let mut peer = PeerName {
            name: name.clone(),
            name_status: PeerStatus::Ok,
            reverse_name: name.clone(),
            reverse_status: PeerStatus::Ok,
        };
        let verdict = match &forward {
            DnsResult::Found(addrs) if addrs.contains(&addr) => None,
            DnsResult::Found(_) => Some((
                format!("hostname {name} does not resolve to address {addr}"),
                PeerStatus::Forged,
            )),
            other => Some((
                format!(
                    "hostname {name} does not resolve to address {addr}: {}",
                    gai_text(other)
                ),
                if matches!(other, DnsResult::TempFail(_)) {
                    PeerStatus::Temp
                } else {
                    PeerStatus::Forged
                },
            )),
        };
        if let Some((warning, status)) = verdict {
            gatepost_log::warning(program, warning);
            peer.name = UNKNOWN.to_string();
            peer.name_status = status;
        }
        peer
    }
}
