//! The process-wide answer cache, shared by every session (and by smtpd
//! and the SMTP client, which run in the same process): one entry per
//! (lower-cased name, record type), kept for the answer's TTL (capped by
//! the resolver), negative answers for their SOA minimum. Concurrent
//! lookups of the same key wait for one query (the first caller's), so a
//! burst of sessions for one domain costs one query. Temporary failures
//! are shared by the callers already waiting but not kept.
//!
//! Bounded: at most `max_entries` keys; when full, expired entries are
//! dropped, and if that is not enough the whole cache is cleared.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use tokio::sync::OnceCell;

use crate::answer::Data;
use crate::outcome::DnsResult;

/// A cached (or in-flight) outcome.
pub type Shared = Arc<DnsResult<Vec<Data>>>;

#[derive(Debug, Clone)]
struct Entry {
    result: Shared,
    expires: Instant,
}

type Key = (String, RecordType);

/// Counters, for the benchmark and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache (or by joining a query in flight).
    pub hits: u64,
    /// Lookups that started a query.
    pub misses: u64,
}

#[derive(Debug)]
pub struct Cache {
    map: Mutex<HashMap<Key, Arc<OnceCell<Entry>>>>,
    max_entries: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Cache {
    pub fn new(max_entries: usize) -> Cache {
        Cache {
            map: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The cached outcome for (`name`, `rtype`), or the outcome of
    /// `query()` (which returns the result and its lifetime).
    pub async fn get_or_query<F, Fut>(&self, name: &str, rtype: RecordType, query: F) -> Shared
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (DnsResult<Vec<Data>>, Duration)>,
    {
        let key = (name.to_ascii_lowercase(), rtype);
        let now = Instant::now();
        let cell = {
            let mut map = match self.map.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            match map.get(&key) {
                Some(cell) if cell.get().is_none_or(|e| e.expires > now) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    gatepost_metrics::dns_lookup(&rtype.to_string(), true);
                    cell.clone()
                }
                _ => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    gatepost_metrics::dns_lookup(&rtype.to_string(), false);
                    if map.len() >= self.max_entries {
                        map.retain(|_, c| c.get().is_none_or(|e| e.expires > now));
                        if map.len() >= self.max_entries {
                            map.clear();
                        }
                    }
                    let cell = Arc::new(OnceCell::new());
                    map.insert(key, cell.clone());
                    cell
                }
            }
        };
        let entry = cell
            .get_or_init(|| async {
                let (result, ttl) = query().await;
                Entry {
                    result: Arc::new(result),
                    expires: Instant::now() + ttl,
                }
            })
            .await;
        entry.result.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn caches_for_ttl_and_coalesces() {
        let cache = Arc::new(Cache::new(100));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_query("Hot.Example", RecordType::MX, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        (DnsResult::Found(Vec::new()), Duration::from_secs(60))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_found());
        }
        let again = cache
            .get_or_query("hot.example", RecordType::MX, || async {
                (DnsResult::NoData(String::new()), Duration::from_secs(60))
            })
            .await;
        assert!(again.is_found());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 20,
                misses: 1
            }
        );
    }

    #[tokio::test]
    async fn zero_ttl_is_not_kept_and_size_is_bounded() {
        let cache = Cache::new(2);
        for want in ["a", "b"] {
            let got = cache
                .get_or_query("x.example", RecordType::A, || async move {
                    (DnsResult::TempFail(want.to_string()), Duration::ZERO)
                })
                .await;
            assert_eq!(got.reason(), Some(want));
        }
        for n in ["1.example", "2.example", "3.example"] {
            cache
                .get_or_query(n, RecordType::A, || async {
                    (DnsResult::Found(Vec::new()), Duration::from_secs(60))
                })
                .await;
        }
        let len = cache.map.lock().unwrap().len();
        assert!(len <= 2, "{len}");
    }
}
