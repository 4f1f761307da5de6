//! The process-wide registry of gatepost's Prometheus metrics
//! (prometheus-client). Code paths count through the free functions here
//! ([`connection`], [`command`], [`reject`], [`relay_denied`],
//! [`auth_failure`], [`delivery`], [`dns_lookup`], [`set_queue_size`])
//! without knowing whether anything is scraping; [`render`] writes the
//! OpenMetrics text that the binary's `gatepost_metrics_listen` endpoint
//! serves. Counting is a few atomic operations, so it is always on.
#![forbid(unsafe_code)]

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabel {
    verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    restriction: String,
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MechanismLabel {
    mechanism: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    status: String,
    transport: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DnsLabel {
    rtype: String,
}

/// Every metric, registered once.
struct Metrics {
    registry: Registry,
    connections: Family<ServiceLabel, Counter>,
    commands: Family<VerbLabel, Counter>,
    rejects: Family<RejectLabels, Counter>,
    relay_denials: Counter,
    auth_failures: Family<MechanismLabel, Counter>,
    queue_size: Family<QueueLabel, Gauge>,
    deliveries: Family<DeliveryLabels, Counter>,
    dns_lookups: Family<DnsLabel, Counter>,
    dns_cache_hits: Family<DnsLabel, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let connections = Family::default();
        let commands = Family::default();
        let rejects = Family::default();
        let relay_denials = Counter::default();
        let auth_failures = Family::default();
        let queue_size = Family::default();
        let deliveries = Family::default();
        let dns_lookups = Family::default();
        let dns_cache_hits = Family::default();
        let mut registry = Registry::with_prefix("gatepost");
        registry.register(
            "smtpd_connections",
            "SMTP connections accepted, by master.cf service",
            Family::clone(&connections),
        );
        registry.register(
            "smtpd_commands",
            "SMTP commands received, by verb (unknown for unrecognized ones)",
            Family::clone(&commands),
        );
        registry.register(
            "smtpd_rejects",
            "Restriction rejects (4xx and 5xx), by deciding restriction and SMTP stage",
            Family::clone(&rejects),
        );
        registry.register(
            "smtpd_relay_denials",
            "Recipients refused by reject_unauth_destination or defer_unauth_destination",
            relay_denials.clone(),
        );
        registry.register(
            "smtpd_auth_failures",
            "Failed SMTP AUTH attempts, by SASL mechanism",
            Family::clone(&auth_failures),
        );
        registry.register(
            "queue_messages",
            "Messages in each queue directory, counted when scraped",
            Family::clone(&queue_size),
        );
        registry.register(
            "deliveries",
            "Delivery attempts per recipient, by status (sent, deferred, bounced) and transport",
            Family::clone(&deliveries),
        );
        registry.register(
            "dns_lookups",
            "DNS lookups asked of the resolver, by record type",
            Family::clone(&dns_lookups),
        );
        registry.register(
            "dns_cache_hits",
            "DNS lookups answered from the answer cache, by record type",
            Family::clone(&dns_cache_hits),
        );
        Metrics {
            registry,
            connections,
            commands,
            rejects,
            relay_denials,
            auth_failures,
            queue_size,
            deliveries,
            dns_lookups,
            dns_cache_hits,
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// A connection accepted by the smtpd service `service`.
pub fn connection(service: &str) {
    METRICS
        .connections
        .get_or_create(&ServiceLabel {
            service: service.to_string(),
        })
        .inc();
}

/// An SMTP command received (`ehlo`, `mail`, ... or `unknown`).
pub fn command(verb: &str) {
    METRICS
        .commands
        .get_or_create(&VerbLabel {
            verb: verb.to_string(),
        })
        .inc();
}

/// A restriction reject at `stage` (`RCPT`, ...), decided by
/// `restriction` (its name, without the table argument).
pub fn reject(restriction: &str, stage: &str) {
    METRICS
        .rejects
        .get_or_create(&RejectLabels {
            restriction: restriction.to_string(),
            stage: stage.to_string(),
        })
        .inc();
}

/// A recipient refused because the mail would be relayed.
pub fn relay_denied() {
    METRICS.relay_denials.inc();
}

/// A failed AUTH exchange with `mechanism` (`PLAIN`, `LOGIN`).
pub fn auth_failure(mechanism: &str) {
    METRICS
        .auth_failures
        .get_or_create(&MechanismLabel {
            mechanism: mechanism.to_string(),
        })
        .inc();
}

/// The number of messages in queue directory `queue` just now.
pub fn set_queue_size(queue: &str, messages: u64) {
    let value = i64::try_from(messages).unwrap_or(i64::MAX);
    METRICS
        .queue_size
        .get_or_create(&QueueLabel {
            queue: queue.to_string(),
        })
        .set(value);
}

/// One recipient's delivery attempt with `status` (`sent`, `deferred`,
/// `bounced`) by `transport` (`local`, `smtp`, ...).
pub fn delivery(status: &str, transport: &str) {
    METRICS
        .deliveries
        .get_or_create(&DeliveryLabels {
            status: status.to_string(),
            transport: transport.to_string(),
        })
        .inc();
}

/// One DNS lookup of record type `rtype` (`A`, `MX`, ...), answered from
/// the cache when `cache_hit`.
pub fn dns_lookup(rtype: &str, cache_hit: bool) {
    let label = DnsLabel {
        rtype: rtype.to_string(),
    };
    METRICS.dns_lookups.get_or_create(&label).inc();
    if cache_hit {
        METRICS.dns_cache_hits.get_or_create(&label).inc();
    }
}

/// Every metric in the OpenMetrics text format (`# EOF` at the end).
pub fn render() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry);
    out
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_with_labels() {
        connection("smtp");
        connection("smtp");
        reject("reject_unauth_destination", "RCPT");
        relay_denied();
        set_queue_size("deferred", 3);
        dns_lookup("MX", true);
        let text = render();
        assert!(text.contains("gatepost_smtpd_connections_total{service=\"smtp\"} 2\n"));
        assert!(text.contains(
            "gatepost_smtpd_rejects_total{restriction=\"reject_unauth_destination\",stage=\"RCPT\"} 1\n"
        ));
        assert!(text.contains("gatepost_smtpd_relay_denials_total 1\n"));
        assert!(text.contains("gatepost_queue_messages{queue=\"deferred\"} 3\n"));
        assert!(text.contains("gatepost_dns_cache_hits_total{rtype=\"MX\"} 1\n"));
        assert!(text.ends_with("# EOF\n"));
    }
}
