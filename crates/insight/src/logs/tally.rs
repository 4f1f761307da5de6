//! Count classified log events into the report: pflogsumm's totals
//! (received, delivered, deferred, bounced, rejected), per domain, per
//! hour, and the abuse view (relay attempts, rejected clients, SASL
//! failures, connection bursts, grouped warnings).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDateTime, Timelike};
use serde::Serialize;

use super::event::{classify, domain_of, Event, Status, WarningKind};
use super::line::LogLine;

/// A key and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub received: u64,
    pub delivered: u64,
    /// Messages with at least one deferral.
    pub deferred: u64,
    /// Deferral log lines.
    pub deferrals: u64,
    pub bounced: u64,
    pub rejected: u64,
    pub bytes_received: u64,
    pub connections: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Hour {
    /// `YYYY-MM-DD HH:00`.
    pub hour: String,
    pub received: u64,
    pub delivered: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub rejected: u64,
}

impl Hour {
    pub fn has_traffic(&self) -> bool {
        self.received + self.delivered + self.deferred + self.bounced + self.rejected > 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RejectedClient {
    pub client: String,
    pub total: u64,
    pub reasons: Vec<Count>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    /// `YYYY-MM-DD HH:MM`.
    pub minute: String,
    pub connections: u64,
    pub top_clients: Vec<Count>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WarningGroup {
    pub kind: WarningKind,
    pub text: &'static str,
    pub total: u64,
    pub by_domain: Vec<Count>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Abuse {
    /// `Relay access denied` rejects, permanent (5xx) and temporary (4xx).
    pub relay_denied: u64,
    pub relay_deferred: u64,
    pub relay_by_client: Vec<Count>,
    pub relay_by_domain: Vec<Count>,
    pub rejected_clients: Vec<RejectedClient>,
    pub sasl_failures: u64,
    pub sasl_by_client: Vec<Count>,
    pub sasl_by_user: Vec<Count>,
    /// Median connections in a minute with any connection.
    pub median_connections_per_minute: u64,
    pub bursts: Vec<Burst>,
    pub warnings: Vec<WarningGroup>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub first: Option<String>,
    pub last: Option<String>,
    pub lines: u64,
    pub unparsed: u64,
    pub totals: Totals,
    pub rejects_by_reason: Vec<Count>,
    pub received_by_sender_domain: Vec<Count>,
    pub delivered_by_domain: Vec<Count>,
    pub deferred_by_domain: Vec<Count>,
    pub bounced_by_domain: Vec<Count>,
    pub per_hour: Vec<Hour>,
    pub abuse: Abuse,
}

/// How many rows each ranking keeps.
pub const TOP: usize = 20;

#[derive(Default)]
pub struct Tally {
    report: Report,
    deferred_qids: HashSet<String>,
    received_qids: HashSet<String>,
    sized_qids: HashSet<String>,
    hours: BTreeMap<String, Hour>,
    rejects_by_reason: HashMap<String, u64>,
    sender_domains: HashMap<String, u64>,
    delivered_domains: HashMap<String, u64>,
    deferred_domains: HashMap<String, u64>,
    bounced_domains: HashMap<String, u64>,
    relay_clients: HashMap<String, u64>,
    relay_domains: HashMap<String, u64>,
    rejected_clients: HashMap<String, HashMap<String, u64>>,
    sasl_clients: HashMap<String, u64>,
    sasl_users: HashMap<String, u64>,
    minutes: BTreeMap<String, HashMap<String, u64>>,
    warnings: BTreeMap<WarningKind, HashMap<String, u64>>,
}

impl Tally {
    pub fn add_unparsed(&mut self) {
        self.report.lines += 1;
        self.report.unparsed += 1;
    }

    pub fn add(&mut self, line: &LogLine) {
        let r = &mut self.report;
        r.lines += 1;
        let stamp = line.time.format("%Y-%m-%d %H:%M:%S").to_string();
        if r.first.is_none() {
            r.first = Some(stamp.clone());
        }
        r.last = Some(stamp);
        let event = classify(&line.program, &line.message);
        let hour = hour_of(line.time);
        let t = &mut r.totals;
        match event {
            Event::Connect { client } => {
                t.connections += 1;
                let minute = line.time.format("%Y-%m-%d %H:%M").to_string();
                *self
                    .minutes
                    .entry(minute)
                    .or_default()
                    .entry(client)
                    .or_default() += 1;
            }
            Event::Received { qid, .. } => {
                self.received_qids.insert(qid);
                t.received += 1;
                self.hour(hour).received += 1;
            }
            Event::QueuedFrom { qid, sender, size } => {
                // As pflogsumm: only messages seen arriving, each once.
                if self.received_qids.contains(&qid) && self.sized_qids.insert(qid) {
                    t.bytes_received += size;
                    *self
                        .sender_domains
                        .entry(sender_domain(&sender))
                        .or_default() += 1;
                }
            }
            Event::Delivery { qid, rcpt, status } => {
                let domain = domain_of(&rcpt);
                match status {
                    Status::Sent => {
                        t.delivered += 1;
                        self.hour(hour).delivered += 1;
                        *self.delivered_domains.entry(domain).or_default() += 1;
                    }
                    Status::Deferred => {
                        t.deferrals += 1;
                        if self.deferred_qids.insert(qid) {
                            t.deferred += 1;
                        }
                        self.hour(hour).deferred += 1;
                        *self.deferred_domains.entry(domain).or_default() += 1;
                    }
                    Status::Bounced => {
                        t.bounced += 1;
                        self.hour(hour).bounced += 1;
                        *self.bounced_domains.entry(domain).or_default() += 1;
                    }
                }
            }
            Event::Reject {
                client,
                code,
                reason,
                rcpt,
            } => {
                t.rejected += 1;
                self.hour(hour).rejected += 1;
                if reason.contains("Relay access denied") {
                    if (400..500).contains(&code) {
                        self.report.abuse.relay_deferred += 1;
                    } else {
                        self.report.abuse.relay_denied += 1;
                    }
                    *self.relay_clients.entry(client.clone()).or_default() += 1;
                    *self.relay_domains.entry(domain_of(&rcpt)).or_default() += 1;
                }
                *self.rejects_by_reason.entry(reason.clone()).or_default() += 1;
                *self
                    .rejected_clients
                    .entry(client)
                    .or_default()
                    .entry(reason)
                    .or_default() += 1;
            }
            Event::SaslFailure { client, user } => {
                self.report.abuse.sasl_failures += 1;
                *self.sasl_clients.entry(client).or_default() += 1;
                if !user.is_empty() {
                    *self.sasl_users.entry(user).or_default() += 1;
                }
            }
            Event::Warning { kind, domain } => {
                *self
                    .warnings
                    .entry(kind)
                    .or_default()
                    .entry(domain)
                    .or_default() += 1;
            }
            Event::Other => {}
        }
    }

    fn hour(&mut self, hour: String) -> &mut Hour {
        self.hours.entry(hour.clone()).or_insert_with(|| Hour {
            hour,
            ..Hour::default()
        })
    }

    pub fn finish(self) -> Report {
        let mut r = self.report;
        r.rejects_by_reason = ranked(self.rejects_by_reason, usize::MAX);
        r.received_by_sender_domain = ranked(self.sender_domains, TOP);
        r.delivered_by_domain = ranked(self.delivered_domains, TOP);
        r.deferred_by_domain = ranked(self.deferred_domains, TOP);
        r.bounced_by_domain = ranked(self.bounced_domains, TOP);
        r.per_hour = with_quiet_hours(self.hours);
        let a = &mut r.abuse;
        a.relay_by_client = ranked(self.relay_clients, TOP);
        a.relay_by_domain = ranked(self.relay_domains, TOP);
        a.sasl_by_client = ranked(self.sasl_clients, TOP);
        a.sasl_by_user = ranked(self.sasl_users, TOP);
        let mut clients: Vec<RejectedClient> = self
            .rejected_clients
            .into_iter()
            .map(|(client, reasons)| RejectedClient {
                client,
                total: reasons.values().sum(),
                reasons: ranked(reasons, 5),
            })
            .collect();
        clients.sort_by(|a, b| b.total.cmp(&a.total).then(a.client.cmp(&b.client)));
        clients.truncate(TOP);
        a.rejected_clients = clients;
        let (median, bursts) = bursts(self.minutes);
        a.median_connections_per_minute = median;
        a.bursts = bursts;
        a.warnings = self
            .warnings
            .into_iter()
            .map(|(kind, domains)| WarningGroup {
                kind,
                text: kind.describe(),
                total: domains.values().sum(),
                by_domain: ranked(domains, TOP),
            })
            .collect();
        r
    }
}

/// How many times the median minute a minute must reach to be a burst.
pub const BURST_FACTOR: u64 = 3;

/// The median of the minutes with connections, and the minutes above
/// [`BURST_FACTOR`] times it (at least one more connection than it).
fn bursts(minutes: BTreeMap<String, HashMap<String, u64>>) -> (u64, Vec<Burst>) {
    let mut counts: Vec<u64> = minutes.values().map(|c| c.values().sum()).collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    let threshold = (median * BURST_FACTOR).max(median + 1);
    let bursts = minutes
        .into_iter()
        .filter_map(|(minute, clients)| {
            let connections: u64 = clients.values().sum();
            (connections > threshold).then(|| Burst {
                minute,
                connections,
                top_clients: ranked(clients, 5),
            })
        })
        .collect();
    (median, bursts)
}

/// Hours with no traffic between the first and the last count too (as
/// zero rows), so the timeline is continuous, for spans up to two weeks.
const MAX_FILLED_HOURS: i64 = 14 * 24;

fn with_quiet_hours(hours: BTreeMap<String, Hour>) -> Vec<Hour> {
    let parse = |k: &String| NaiveDateTime::parse_from_str(k, "%Y-%m-%d %H:%M").ok();
    let span = hours
        .keys()
        .next()
        .and_then(parse)
        .zip(hours.keys().next_back().and_then(parse));
    let Some((first, last)) = span else {
        return hours.into_values().collect();
    };
    if (last - first).num_hours() > MAX_FILLED_HOURS {
        return hours.into_values().collect();
    }
    let mut hours = hours;
    let mut t = first;
    while t < last {
        t += chrono::Duration::hours(1);
        let key = hour_of(t);
        hours.entry(key.clone()).or_insert_with(|| Hour {
            hour: key,
            ..Hour::default()
        });
    }
    hours.into_values().collect()
}

fn hour_of(t: NaiveDateTime) -> String {
    format!("{} {:02}:00", t.format("%Y-%m-%d"), t.hour())
}

fn sender_domain(sender: &str) -> String {
    if sender.is_empty() {
        "<> (null sender)".to_string()
    } else {
        domain_of(sender)
    }
}

/// Sort by count (highest first), then key; keep `top` rows.
pub fn ranked(map: HashMap<String, u64>, top: usize) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    v.truncate(top);
    v
}
