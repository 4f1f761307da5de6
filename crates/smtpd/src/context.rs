//! Everything a session needs that outlives it: the service's settings,
//! the restriction engine, the queue, the address rewriter, the DNS
//! resolver built from the service's `dns_*` settings, and the per-client
//! event counters (anvil(8)) the client limits are checked against.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gatepost_config::{params, Config};
use gatepost_dns::Resolver;
use gatepost_policy::Policy;
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;
use gatepost_table::NetworkList;

use crate::anvil::{ClientEvents, LocalAnvil};
use crate::settings::SmtpdSettings;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{0}")]
    Policy(#[from] gatepost_policy::PolicyError),
    #[error("smtpd_forbid_bare_newline_exclusions: {0}")]
    Table(#[from] gatepost_table::TableError),
}

/// Shared state of one smtpd service (one master.cf line).
pub struct ServerContext {
    /// master.cf service name, for log lines.
    pub service: String,
    pub settings: SmtpdSettings,
    pub policy: Policy,
    pub queue: Arc<Queue>,
    pub rewriter: Arc<Rewriter>,
    /// This service's resolver (client names; the policy uses it too).
    pub resolver: Resolver,
    pub bare_newline_exclusions: NetworkList,
    /// Clients exempt from the per-client limits and not counted at all
    /// (`smtpd_client_event_limit_exceptions`, default `$mynetworks`).
    pub event_limit_exceptions: NetworkList,
    /// Per-client connection and event counters.
    pub client_events: Arc<dyn ClientEvents>,
    /// Clients in `local_header_rewrite_clients` get missing headers added;
    /// we honour its default `permit_inet_interfaces` (client address is one
    /// of ours) and `always_add_missing_headers`.
    pub always_add_missing_headers: bool,
    /// Replies delayed by `smtpd_error_sleep_time` so far.
    error_sleeps: AtomicU64,
}

impl ServerContext {
    pub fn new(
        service: &str,
        cfg: &Config,
        queue: Arc<Queue>,
        rewriter: Arc<Rewriter>,
    ) -> Result<ServerContext, ContextError> {
        let resolver = Resolver::shared(cfg);
        let policy = Policy::from_config(cfg, rewriter.clone(), resolver.clone())?;
        let exclusions = NetworkList::parse(
            &cfg.get(&params::SMTPD_FORBID_BARE_NEWLINE_EXCLUSIONS),
            true,
        )?;
        let limit_exceptions =
            NetworkList::parse(&cfg.get(&params::SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS), true)?;
        Ok(ServerContext {
            service: service.to_string(),
            settings: SmtpdSettings::from_config(cfg),
            policy,
            queue,
            rewriter,
            resolver,
            bare_newline_exclusions: exclusions,
            event_limit_exceptions: limit_exceptions,
            client_events: Arc::new(LocalAnvil::new(cfg.get(&params::ANVIL_RATE_TIME_UNIT))),
            always_add_missing_headers: cfg.get(&params::ALWAYS_ADD_MISSING_HEADERS),
            error_sleeps: AtomicU64::new(0),
        })
    }

    /// How many replies this service has delayed by `smtpd_error_sleep_time`.
    pub fn error_sleeps(&self) -> u64 {
        self.error_sleeps.load(Ordering::Relaxed)
    }

    pub(crate) fn count_error_sleep(&self) {
        self.error_sleeps.fetch_add(1, Ordering::Relaxed);
    }

    /// Count client events in `events` (e.g. one store for every service)
    /// instead of a store of this service's own.
    pub fn with_client_events(mut self, events: Arc<dyn ClientEvents>) -> ServerContext {
        self.client_events = events;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two services of one process, the second with its own
    /// `-o dns_nameservers`: each keeps the resolver of its settings.
    #[test]
    fn each_service_has_the_resolver_of_its_own_settings() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::parse_main_cf(
            "myhostname = mx.spec.test\ndns_nameservers = 127.0.0.1:1\n",
            "main.cf",
        )
        .unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let rewriter = Arc::new(Rewriter::from_config(&cfg).unwrap());
        let service = |cfg: &Config| {
            ServerContext::new("smtpd", cfg, queue.clone(), rewriter.clone()).unwrap()
        };
        let first = service(&cfg);
        let other = cfg.with_overrides(&[("dns_nameservers".into(), "127.0.0.1:2".into())]);
        let second = service(&other);
        let servers = |ctx: &ServerContext| ctx.resolver.settings().nameservers.clone();
        assert_eq!(servers(&first), vec!["127.0.0.1:1".parse().unwrap()]);
        assert_eq!(servers(&second), vec!["127.0.0.1:2".parse().unwrap()]);
        assert_eq!(servers(&service(&cfg)), servers(&first));
    }
}
