//! mail-auth's record caches, filled from gatepost's resolver.
//!
//! mail-auth asks its caches before it asks DNS. Here its own resolver has
//! no name server (every question it would send fails at once), and an
//! evaluation is repeated: each round records the names the caches did not
//! hold, gatepost's resolver (with its TTL cache) answers them, and the
//! next round finds them. SPF's limit of 10 lookups bounds the rounds.

use gatepost_dns::{DnsResult, Resolver};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::{Macro, Spf};
use mail_auth::{
    DnsError, DnssecStatus, Error, MessageAuthenticator, Parameters, RecordSet, ResolverCache, Txt,
    MX,
};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// At most this many rounds (SPF allows 10 DNS mechanisms, plus the
/// record itself, the HELO identity and the DKIM/DMARC records).
const MAX_ROUNDS: usize = 32;

/// mail-auth's authenticator with no name server: only the caches answer.
pub(crate) fn authenticator() -> Option<&'static MessageAuthenticator> {
    static AUTH: OnceLock<Option<MessageAuthenticator>> = OnceLock::new();
    AUTH.get_or_init(|| {
        let mut opts = ResolverOpts::default();
        opts.attempts = 0;
        opts.cache_size = 0;
        opts.use_hosts_file = mail_auth::hickory_resolver::config::ResolveHosts::Never;
        MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], vec![]), opts).ok()
    })
    .as_ref()
}

/// The text a `str` key feeds to a hasher: mail-auth's cache questions
/// come as `&Q` with `Box<str>: Borrow<Q>`, and hashing is the one thing
/// every such `Q` can do.
#[derive(Default)]
struct KeyText(Vec<u8>);

impl Hasher for KeyText {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn key_text<Q: Hash + ?Sized>(q: &Q) -> String {
    let mut h = KeyText::default();
    q.hash(&mut h);
    // `str` hashes as its bytes then 0xff, which UTF-8 never contains.
    let bytes = h.0.strip_suffix(&[0xff]).unwrap_or(&h.0);
    String::from_utf8_lossy(bytes).into_owned()
}

/// One record type's cache: answers found so far and names missed.
pub(crate) struct NameCache<V> {
    found: Mutex<HashMap<String, V>>,
    missed: Mutex<Vec<String>>,
}

impl<V> Default for NameCache<V> {
    fn default() -> Self {
        NameCache {
            found: Mutex::new(HashMap::new()),
            missed: Mutex::new(Vec::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl<V: Clone> NameCache<V> {
    fn take_missed(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.missed))
    }
    fn put(&self, name: String, value: V) {
        lock(&self.found).insert(name, value);
    }
}

impl<V: Clone> ResolverCache<Box<str>, V> for NameCache<V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let key = key_text(name);
        let hit = lock(&self.found).get(&key).cloned();
        if hit.is_none() {
            lock(&self.missed).push(key);
        }
        hit
    }
    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        lock(&self.found).remove(&key_text(name))
    }
    fn insert(&self, _key: Box<str>, _value: V, _valid_until: Instant) {}
}

/// The PTR cache: only the client address is ever asked about.
#[derive(Default)]
pub(crate) struct PtrCache {
    found: Mutex<HashMap<IpAddr, RecordSet<Box<str>>>>,
    missed: Mutex<bool>,
}

impl ResolverCache<IpAddr, RecordSet<Box<str>>> for PtrCache {
    fn get<Q>(&self, name: &Q) -> Option<RecordSet<Box<str>>>
    where
        IpAddr: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = lock(&self.found);
        let hit = found
            .iter()
            .find(|(k, _)| (*k).borrow() == name)
            .map(|(_, v)| v.clone());
        if hit.is_none() {
            *lock(&self.missed) = true;
        }
        hit
    }
    fn remove<Q>(&self, _name: &Q) -> Option<RecordSet<Box<str>>>
    where
        IpAddr: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _key: IpAddr, _value: RecordSet<Box<str>>, _valid_until: Instant) {}
}

/// The caches of one evaluation.
#[derive(Default)]
pub(crate) struct Caches {
    pub txt: NameCache<Txt>,
    pub mx: NameCache<RecordSet<MX>>,
    pub ipv4: NameCache<RecordSet<Ipv4Addr>>,
    pub ipv6: NameCache<RecordSet<Ipv6Addr>>,
    pub ptr: PtrCache,
    /// The text of each DMARC record found, by name (`_dmarc.DOMAIN`), for
    /// the tags mail-auth does not apply (`dmarc_policy`).
    dmarc_text: Mutex<HashMap<String, Vec<String>>>,
}

pub(crate) type CachedParameters<'x, P> = Parameters<
    'x,
    P,
    NameCache<Txt>,
    NameCache<RecordSet<MX>>,
    NameCache<RecordSet<Ipv4Addr>>,
    NameCache<RecordSet<Ipv6Addr>>,
    PtrCache,
>;

fn set<T>(items: Vec<T>) -> RecordSet<T> {
    RecordSet {
        rrset: Arc::from(items),
        dnssec_status: DnssecStatus::Indeterminate,
    }
}

fn not_found() -> Error {
    Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain))
}

/// Parse a TXT record as the record type its name and text say it holds.
fn parse_txt(name: &str, records: &[String]) -> Txt {
    fn first<T: TxtRecordParser + Into<Txt>>(records: &[String]) -> Txt {
        let mut result = Err(Error::Dns(DnsError::InvalidRecordType));
        for r in records {
            result = T::parse(r.as_bytes());
            if result.is_ok() {
                break;
            }
        }
        match result {
            Ok(v) => v.into(),
            Err(e) => Txt::Error(e),
        }
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("_dmarc.") {
        first::<Dmarc>(records)
    } else if lower.contains("._domainkey.") {
        first::<DomainKey>(records)
    } else if records
        .iter()
        .any(|r| r.to_ascii_lowercase().starts_with("v=spf1"))
    {
        first::<Spf>(records)
    } else {
        // An `exp=` explanation (RFC 7208 section 6.2): macro text.
        first::<Macro>(records)
    }
}

impl Caches {
    pub(crate) fn params<P>(&self, p: P) -> CachedParameters<'_, P> {
        Parameters::new(p)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }

    /// Every DMARC record text found, by name.
    pub(crate) fn dmarc_texts(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.dmarc_text)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Answer the names the last round missed; false when there was none
    /// (or every one failed temporarily: mail-auth then sees a DNS error).
    pub(crate) async fn fill(&self, resolver: &Resolver, client: IpAddr) -> bool {
        let mut progress = false;
        for name in self.txt.take_missed() {
            let q = name.trim_end_matches('.');
            let value = match resolver.txt_joined(q).await {
                DnsResult::Found(records) => {
                    let value = parse_txt(q, &records);
                    if matches!(value, Txt::Dmarc(_)) {
                        lock(&self.dmarc_text).insert(q.to_ascii_lowercase(), records);
                    }
                    value
                }
                DnsResult::NxDomain(_) | DnsResult::NoData(_) => Txt::Error(not_found()),
                _ => continue,
            };
            self.txt.put(name, value);
            progress = true;
        }
        for name in self.ipv4.take_missed() {
            let value = match resolver.a(name.trim_end_matches('.')).await {
                DnsResult::Found(a) => set(a),
                DnsResult::NxDomain(_) | DnsResult::NoData(_) => set(Vec::new()),
                _ => continue,
            };
            self.ipv4.put(name, value);
            progress = true;
        }
        for name in self.ipv6.take_missed() {
            let value = match resolver.aaaa(name.trim_end_matches('.')).await {
                DnsResult::Found(a) => set(a),
                DnsResult::NxDomain(_) | DnsResult::NoData(_) => set(Vec::new()),
                _ => continue,
            };
            self.ipv6.put(name, value);
            progress = true;
        }
        for name in self.mx.take_missed() {
            let value = match resolver.mx(name.trim_end_matches('.')).await {
                DnsResult::Found(list) => {
                    let mut by_pref: Vec<MX> = Vec::new();
                    for mx in list {
                        match by_pref.iter_mut().find(|m| m.preference == mx.preference) {
                            Some(m) => {
                                let mut ex = m.exchanges.to_vec();
                                ex.push(mx.exchange.into_boxed_str());
                                m.exchanges = ex.into_boxed_slice();
                            }
                            None => by_pref.push(MX {
                                exchanges: vec![mx.exchange.into_boxed_str()].into_boxed_slice(),
                                preference: mx.preference,
                            }),
                        }
                    }
                    by_pref.sort_by_key(|m| m.preference);
                    set(by_pref)
                }
                DnsResult::NxDomain(_) | DnsResult::NoData(_) | DnsResult::NullMx(_) => {
                    set(Vec::new())
                }
                _ => continue,
            };
            self.mx.put(name, value);
            progress = true;
        }
        if std::mem::take(&mut *lock(&self.ptr.missed)) && lock(&self.ptr.found).is_empty() {
            let names = match resolver.ptr(client).await {
                DnsResult::Found(names) => names,
                _ => Vec::new(),
            };
            let names = names.into_iter().map(String::into_boxed_str).collect();
            lock(&self.ptr.found).insert(client, set(names));
            progress = true;
        }
        progress
    }
}

/// Run `eval` until the caches hold every answer it needs.
pub(crate) async fn evaluate<T, F, Fut>(resolver: &Resolver, client: IpAddr, mut eval: F) -> T
where
    F: FnMut(Arc<Caches>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let caches = Arc::new(Caches::default());
    let mut result = eval(caches.clone()).await;
    for _ in 0..MAX_ROUNDS {
        if !caches.fill(resolver, client).await {
            break;
        }
        result = eval(caches.clone()).await;
    }
    result
}
