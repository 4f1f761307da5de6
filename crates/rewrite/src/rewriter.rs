//! The `Rewriter`: all rewrite/resolve settings read once from `main.cf`
//! through their typed handles (`from_config`), shared read-only (`Arc`) by smtpd, cleanup and the
//! delivery agents. Parameters: myhostname, mydomain, myorigin,
//! mydestination, inet_interfaces, proxy_interfaces, virtual_alias_domains,
//! virtual_mailbox_domains, relay_domains (+ parent_domain_matches_subdomains),
//! virtual_alias_maps, canonical_maps, sender_canonical_maps,
//! recipient_canonical_maps, the canonical and masquerade classes,
//! masquerade_domains, masquerade_exceptions,
//! local/virtual/relay/default_transport, relayhost, allow_percent_hack,
//! swap_bangpath, resolve_dequoted_address, resolve_null_domain,
//! resolve_numeric_domain, recipient_delimiter, append_at_myorigin,
//! append_dot_mydomain, empty_address_recipient, allow_min_user,
//! show_user_unknown_table_name, propagate_unmatched_extensions,
//! virtual_alias_recursion_limit, virtual_alias_expansion_limit; and, for
//! the queue manager's rewriter only (`with_transport_maps`), transport_maps.

use gatepost_config::{params, Config, Param};
use gatepost_table::{open_table, DomainList, MapList};

use crate::addr_find::AddrMaps;
use crate::canon::{self, CanonSettings};
use crate::canonical_maps::CanonicalRules;
use crate::error::RewriteError;
use crate::interfaces::OwnAddresses;
use crate::local::LocalDomains;
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
    /// `sender_canonical_maps`, the `*_classes` and masquerading.
    pub(crate) canonical_rules: CanonicalRules,
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

fn domain_list(cfg: &Config, param: &Param<Vec<String>>) -> Result<DomainList, RewriteError> {
    let subdomains = cfg.parent_domain_matches(param.name());
    DomainList::parse(&cfg.get(param), subdomains)
        .map_err(|err| RewriteError::Config(format!("{}: {err}", param.name())))
}

fn addr_maps(cfg: &Config, param: &Param<Vec<String>>) -> Result<AddrMaps, RewriteError> {
    let mut tables = Vec::new();
    for spec in cfg.get(param) {
        let table = open_table(&spec)
            .map_err(|err| RewriteError::Config(format!("{}: {err}", param.name())))?;
        tables.push(table);
    }
    Ok(AddrMaps::new(tables))
}

impl Rewriter {
    pub fn from_config(cfg: &Config) -> Result<Rewriter, RewriteError> {
        let myhostname = cfg.get(&params::MYHOSTNAME);
        let mydomain = cfg.get(&params::MYDOMAIN);
        let myorigin = cfg.get(&params::MYORIGIN);
        let append_dot_mydomain = cfg
            .get(&params::APPEND_DOT_MYDOMAIN)
            .then(|| mydomain.clone());
        let swap_bangpath = cfg.get(&params::SWAP_BANGPATH);
        let percent_hack = cfg.get(&params::ALLOW_PERCENT_HACK);

        let own = OwnAddresses::from_config(cfg)?;
        let local_domains = LocalDomains::new(domain_list(cfg, &params::MYDESTINATION)?, own);
        let propagate_virtual = cfg
            .get(&params::PROPAGATE_UNMATCHED_EXTENSIONS)
            .iter()
            .any(|item| item.eq_ignore_ascii_case("virtual"));

        Ok(Rewriter {
            local_domains,
            virtual_alias_domains: domain_list(cfg, &params::VIRTUAL_ALIAS_DOMAINS)?,
            virtual_mailbox_domains: domain_list(cfg, &params::VIRTUAL_MAILBOX_DOMAINS)?,
            relay_domains: domain_list(cfg, &params::RELAY_DOMAINS)?,
            virtual_alias_maps: addr_maps(cfg, &params::VIRTUAL_ALIAS_MAPS)?,
            canonical_maps: addr_maps(cfg, &params::CANONICAL_MAPS)?,
            recipient_canonical_maps: addr_maps(cfg, &params::RECIPIENT_CANONICAL_MAPS)?,
            canonical_rules: CanonicalRules::from_config(
                cfg,
                addr_maps(cfg, &params::SENDER_CANONICAL_MAPS)?,
            )?,
            local_transport: TransportSpec::parse(&cfg.get(&params::LOCAL_TRANSPORT)),
            virtual_transport: TransportSpec::parse(&cfg.get(&params::VIRTUAL_TRANSPORT)),
            relay_transport: TransportSpec::parse(&cfg.get(&params::RELAY_TRANSPORT)),
            default_transport: TransportSpec::parse(&cfg.get(&params::DEFAULT_TRANSPORT)),
            relayhost: cfg.get(&params::RELAYHOST),
            loop_settings: LoopSettings {
                swap_bangpath,
                percent_hack,
                resolve_dequoted: cfg.get(&params::RESOLVE_DEQUOTED_ADDRESS),
                resolve_null_domain: cfg.get(&params::RESOLVE_NULL_DOMAIN),
                append_dot_mydomain: append_dot_mydomain.clone(),
                empty_address_recipient: cfg.get(&params::EMPTY_ADDRESS_RECIPIENT),
                myhostname,
            },
            canon_settings: CanonSettings {
                swap_bangpath,
                percent_hack,
                append_at_myorigin: cfg.get(&params::APPEND_AT_MYORIGIN),
                myorigin: myorigin.clone(),
                append_dot_mydomain,
            },
            myorigin,
            resolve_numeric_domain: cfg.get(&params::RESOLVE_NUMERIC_DOMAIN),
            allow_min_user: cfg.get(&params::ALLOW_MIN_USER),
            show_unknown_table: cfg.get(&params::SHOW_USER_UNKNOWN_TABLE_NAME),
            recipient_delimiter: cfg.get(&params::RECIPIENT_DELIMITER),
            propagate_virtual,
            recursion_limit: cfg.get(&params::VIRTUAL_ALIAS_RECURSION_LIMIT),
            expansion_limit: cfg.get(&params::VIRTUAL_ALIAS_EXPANSION_LIMIT),
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
            params::TRANSPORT_MAPS.name(),
            &cfg.get(&params::TRANSPORT_MAPS),
            open_table,
        ));
        self
    }

    /// Cleanup canonicalisation: bare `user` → `user@$myorigin` (append_at_myorigin).
    pub fn canonicalize(&self, addr: &str) -> String {
        canon::canonicalize(addr, &self.canon_settings)
    }

    /// trivial-rewrite resolve (docs/address-classes.md#resolving-an-address):
    /// class, transport, next hop and final recipient, with the
    /// `transport_maps` override when this rewriter has them
    /// (`with_transport_maps`).
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
