//! Per-destination scheduling (docs/queue.md#retries-and-expiry): a message's pending
//! recipients are grouped by destination (transport + next hop, or
//! transport + recipient when that transport's recipient limit is 1, as
//! Postfix does for `local`), cut into delivery requests of at most
//! `*_destination_recipient_limit` recipients, and each request waits for a
//! slot of its destination (`*_destination_concurrency_limit`), so one
//! slow destination never holds up the others.
//!
//! The destination comes from the delivery agent when it knows it
//! (`DeliveryAgent::destination`), else from the address rewriter's
//! resolve, else from the recipient's domain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::agent::{DeliveryAgent, QueuedMessage};
use crate::settings::QmgrSettings;

/// Where a recipient's delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Transport name (`local`, `virtual`, `smtp`, `relay`, ...).
    pub transport: String,
    /// Next hop (a domain, `[host]:port`, ...).
    pub nexthop: String,
}

/// Domain part of an address, lower-cased (empty when unqualified).
fn domain_of(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Resolve recipient `i` of `msg`.
pub(crate) fn destination_of(
    agent: &dyn DeliveryAgent,
    settings: &QmgrSettings,
    msg: &QueuedMessage,
    i: usize,
) -> Destination {
    if let Some(d) = agent.destination(msg, i) {
        return d;
    }
    let addr = msg
        .envelope
        .recipients
        .get(i)
        .map(|r| r.address.as_str())
        .unwrap_or("");
    if let Some(rw) = &settings.rewriter {
        if let Ok(r) = rw.resolve(addr) {
            let nexthop = if r.nexthop.is_empty() {
                domain_of(&r.recipient)
            } else {
                r.nexthop.to_ascii_lowercase()
            };
            return Destination {
                transport: r.transport,
                nexthop,
            };
        }
    }
    Destination {
        transport: String::new(),
        nexthop: domain_of(addr),
    }
}

/// One delivery request: recipients for one destination, within the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    /// Concurrency key: (transport, next hop or recipient).
    pub key: (String, String),
    pub concurrency: usize,
    pub recipients: Vec<usize>,
}

/// Group `pending` into delivery requests, in first-recipient order.
pub(crate) fn batches(
    settings: &QmgrSettings,
    pending: &[usize],
    dest: impl Fn(usize) -> (Destination, String),
) -> Vec<Batch> {
    let mut groups: Vec<Batch> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for &i in pending {
        let (d, address) = dest(i);
        let (concurrency, rcpt_limit) = settings.limits_for(&d.transport);
        let key = if rcpt_limit == 1 {
            (d.transport, address.to_ascii_lowercase())
        } else {
            (d.transport, d.nexthop)
        };
        match index.get(&key) {
            Some(&g) => groups[g].recipients.push(i),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Batch {
                    key,
                    concurrency,
                    recipients: vec![i],
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
pub(crate) fn site_failure(outcomes: &[crate::DeliveryOutcome]) -> Option<(String, String)> {
    let first = outcomes.first()?;
    let all = outcomes.iter().all(|o| {
        o.status == crate::DeliveryStatus::Deferred
            && o.agent == "smtp"
            && o.dsn.starts_with("4.4.")
            && o.text.starts_with("connect to ")
    });
    all.then(|| (first.dsn.clone(), first.text.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(addr: &str) -> (Destination, String) {
        let transport = if addr.ends_with("@spec.test") {
            "local"
        } else {
            "smtp"
        };
        (
            Destination {
                transport: transport.into(),
                nexthop: domain_of(addr),
            },
            addr.to_string(),
        )
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
        let all: Vec<usize> = (0..addrs.len()).collect();
        let got = batches(&s, &all, |i| dest(addrs[i]));
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
                    b.recipients.clone(),
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
