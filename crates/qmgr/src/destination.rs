//! Resolving and per-destination scheduling (qmgr(8),
//! docs/queue.md#retries-and-expiry): each pending
//! recipient is resolved once by the address rewriter (trivial-rewrite(8),
//! with `transport_maps`) into its transport, next hop and final address;
//! recipients are grouped by destination (transport + next hop, or
//! transport + recipient when that transport's recipient limit is 1, as
//! Postfix does for `local`), cut into delivery requests of at most
//! `*_destination_recipient_limit` recipients, and each request waits for a
//! slot of its destination (`*_destination_concurrency_limit`), so one
//! slow destination never holds up the others. The delivery agent gets
//! each recipient's resolved destination and does not resolve again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatepost_rewrite::RewriteError;
use tokio::sync::Semaphore;

use crate::agent::{DeliveryOutcome, DeliveryStatus};
use crate::settings::QmgrSettings;

/// Where a recipient's delivery goes: the resolve result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Transport name (`local`, `virtual`, `smtp`, `relay`, `error`, ...).
    pub transport: String,
    /// Next hop (a domain, `[host]:port`, the text of `error:` ...); empty:
    /// the transport's default (the recipient's domain for `smtp`).
    pub nexthop: String,
    /// The final recipient address (internal form) after resolving.
    pub recipient: String,
}

impl Destination {
    /// The next hop for grouping: the given one lower-cased, else the
    /// recipient's domain.
    fn group_nexthop(&self) -> String {
        if self.nexthop.is_empty() {
            domain_of(&self.recipient)
        } else {
            self.nexthop.to_ascii_lowercase()
        }
    }
}

/// One recipient of a delivery request and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedRecipient {
    /// Index into `envelope.recipients`.
    pub index: usize,
    pub destination: Destination,
}

/// Domain part of an address, lower-cased (empty when unqualified).
fn domain_of(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A message with a content filter (`content_filter`, a `FILTER` action):
/// every recipient goes to the filter's `transport:nexthop` (the next hop
/// `$myhostname` when none is given), its address unchanged, as qmgr(8)
/// does.
pub(crate) fn filter_route(
    settings: &QmgrSettings,
    index: usize,
    addr: &str,
    filter: &str,
) -> RoutedRecipient {
    let (transport, nexthop) = filter.split_once(':').unwrap_or((filter, ""));
    let nexthop = if nexthop.is_empty() {
        settings.myhostname.clone()
    } else {
        nexthop.to_string()
    };
    RoutedRecipient {
        index,
        destination: Destination {
            transport: transport.to_string(),
            nexthop,
            recipient: addr.to_string(),
        },
    }
}

/// Resolve recipient `index` (address `addr`): its destination, or the
/// outcome when it cannot be resolved (a temporary resolver or
/// `transport_maps` failure defers, a bad address bounces). Without a
/// rewriter the transport is unknown and the next hop is the domain.
pub(crate) fn resolve(
    settings: &QmgrSettings,
    index: usize,
    addr: &str,
) -> Result<RoutedRecipient, DeliveryOutcome> {
    let Some(rw) = &settings.rewriter else {
        return Ok(RoutedRecipient {
            index,
            destination: Destination {
                transport: String::new(),
                nexthop: String::new(),
                recipient: addr.to_string(),
            },
        });
    };
    let failed = |status, dsn: &str, text: &str| DeliveryOutcome {
        recipient: index,
        status,
        agent: "qmgr".into(),
        relay: "none".into(),
        dsn: dsn.into(),
        text: text.into(),
    };
    match rw.resolve(addr) {
        Ok(r) => Ok(RoutedRecipient {
            index,
            destination: Destination {
                transport: r.transport,
                nexthop: r.nexthop,
                recipient: r.recipient,
            },
        }),
        Err(RewriteError::Temporary(_)) => Err(failed(
            DeliveryStatus::Deferred,
            "4.3.0",
            "address resolver failure",
        )),
        Err(RewriteError::BadAddress(_)) => Err(failed(
            DeliveryStatus::Bounced,
            "5.1.3",
            "bad address syntax",
        )),
        Err(RewriteError::Config(why)) => {
            gatepost_log::warning("qmgr", format!("address resolver: {why}"));
            Err(failed(
                DeliveryStatus::Deferred,
                "4.3.5",
                "mail system configuration error",
            ))
        }
        Err(err @ RewriteError::TransportMaps { .. }) => {
            gatepost_log::warning("qmgr", err.to_string());
            Err(failed(
                DeliveryStatus::Deferred,
                "4.3.0",
                "address resolver failure",
            ))
        }
    }
}

/// One delivery request: recipients for one destination, within the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    /// Concurrency key: (transport, next hop or recipient).
    pub key: (String, String),
    pub concurrency: usize,
    pub recipients: Vec<RoutedRecipient>,
}

/// Group resolved recipients into delivery requests, in first-recipient
/// order; `address` gives a recipient's envelope address (the key when the
/// transport's recipient limit is 1).
pub(crate) fn batches(
    settings: &QmgrSettings,
    routed: Vec<RoutedRecipient>,
    address: impl Fn(usize) -> String,
) -> Vec<Batch> {
    let mut groups: Vec<Batch> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for r in routed {
        let d = &r.destination;
        let (concurrency, rcpt_limit) = settings.limits_for(&d.transport);
        let key = if rcpt_limit == 1 {
            (d.transport.clone(), address(r.index).to_ascii_lowercase())
        } else {
            (d.transport.clone(), d.group_nexthop())
        };
        match index.get(&key) {
            Some(&g) => groups[g].recipients.push(r),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Batch {
                    key,
                    concurrency,
                    recipients: vec![r],
                });
            }
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let (_, limit) = settings.limits_for(&g.key.0);
        for chunk in g.recipients.chunks(limit) {
            out.push(Batch {
                key: g.key.clone(),
                concurrency: g.concurrency,
                recipients: chunk.to_vec(),
            });
        }
    }
    out
}

/// Concurrency slots per destination, shared by all message passes.
#[derive(Debug, Default)]
pub(crate) struct DestinationSlots {
    slots: Mutex<HashMap<(String, String), Arc<Semaphore>>>,
}

impl DestinationSlots {
    /// The semaphore of `key` (created with `limit` permits on first use).
    pub fn get(&self, key: &(String, String), limit: usize) -> Arc<Semaphore> {
        let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(limit.max(1))))
            .clone()
    }

    /// Forget destinations nobody uses any more.
    pub fn prune(&self) {
        let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| Arc::strong_count(s) > 1);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// Destinations that failed at the site level (no connection could be
/// made). Like Postfix's qmgr, which throttles such a destination's queue,
/// their other mail is deferred without an attempt ("delivery temporarily
/// suspended") until `minimal_backoff_time` has passed or a delivery to
/// them succeeds.
#[derive(Debug, Default)]
pub(crate) struct DeadDestinations {
    dead: Mutex<HashMap<(String, String), DeadSite>>,
}

#[derive(Debug, Clone)]
struct DeadSite {
    until: std::time::Instant,
    dsn: String,
    reason: String,
}

impl DeadDestinations {
    /// `(dsn, reason)` when `key` is dead now.
    pub fn check(&self, key: &(String, String)) -> Option<(String, String)> {
        let mut map = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(site) if site.until > std::time::Instant::now() => {
                Some((site.dsn.clone(), site.reason.clone()))
            }
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn mark(&self, key: &(String, String), for_: std::time::Duration, dsn: &str, reason: &str) {
        let mut map = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            key.clone(),
            DeadSite {
                until: std::time::Instant::now() + for_,
                dsn: dsn.to_string(),
                reason: reason.to_string(),
            },
        );
    }

    /// Forget every dead destination (a queue flush).
    pub fn clear_all(&self) {
        let mut map = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        map.clear();
    }

    pub fn clear(&self, key: &(String, String)) {
        let mut map = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

/// Whether a request's outcomes say the site itself was unreachable: every
/// recipient deferred by the SMTP client because no connection could be
/// made (`connect to ...`, DSN 4.4.x).
pub(crate) fn site_failure(outcomes: &[DeliveryOutcome]) -> Option<(String, String)> {
    let first = outcomes.first()?;
    let all = outcomes.iter().all(|o| {
        o.status == DeliveryStatus::Deferred
            && o.agent == "smtp"
            && o.dsn.starts_with("4.4.")
            && o.text.starts_with("connect to ")
    });
    all.then(|| (first.dsn.clone(), first.text.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(index: usize, addr: &str) -> RoutedRecipient {
        let transport = if addr.ends_with("@spec.test") {
            "local"
        } else {
            "smtp"
        };
        RoutedRecipient {
            index,
            destination: Destination {
                transport: transport.into(),
                nexthop: String::new(),
                recipient: addr.to_string(),
            },
        }
    }

    #[test]
    fn grouping_and_limits() {
        let s = QmgrSettings {
            default_destination_recipient_limit: 2,
            ..QmgrSettings::default()
        };
        let addrs = [
            "a@far.example",
            "u@spec.test",
            "b@far.example",
            "c@far.example",
            "v@spec.test",
            "x@other.example",
        ];
        let all = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| routed(i, a))
            .collect();
        let got = batches(&s, all, |i| addrs[i].to_string());
        let want: Vec<(&str, &str, usize, Vec<usize>)> = vec![
            ("smtp", "far.example", 20, vec![0, 2]),
            ("smtp", "far.example", 20, vec![3]),
            ("local", "u@spec.test", 2, vec![1]),
            ("local", "v@spec.test", 2, vec![4]),
            ("smtp", "other.example", 20, vec![5]),
        ];
        let got: Vec<(&str, &str, usize, Vec<usize>)> = got
            .iter()
            .map(|b| {
                (
                    b.key.0.as_str(),
                    b.key.1.as_str(),
                    b.concurrency,
                    b.recipients.iter().map(|r| r.index).collect(),
                )
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn slots_are_shared_and_pruned() {
        let slots = DestinationSlots::default();
        let key = ("smtp".to_string(), "far.example".to_string());
        let a = slots.get(&key, 2);
        let b = slots.get(&key, 2);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.available_permits(), 2);
        drop((a, b));
        slots.prune();
        assert_eq!(slots.len(), 0);
    }

    #[test]
    fn domains() {
        assert_eq!(domain_of("a@Far.Example"), "far.example");
        assert_eq!(domain_of("bare"), "");
    }
}
