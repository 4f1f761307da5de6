//! SMTP/LMTP connection caching, as Postfix's smtp(8) with scache(8)
//! (`smtp_connect.c`, `smtp_reuse.c`, and qmgr(8)'s on-demand hint in
//! `qmgr_entry.c`), kept in the agent's own memory:
//!
//! - which deliveries may use the cache: every delivery to a next hop
//!   listed in `smtp_connection_cache_destinations`; otherwise, with
//!   `smtp_connection_cache_on_demand = yes`, a next hop with a backlog:
//!   storing turns on when a delivery to it starts within a second of the
//!   previous one ending (back-to-back deliveries), and off again when a
//!   delivery starts with none in progress and none just ended; loading
//!   stays on once it was on, so that cached connections are used up;
//! - a connection is cached after a finished mail transaction (no QUIT)
//!   under the next hop as written and under its server endpoint, and is
//!   closed after `smtp_connection_cache_time_limit` unused;
//! - it is not cached once `smtp_connection_reuse_time_limit` has passed
//!   since it was made, or after `smtp_connection_reuse_count_limit`
//!   reuses (0: no limit);
//! - a delivery looks for a connection by next hop first, then by the
//!   endpoint of each server it is about to connect to; the caller probes
//!   a cached connection with RSET before use and drops it silently when
//!   the probe fails (the server closed it), going on to a new connection.
//!
//! Keys carry the TLS level of the next hop. Connections that speak TLS or
//! that logged in with AUTH are never cached (Postfix caches TLS only
//! through tlsproxy(8) with `smtp_tls_connection_reuse = yes`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gatepost_config::{Config, Param};
use gatepost_table::DomainList;

use crate::DeliveryError;

use crate::smtp::addr_list::Target;
use crate::smtp::conn::Conn;
use crate::smtp::session::Ready;

/// The cache parameters of one client (`smtp_*` or `lmtp_*`).
#[derive(Debug, Clone)]
pub(crate) struct CacheSettings {
    pub on_demand: bool,
    /// `*_connection_cache_destinations`: names, `type:table`, `!name`, `/file`.
    pub destinations: DomainList,
    /// `*_connection_cache_time_limit`: idle time in the cache.
    pub idle_limit: Duration,
    /// `*_connection_reuse_time_limit`: age after which a connection is not cached again.
    pub reuse_time_limit: Duration,
    /// `*_connection_reuse_count_limit`, 0 = no limit.
    pub reuse_count_limit: usize,
    /// `*_rset_timeout`, for the RSET probe.
    pub rset_timeout: Duration,
}

/// The parameter handles of one client's cache settings.
pub(crate) struct CacheParams {
    pub on_demand: Param<bool>,
    pub destinations: Param<Vec<String>>,
    pub idle_limit: Param<Duration>,
    pub reuse_time_limit: Param<Duration>,
    pub reuse_count_limit: Param<usize>,
    pub rset_timeout: Param<Duration>,
}

impl CacheSettings {
    pub(crate) fn from_config(
        cfg: &Config,
        p: &CacheParams,
    ) -> Result<CacheSettings, DeliveryError> {
        let destinations = DomainList::parse(&cfg.get(&p.destinations), false)
            .map_err(|e| DeliveryError::Config(format!("{}: {e}", p.destinations.spec.name)))?;
        Ok(CacheSettings {
            on_demand: cfg.get(&p.on_demand),
            destinations,
            idle_limit: cfg.get(&p.idle_limit),
            reuse_time_limit: cfg.get(&p.reuse_time_limit),
            reuse_count_limit: cfg.get(&p.reuse_count_limit),
            rset_timeout: cfg.get(&p.rset_timeout),
        })
    }

    /// Whether `domain` (the next hop without `[]` and port) is listed in
    /// `*_connection_cache_destinations` (names compared without case, or
    /// found in a listed table). A table that cannot be searched lists
    /// nothing: the connection is simply not kept.
    fn always(&self, domain: &str) -> bool {
        self.destinations.matches(domain).unwrap_or(false)
    }
}

/// What one delivery may do with the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Policy {
    /// Look for a cached connection first.
    pub load: bool,
    /// Leave the connection open in the cache afterwards.
    pub store: bool,
}

/// A connection in the cache, or one taken out of it.
pub(crate) struct Cached {
    pub conn: Conn,
    pub target: Target,
    /// The session state after EHLO.
    pub ready: Ready,
    /// When the connection was made plus `*_connection_reuse_time_limit`.
    pub expires: Instant,
    /// How many times it was reused so far (0 for a new connection).
    pub reuse_count: usize,
}

/// The backlog state of one next hop (qmgr's queue flags).
#[derive(Debug, Default)]
struct Demand {
    busy: usize,
    last_done: Option<Instant>,
    policy: Policy,
}

struct Slot {
    id: u64,
    dest: Option<String>,
    endp: String,
    idle_until: Instant,
    cached: Cached,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    demand: HashMap<String, Demand>,
    next_id: u64,
}

/// One client's connection cache.
#[derive(Clone)]
pub(crate) struct ConnCache {
    pub settings: CacheSettings,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for ConnCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnCache")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Back-to-back: a delivery starts within a second of the last one ending.
const BACK_TO_BACK: Duration = Duration::from_secs(1);

impl ConnCache {
    pub(crate) fn new(settings: CacheSettings) -> ConnCache {
        ConnCache {
            settings,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A delivery to `nexthop` (domain part `domain`) starts: its policy.
    /// Pair with [`ConnCache::finish`].
    pub(crate) fn start(&self, nexthop: &str, domain: &str) -> Policy {
        let mut state = self.lock();
        let demand = state.demand.entry(nexthop.to_string()).or_default();
        let now = Instant::now();
        let back_to_back = demand
            .last_done
            .is_some_and(|t| now.duration_since(t) <= BACK_TO_BACK);
        if !demand.policy.store {
            if back_to_back {
                demand.policy = Policy {
                    load: true,
                    store: true,
                };
            }
        } else if demand.busy == 0 && !back_to_back {
            demand.policy.store = false;
        }
        demand.busy += 1;
        if self.settings.always(domain) {
            Policy {
                load: true,
                store: true,
            }
        } else if self.settings.on_demand {
            demand.policy
        } else {
            Policy::default()
        }
    }

    /// The delivery to `nexthop` that [`ConnCache::start`] began is over.
    pub(crate) fn finish(&self, nexthop: &str) {
        let mut state = self.lock();
        if let Some(demand) = state.demand.get_mut(nexthop) {
            demand.busy = demand.busy.saturating_sub(1);
            demand.last_done = Some(Instant::now());
        }
        // Forget idle next hops, so that the table stays small.
        let now = Instant::now();
        state.demand.retain(|_, d| {
            d.busy > 0
                || d.last_done
                    .is_some_and(|t| now.duration_since(t) <= BACK_TO_BACK)
        });
    }

    fn take(&self, matches: impl Fn(&Slot) -> bool) -> Option<Cached> {
        let mut state = self.lock();
        let now = Instant::now();
        state.slots.retain(|s| s.idle_until > now);
        let at = state.slots.iter().position(matches)?;
        Some(state.slots.swap_remove(at).cached)
    }

    /// A connection cached under this next-hop key.
    pub(crate) fn take_dest(&self, dest: &str) -> Option<Cached> {
        self.take(|s| s.dest.as_deref() == Some(dest))
    }

    /// A connection cached under this endpoint key.
    pub(crate) fn take_endp(&self, endp: &str) -> Option<Cached> {
        self.take(|s| s.endp == endp)
    }

    /// Whether a connection made at `expires - reuse_time_limit` and used
    /// `reuse_count` times may go back into the cache.
    pub(crate) fn reusable(&self, expires: Instant, reuse_count: usize) -> bool {
        let limit = self.settings.reuse_count_limit;
        Instant::now() < expires && (limit == 0 || reuse_count < limit)
    }

    /// Keep `cached` for `*_connection_cache_time_limit`, under `dest` (the
    /// next hop, for the first good connection of a delivery) and `endp`;
    /// afterwards it is closed.
    pub(crate) fn save(&self, dest: Option<String>, endp: String, cached: Cached) {
        let idle = self.settings.idle_limit;
        let id = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            state.slots.push(Slot {
                id,
                dest,
                endp,
                idle_until: Instant::now() + idle,
                cached,
            });
            id
        };
        // Close it when it was not taken in time.
        let state = Arc::downgrade(&self.state);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(idle).await;
                if let Some(state) = state.upgrade() {
                    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                    state.slots.retain(|s| s.id != id);
                }
            });
        }
    }

    /// How many connections are cached now (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().slots.len()
    }
}

/// The next-hop key: the next hop as written and the TLS level in force.
pub(crate) fn dest_key(nexthop: &str, tls_level: impl std::fmt::Debug) -> String {
    format!("{}\n{tls_level:?}", nexthop.trim().to_ascii_lowercase())
}

/// The endpoint key: server name, address (or socket), port and TLS level.
pub(crate) fn endp_key(target: &Target, tls_level: impl std::fmt::Debug) -> String {
    format!(
        "{}\n{}\n{tls_level:?}",
        target.host.to_ascii_lowercase(),
        target.relay()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(on_demand: bool, destinations: &[&str]) -> CacheSettings {
        CacheSettings {
            on_demand,
            destinations: DomainList::parse(
                &destinations
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
                false,
            )
            .unwrap(),
            idle_limit: Duration::from_secs(2),
            reuse_time_limit: Duration::from_secs(300),
            reuse_count_limit: 0,
            rset_timeout: Duration::from_secs(20),
        }
    }

    #[test]
    fn on_demand_follows_back_to_back_deliveries() {
        let cache = ConnCache::new(settings(true, &[]));
        // The first delivery: no backlog seen yet.
        assert_eq!(cache.start("example.com", "example.com"), Policy::default());
        cache.finish("example.com");
        // The next one right after: a backlog, store and load.
        let on = Policy {
            load: true,
            store: true,
        };
        assert_eq!(cache.start("example.com", "example.com"), on);
        // A concurrent one keeps it on.
        assert_eq!(cache.start("example.com", "example.com"), on);
        cache.finish("example.com");
        cache.finish("example.com");
        // Another next hop is independent.
        assert_eq!(
            cache.start("other.example", "other.example"),
            Policy::default()
        );
        // Off: on-demand caching disabled.
        let cache = ConnCache::new(settings(false, &[]));
        cache.start("example.com", "example.com");
        cache.finish("example.com");
        assert_eq!(cache.start("example.com", "example.com"), Policy::default());
        // Listed destinations always cache.
        let cache = ConnCache::new(settings(false, &["relay.example"]));
        assert_eq!(cache.start("[relay.example]:587", "relay.example"), on);
    }

    #[test]
    fn listed_destinations_may_be_tables_and_negations() {
        let on = Policy {
            load: true,
            store: true,
        };
        let cache = ConnCache::new(settings(
            false,
            &[
                "!skip.example",
                "inline:{ relay.example=yes, skip.example=yes }",
            ],
        ));
        assert_eq!(cache.start("relay.example", "relay.example"), on);
        assert_eq!(
            cache.start("skip.example", "skip.example"),
            Policy::default()
        );
        assert_eq!(
            cache.start("other.example", "other.example"),
            Policy::default()
        );
    }

    #[test]
    fn reuse_limits() {
        let mut s = settings(true, &[]);
        s.reuse_count_limit = 2;
        let cache = ConnCache::new(s);
        let later = Instant::now() + Duration::from_secs(60);
        assert!(cache.reusable(later, 0));
        assert!(cache.reusable(later, 1));
        assert!(!cache.reusable(later, 2));
        assert!(!cache.reusable(Instant::now() - Duration::from_secs(1), 0));
    }
}
