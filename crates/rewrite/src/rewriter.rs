//! The `Rewriter`: all rewrite/resolve settings read once from `main.cf`
//! (`from_config`), shared read-only (`Arc`) by smtpd, cleanup and the
//! delivery agents. Parameters: myhostname, mydomain, myorigin,
//! mydestination, inet_interfaces, proxy_interfaces, virtual_alias_domains,
//! virtual_mailbox_domains, relay_domains (+ parent_domain_matches_subdomains),
//! virtual_alias_maps, canonical_maps, recipient_canonical_maps,
//! local/virtual/relay/default_transport, relayhost, allow_percent_hack,
//! swap_bangpath, resolve_dequoted_address, resolve_null_domain,
//! resolve_numeric_domain, recipient_delimiter, append_at_myorigin,
//! append_dot_mydomain, empty_address_recipient, allow_min_user,
//! show_user_unknown_table_name, propagate_unmatched_extensions,
//! virtual_alias_recursion_limit, virtual_alias_expansion_limit; and, for
//! the queue manager's rewriter only (`with_transport_maps`), transport_maps.

use gatepost_config::Config;
use gatepost_table::{open_table, DomainList, MapList};

use crate::addr_find::AddrMaps;
use crate::canon::{self, CanonSettings};
use crate::error::RewriteError;
use crate::interfaces::OwnAddresses;
use crate::local::LocalDomains;
use crate::params;
use crate::resolve::Resolved;
use crate::resolve_loop::LoopSettings;
use crate::transport::TransportSpec;
use crate::transport_maps;

/// Built once from the configuration; cheap to share (`Arc`).
#[derive(Debug)]
pub struct Rewriter {
    pub(crate) myorigin: String,
    pub(crate) local_domains: LocalDomains,
    pub(crate) virtual_alias_domains: DomainList,
    pub(crate) virtual_mailbox_domains: DomainList,
    pub(crate) relay_domains: DomainList,
    pub(crate) virtual_alias_maps: AddrMaps,
    pub(crate) canonical_maps: AddrMaps,
    pub(crate) recipient_canonical_maps: AddrMaps,
    pub(crate) local_transport: TransportSpec,
    pub(crate) virtual_transport: TransportSpec,
    pub(crate) relay_transport: TransportSpec,
    pub(crate) default_transport: TransportSpec,
    pub(crate) relayhost: String,
    pub(crate) loop_settings: LoopSettings,
    pub(crate) canon_settings: CanonSettings,
    pub(crate) resolve_numeric_domain: bool,
    pub(crate) allow_min_user: bool,
    pub(crate) show_unknown_table: bool,
    pub(crate) recipient_delimiter: String,
    pub(crate) propagate_virtual: bool,
    pub(crate) recursion_limit: usize,
    pub(crate) expansion_limit: usize,
    /// `transport_maps`, when this rewriter resolves for delivery.
    pub(crate) transport_maps: Option<MapList>,
}

fn domain_list(cfg: &Config, name: &str) -> Result<DomainList, RewriteError> {
    let items = params::list(cfg, name);
    let subdomains = params::parent_matches(cfg, name);
    DomainList::parse(&items, subdomains)
        .map_err(|err| RewriteError::Config(format!("{name}: {err}")))
}

fn addr_maps(cfg: &Config, name: &str) -> Result<AddrMaps, RewriteError> {
    let mut tables = Vec::new();
    for spec in params::list(cfg, name) {
        let table =
            open_table(&spec).map_err(|err| RewriteError::Config(format!("{name}: {err}")))?;
        tables.push(table);
    }
    Ok(AddrMaps::new(tables))
}

impl Rewriter {
    pub fn from_config(cfg: &Config) -> Result<Rewriter, RewriteError> {
        let mut myhostname = params::string(cfg, "myhostname", "");
        if myhostname.is_empty() {
            myhostname = gethostname::gethostname().to_string_lossy().into_owned();
        }
        let default_domain = myhostname
            .split_once('.')
            .map_or("localdomain", |(_, rest)| rest)
            .to_string();
        let mydomain = params::string(cfg, "mydomain", &default_domain);
        let myorigin = params::string(cfg, "myorigin", &myhostname);
        let append_dot_mydomain =
            params::boolean(cfg, "append_dot_mydomain", false).then(|| mydomain.clone());
        let swap_bangpath = params::boolean(cfg, "swap_bangpath", true);
        let percent_hack = params::boolean(cfg, "allow_percent_hack", true);

        let own = OwnAddresses::from_items(
            &params::list(cfg, "inet_interfaces"),
            &params::list(cfg, "proxy_interfaces"),
        )?;
        let local_domains = LocalDomains::new(domain_list(cfg, "mydestination")?, own);
        let propagate_virtual = match cfg.raw("propagate_unmatched_extensions") {
            None if cfg.get("propagate_unmatched_extensions").is_empty() => true,
            _ => params::list(cfg, "propagate_unmatched_extensions")
                .iter()
                .any(|item| item.eq_ignore_ascii_case("virtual")),
        };

        Ok(Rewriter {
            local_domains,
            virtual_alias_domains: domain_list(cfg, "virtual_alias_domains")?,
            virtual_mailbox_domains: domain_list(cfg, "virtual_mailbox_domains")?,
            relay_domains: domain_list(cfg, "relay_domains")?,
            virtual_alias_maps: addr_maps(cfg, "virtual_alias_maps")?,
            canonical_maps: addr_maps(cfg, "canonical_maps")?,
            recipient_canonical_maps: addr_maps(cfg, "recipient_canonical_maps")?,
            local_transport: TransportSpec::parse(&params::string(
                cfg,
                "local_transport",
                &format!("local:{myhostname}"),
            )),
            virtual_transport: TransportSpec::parse(&params::string(
                cfg,
                "virtual_transport",
                "virtual",
            )),
            relay_transport: TransportSpec::parse(&params::string(cfg, "relay_transport", "relay")),
            default_transport: TransportSpec::parse(&params::string(
                cfg,
                "default_transport",
                "smtp",
            )),
            relayhost: params::string(cfg, "relayhost", "").trim().to_string(),
            loop_settings: LoopSettings {
                swap_bangpath,
                percent_hack,
                resolve_dequoted: params::boolean(cfg, "resolve_dequoted_address", true),
                resolve_null_domain: params::boolean(cfg, "resolve_null_domain", false),
                append_dot_mydomain: append_dot_mydomain.clone(),
                empty_address_recipient: params::string(
                    cfg,
                    "empty_address_recipient",
                    "MAILER-DAEMON",
                ),
                myhostname,
            },
            canon_settings: CanonSettings {
                swap_bangpath,
                percent_hack,
                append_at_myorigin: params::boolean(cfg, "append_at_myorigin", true),
                myorigin: myorigin.clone(),
                append_dot_mydomain,
            },
            myorigin,
            resolve_numeric_domain: params::boolean(cfg, "resolve_numeric_domain", false),
            allow_min_user: params::boolean(cfg, "allow_min_user", false),
            show_unknown_table: params::boolean(cfg, "show_user_unknown_table_name", true),
            recipient_delimiter: params::string(cfg, "recipient_delimiter", ""),
            propagate_virtual,
            recursion_limit: params::count(cfg, "virtual_alias_recursion_limit", 1000),
            expansion_limit: params::count(cfg, "virtual_alias_expansion_limit", 1000),
            transport_maps: None,
        })
    }

    /// This rewriter with `transport_maps` opened: [`resolve`](Self::resolve)
    /// then returns the transport and next hop delivery uses (the queue
    /// manager's view of trivial-rewrite(8)). Tables that cannot be opened
    /// are logged and make lookups that reach them fail temporarily.
    pub fn with_transport_maps(mut self, cfg: &Config) -> Rewriter {
        self.transport_maps = Some(MapList::open(
            "trivial-rewrite",
            "transport_maps",
            &params::list(cfg, "transport_maps"),
            open_table,
        ));
        self
    }

    /// Cleanup canonicalisation: bare `user` → `user@$myorigin` (append_at_myorigin).
    pub fn canonicalize(&self, addr: &str) -> String {
        canon::canonicalize(addr, &self.canon_settings)
    }

    /// trivial-rewrite resolve: class, transport, next hop and final
    /// recipient, with the `transport_maps` override when this rewriter
    /// has them (`with_transport_maps`).
    pub fn resolve(&self, addr: &str) -> Result<Resolved, RewriteError> {
        let resolved = self.resolve_addr(addr)?;
        match &self.transport_maps {
            Some(maps) => transport_maps::apply(maps, &self.recipient_delimiter, resolved),
            None => Ok(resolved),
        }
    }

    /// Recursive virtual_alias_maps expansion (Postfix cleanup semantics);
    /// an address not in the map expands to itself.
    pub fn expand_virtual_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError> {
        self.expand_aliases(addr)
    }

    /// Whether the address is known through virtual_alias_maps (or canonical maps).
    pub fn is_virtual_alias(&self, addr: &str) -> Result<bool, RewriteError> {
        self.known_by_rewriting(addr)
    }

    /// Postfix `resolve_local`: `mydestination` or an own interface literal.
    pub fn is_local_domain(&self, domain: &str) -> Result<bool, RewriteError> {
        self.local_domains.is_local(domain)
    }

    /// The `user` lookup condition of `mail_addr_find`: the domain is
    /// `$myorigin` or local.
    pub(crate) fn is_local_or_origin(&self, domain: &str) -> Result<bool, RewriteError> {
        Ok(domain.eq_ignore_ascii_case(&self.myorigin) || self.local_domains.is_local(domain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::Rewriter;

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Rewriter>();
    }
}
