//! Everything a session needs that outlives it: the service's settings,
//! the restriction engine, the queue, the address rewriter, the DNS
//! resolver built from the service's `dns_*` settings, and the per-client
//! event counters (anvil(8)) the client limits are checked against.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use gatepost_cleanup::ContentRules;
use gatepost_config::{params, Config};
use gatepost_dns::Resolver;
use gatepost_policy::Policy;
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;
use gatepost_table::{DomainList, NetworkList};

use crate::anvil::{ClientEvents, LocalAnvil};
use crate::mail_auth::MailAuthSettings;
use crate::security::{SecuritySettings, TlsLevel};
use crate::settings::SmtpdSettings;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{0}")]
    Policy(#[from] gatepost_policy::PolicyError),
    #[error("smtpd_forbid_bare_newline_exclusions: {0}")]
    Table(#[from] gatepost_table::TableError),
    #[error("fast_flush_domains: {0}")]
    FastFlush(gatepost_table::TableError),
    #[error("TLS: {0}")]
    Tls(#[from] gatepost_tls::TlsError),
    #[error("smtpd_sasl_type: {0}")]
    Sasl(String),
    #[error("{0}")]
    MailAuth(String),
}

/// Shared state of one smtpd service (one master.cf line).
pub struct ServerContext {
    /// master.cf service name, for log lines.
    pub service: String,
    pub settings: SmtpdSettings,
    pub policy: Policy,
    pub queue: Arc<Queue>,
    pub rewriter: Arc<Rewriter>,
    /// cleanup's header/body checks and MIME settings.
    pub content_rules: Arc<ContentRules>,
    /// This service's resolver (client names; the policy uses it too).
    pub resolver: Resolver,
    pub bare_newline_exclusions: NetworkList,
    /// Destinations ETRN may flush (`fast_flush_domains`).
    pub fast_flush_domains: DomainList,
    /// Clients exempt from the per-client limits and not counted at all
    /// (`smtpd_client_event_limit_exceptions`, default `$mynetworks`).
    pub event_limit_exceptions: NetworkList,
    /// Per-client connection and event counters.
    pub client_events: Arc<dyn ClientEvents>,
    /// Clients in `local_header_rewrite_clients` get missing headers added;
    /// we honour its default `permit_inet_interfaces` (client address is one
    /// of ours) and `always_add_missing_headers`.
    pub always_add_missing_headers: bool,
    /// STARTTLS and AUTH settings.
    pub security: SecuritySettings,
    /// Present when the service can do TLS ([`ServerContext::with_tls`]).
    pub tls: Option<gatepost_tls::TlsAcceptor>,
    /// Where AUTH credentials are checked, when `smtpd_sasl_auth_enable`.
    pub sasl: Option<gatepost_sasl::Backend>,
    /// Clients not offered AUTH in EHLO (`smtpd_sasl_exceptions_networks`).
    pub sasl_exceptions: NetworkList,
    /// `smtpd_milters`, unless `receive_override_options` has `no_milters`.
    pub milters: Option<Arc<gatepost_milter::MilterSettings>>,
    /// `content_filter`: the after-queue filter every message is handed to.
    pub content_filter: Option<String>,
    /// `receive_override_options = no_address_mappings`: no canonical
    /// mapping and no virtual alias expansion here (the service after the
    /// content filter does them).
    pub no_address_mappings: bool,
    /// DKIM signing and SPF/DKIM/DMARC verification (docs/mail-auth.md).
    pub mail_auth: MailAuthSettings,
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
        let fast_flush_domains = DomainList::parse(
            &cfg.get(&params::FAST_FLUSH_DOMAINS),
            cfg.parent_domain_matches(params::FAST_FLUSH_DOMAINS.name()),
        )
        .map_err(ContextError::FastFlush)?;
        let security = SecuritySettings::from_config(cfg);
        let content_rules = Arc::new(ContentRules::from_config(cfg));
        let sasl_exceptions =
            NetworkList::parse(&cfg.get(&params::SMTPD_SASL_EXCEPTIONS_NETWORKS), true)?;
        let sasl = if security.sasl_enable {
            let backend = gatepost_sasl::Backend::new(
                &cfg.get(&params::SMTPD_SASL_TYPE),
                &cfg.get(&params::SMTPD_SASL_PATH),
                std::path::Path::new(&cfg.get(&params::QUEUE_DIRECTORY)),
                &cfg.get(&params::GATEPOST_SASL_PASSWD_FILE),
                &cfg.get(&params::SMTPD_SASL_LOCAL_DOMAIN),
            )
            .map_err(ContextError::Sasl)?;
            Some(backend)
        } else {
            None
        };
        let mail_auth = MailAuthSettings::from_config(cfg).map_err(ContextError::MailAuth)?;
        Ok(ServerContext {
            mail_auth,
            service: service.to_string(),
            security,
            tls: None,
            sasl,
            sasl_exceptions,
            settings: SmtpdSettings::from_config(cfg),
            policy,
            queue,
            rewriter,
            content_rules,
            resolver,
            bare_newline_exclusions: exclusions,
            fast_flush_domains,
            event_limit_exceptions: limit_exceptions,
            client_events: Arc::new(LocalAnvil::new(cfg.get(&params::ANVIL_RATE_TIME_UNIT))),
            always_add_missing_headers: cfg.get(&params::ALWAYS_ADD_MISSING_HEADERS),
            milters: crate::milter_glue::settings(cfg),
            content_filter: Some(cfg.get(&params::CONTENT_FILTER)).filter(|f| !f.trim().is_empty()),
            no_address_mappings: cfg
                .get(&params::RECEIVE_OVERRIDE_OPTIONS)
                .iter()
                .any(|o| o.eq_ignore_ascii_case("no_address_mappings")),
            error_sleeps: AtomicU64::new(0),
        })
    }

    /// Load (or, with `gatepost_tls_self_signed`, make) the certificate and
    /// offer TLS, when the service's settings want it. Stand-alone
    /// sessions (`sendmail -bs`) never do. As Postfix, a certificate that
    /// cannot be loaded only disables opportunistic TLS (with a warning;
    /// STARTTLS is answered `454`); mandatory TLS and wrapper mode refuse
    /// to start.
    pub fn with_tls(mut self, cfg: &Config) -> Result<ServerContext, ContextError> {
        if !self.security.wants_tls() {
            return Ok(self);
        }
        match crate::security::build_acceptor(cfg) {
            Ok(acceptor) => self.tls = Some(acceptor),
            Err(e) if self.security.tls_level == TlsLevel::May && !self.security.wrapper_mode => {
                let no_cert = cfg.get(&params::SMTPD_TLS_CERT_FILE).is_empty()
                    && cfg.get(&params::SMTPD_TLS_CHAIN_FILES).is_empty();
                let text = if no_cert {
                    "No server certs available. TLS won't be enabled".to_string()
                } else {
                    format!("TLS library problem: {e}")
                };
                gatepost_log::warning("smtpd", text);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(self)
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
