//! The `smtp` delivery agent (Postfix smtp(8)): recipients that resolve to
//! the `smtp` or `relay` transport are grouped by next hop; for each next
//! hop the server list is built (`addr_list`), each address is tried in
//! turn (`conn`, at most `smtp_mx_address_limit` addresses and
//! `smtp_mx_session_limit` conversations), and one conversation
//! (`session`) delivers the message to all recipients of the group.
//! Recipients deferred by one server are offered to the next; what is left
//! at the end keeps its last reason. Connection failures are logged as
//! `connect to HOST[ADDR]:PORT: REASON` (info) and give
//! `relay=none, dsn=4.4.1`. A hard lookup failure for the `relayhost`
//! becomes 4.3.5 with `warning: relayhost configuration problem`.
//!
//! Files: `addr_family` (address family order), `destination` (next-hop syntax), `smtp_params` (parameters),
//! `resolver` (DNS seam), `dns_glue` (gatepost-dns adapter), `own_addr`
//! (our addresses), `addr_list` (MX → address list, loop detection),
//! `conn` (TCP + timeouts), `reply` (reply reader), `ehlo` (features),
//! `message_out` (DATA encoding), `session` (the conversation),
//! `tls_policy` (the TLS level per next hop), `starttls` (the TLS step and
//! the certificate check), `sasl_client` (AUTH to the next hop),
//! `lmtp_hop` (LMTP next hops), `conn_cache` (connections kept open
//! between deliveries: on demand, `smtp_connection_cache_destinations`, the
//! RSET probe, `conn_use=N` after `relay=` in the delivery line).
//!
//! The same agent speaks LMTP (RFC 2033) for the `lmtp` transport
//! (Postfix's smtp(8) run as lmtp): built by [`SmtpAgent::lmtp_from_config`],
//! it connects to `unix:` sockets or TCP hosts without MX lookups, greets
//! with LHLO, and reads one reply per accepted recipient after the content;
//! its log lines are `postfix/lmtp`'s, e.g.
//! `relay=HOST[private/dovecot-lmtp]`.

mod addr_family;
mod addr_list;
mod conn;
mod conn_cache;
mod destination;
mod dns_glue;
mod ehlo;
mod lmtp_hop;
mod message_out;
mod own_addr;
mod reply;
mod resolver;
mod sasl_client;
mod session;
mod smtp_params;
mod starttls;
mod tls_policy;

use std::sync::Arc;
use std::time::Instant;

use gatepost_config::{params, Config};
use gatepost_qmgr::{DeliveryOutcome, DeliveryStatus, QueuedMessage};

use crate::verdict::Verdict;
use crate::DeliveryError;

use addr_list::{resolve_targets, Target};
use destination::Destination;
use own_addr::OwnAddresses;
pub(crate) use resolver::{NativeResolver, Resolver};
use session::{Job, SessionCtx};
pub(crate) use smtp_params::SmtpParams;

/// The resolver for this configuration: DNS (gatepost-dns), or the
/// system's host lookups only with `disable_dns_lookups = yes` /
/// `smtp_host_lookup = native`.
pub(crate) fn default_resolver(cfg: &Config) -> Arc<dyn Resolver> {
    resolver_for(cfg, &params::SMTP_HOST_LOOKUP)
}

/// The LMTP client's resolver (`lmtp_host_lookup`).
pub(crate) fn lmtp_resolver(cfg: &Config) -> Arc<dyn Resolver> {
    resolver_for(cfg, &params::LMTP_HOST_LOOKUP)
}

fn resolver_for(
    cfg: &Config,
    host_lookup: &gatepost_config::Param<Vec<String>>,
) -> Arc<dyn Resolver> {
    let native_only = cfg.get(&params::DISABLE_DNS_LOOKUPS)
        || cfg
            .get(host_lookup)
            .iter()
            .all(|m| !m.eq_ignore_ascii_case("dns"));
    if native_only {
        Arc::new(NativeResolver)
    } else {
        Arc::new(dns_glue::DnsResolver::from_config(cfg))
    }
}

/// One recipient for the SMTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmtpRcpt {
    /// Index into the envelope's recipients.
    pub index: usize,
    /// Address for `RCPT TO` (internal form).
    pub address: String,
}

/// One next hop: as written, parsed, and its TLS policy.
struct Route<'a> {
    spec: &'a str,
    dest: &'a Destination,
    tls: &'a tls_policy::DestPolicy,
}

/// Whether a recipient's outcome at one next hop leaves it for the next
/// (a fallback relay): deferred, or a hard failure to find the next hop's
/// servers, except mail that loops back to myself.
fn try_next_site(outcome: &DeliveryOutcome) -> bool {
    match outcome.status {
        DeliveryStatus::Deferred => true,
        DeliveryStatus::Bounced => outcome.relay == "none" && outcome.dsn != "5.4.6",
        _ => false,
    }
}

/// Why a next hop gave no server to try.
enum Lookup {
    Config(destination::DestinationError),
    Failed(addr_list::AddrFailure),
}

#[derive(Debug)]
pub(crate) struct SmtpAgent {
    params: SmtpParams,
    myhostname: String,
    own: OwnAddresses,
    resolver: Arc<dyn Resolver>,
    /// Connections kept open between deliveries (conn_cache.rs).
    cache: conn_cache::ConnCache,
}

impl SmtpAgent {
    pub(crate) fn from_config(
        cfg: &Config,
        resolver: Arc<dyn Resolver>,
    ) -> Result<SmtpAgent, DeliveryError> {
        let params = SmtpParams::from_config(cfg)?;
        let own = own_addr::own_addresses(cfg)?;
        let myhostname = cfg.get(&params::MYHOSTNAME);
        Ok(SmtpAgent {
            cache: conn_cache::ConnCache::new(params.cache.clone()),
            params,
            myhostname,
            own,
            resolver,
        })
    }

    /// The LMTP client (the `lmtp` transport).
    pub(crate) fn lmtp_from_config(
        cfg: &Config,
        resolver: Arc<dyn Resolver>,
    ) -> Result<SmtpAgent, DeliveryError> {
        let lmtp = SmtpParams::lmtp_from_config(cfg)?;
        Ok(SmtpAgent {
            cache: conn_cache::ConnCache::new(lmtp.cache.clone()),
            params: lmtp,
            myhostname: cfg.get(&params::MYHOSTNAME),
            own: OwnAddresses::default(),
            resolver,
        })
    }

    /// Program name in log lines and outcomes: `smtp` or `lmtp`.
    pub(crate) fn agent(&self) -> &'static str {
        self.params.agent
    }

    #[cfg(test)]
    pub(crate) fn for_tests(
        params: SmtpParams,
        own: OwnAddresses,
        resolver: Arc<dyn Resolver>,
    ) -> SmtpAgent {
        SmtpAgent {
            cache: conn_cache::ConnCache::new(params.cache.clone()),
            params,
            myhostname: "mx.spec.test".to_string(),
            own,
            resolver,
        }
    }

    /// Deliver `content` to `rcpts`, all for `nexthop`; what that next hop
    /// defers, or cannot find, goes on to each `smtp_fallback_relay` in
    /// turn (Postfix's smtp_connect.c: not after mail loops back to
    /// myself; a hard lookup failure of a fallback relay is a 4.3.5
    /// `smtp_fallback_relay configuration problem`).
    pub(crate) async fn deliver(
        &self,
        msg: &QueuedMessage,
        content: &[u8],
        nexthop: &str,
        rcpts: &[SmtpRcpt],
    ) -> Vec<DeliveryOutcome> {
        let sites = std::iter::once(nexthop)
            .chain(self.params.fallback_relay.iter().map(String::as_str))
            .collect::<Vec<_>>();
        let mut pending = rcpts.to_vec();
        let mut done = Vec::with_capacity(rcpts.len());
        for (n, site) in sites.iter().enumerate() {
            let outcomes = self.deliver_site(msg, content, site, &pending, n > 0).await;
            if n + 1 == sites.len() {
                done.extend(outcomes);
                break;
            }
            let (retry, finished): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(try_next_site);
            done.extend(finished);
            if let Some(first) = retry.first() {
                gatepost_log::info(self.params.agent, format!("{}: {}", msg.id, first.text));
            }
            pending.retain(|r| retry.iter().any(|o| o.recipient == r.index));
            if pending.is_empty() {
                break;
            }
        }
        done
    }

    /// One next hop of [`SmtpAgent::deliver`]; `fallback` when it is an
    /// `smtp_fallback_relay`.
    async fn deliver_site(
        &self,
        msg: &QueuedMessage,
        content: &[u8],
        nexthop: &str,
        rcpts: &[SmtpRcpt],
        fallback: bool,
    ) -> Vec<DeliveryOutcome> {
        let agent = self.params.agent;
        let all_none = |v: Verdict| -> Vec<DeliveryOutcome> {
            rcpts
                .iter()
                .map(|r| v.clone().into_outcome(r.index, agent, "none"))
                .collect()
        };
        let (dest, targets) = match self.targets(nexthop).await {
            Ok(found) => found,
            Err(Lookup::Config(err)) => {
                gatepost_log::warning(agent, format!("{}: {err}", msg.id));
                return all_none(Verdict::deferred(
                    "4.3.5",
                    "mail system configuration error",
                ));
            }
            Err(Lookup::Failed(failure)) => {
                let is_relayhost =
                    !self.params.relayhost.is_empty() && nexthop == self.params.relayhost;
                let v = if !failure.is_soft() && fallback {
                    gatepost_log::warning(agent, "smtp_fallback_relay configuration problem");
                    Verdict::deferred("4.3.5", failure.text)
                } else if !failure.is_soft() && is_relayhost {
                    gatepost_log::warning(agent, "relayhost configuration problem");
                    Verdict::deferred("4.3.5", failure.text)
                } else if failure.is_soft() {
                    Verdict::deferred(&failure.dsn, failure.text)
                } else {
                    Verdict::bounced(&failure.dsn, failure.text)
                };
                return all_none(v);
            }
        };
        let tls = match self.params.tls.for_nexthop(nexthop) {
            Ok(policy) => policy,
            Err(verdict) => {
                if let Some(first) = targets.first() {
                    gatepost_log::warning(
                        agent,
                        format!(
                            "TLS policy lookup for {}/{}: {}",
                            nexthop.trim(),
                            first.host,
                            verdict.text
                        ),
                    );
                }
                return all_none(verdict);
            }
        };
        let route = Route {
            spec: nexthop,
            dest: &dest,
            tls: &tls,
        };
        self.deliver_to(msg, content, &route, &targets, rcpts).await
    }

    /// The parsed next hop and the servers to try.
    async fn targets(&self, nexthop: &str) -> Result<(Destination, Vec<Target>), Lookup> {
        let p = &self.params;
        let dest = if p.lmtp {
            let hop = lmtp_hop::parse(
                nexthop,
                p.default_port,
                &p.queue_directory,
                &self.myhostname,
            )
            .map_err(Lookup::Config)?;
            match hop {
                lmtp_hop::LmtpHop::Unix(target) => {
                    let dest = Destination {
                        host: self.myhostname.clone(),
                        port: 0,
                        literal: true,
                    };
                    return Ok((dest, vec![target]));
                }
                lmtp_hop::LmtpHop::Inet(dest) => dest,
            }
        } else {
            Destination::parse(nexthop, p.default_port).map_err(Lookup::Config)?
        };
        let targets = resolve_targets(
            self.resolver.as_ref(),
            &dest,
            &self.own,
            p.ignore_mx_lookup_error,
            p.randomize_addresses,
        )
        .await
        .map_err(Lookup::Failed)?;
        let targets = addr_family::arrange(
            addr_family::enabled(targets, p.families, &dest.host).map_err(Lookup::Failed)?,
            p.address_preference,
            p.balance_inet_protocols,
            p.mx_address_limit,
        );
        Ok((dest, targets))
    }

    async fn deliver_to(
        &self,
        msg: &QueuedMessage,
        content: &[u8],
        route: &Route<'_>,
        targets: &[addr_list::Target],
        rcpts: &[SmtpRcpt],
    ) -> Vec<DeliveryOutcome> {
        let dest = route.dest;
        let agent = self.params.agent;
        let data = message_out::encode_data(content, self.params.line_length_limit);
        // The AUTH= identity smtpd stored, passed on after a login.
        let auth = if self.params.sasl.enabled {
            msg.file()
                .and_then(|path| gatepost_queue::read_sender_auth(path, msg.id.as_str()))
                .ok()
                .flatten()
        } else {
            None
        };
        let sender = gatepost_rewrite::quote_address(&msg.envelope.sender);
        let sender = if msg.envelope.sender.is_empty() {
            String::new()
        } else {
            sender
        };
        let mut pending: Vec<(usize, String)> = rcpts
            .iter()
            .map(|r| (r.index, gatepost_rewrite::quote_address(&r.address)))
            .collect();
        let mut done: Vec<DeliveryOutcome> = Vec::new();
        let mut last: Option<(Verdict, String)> = None;
        let best_pref = targets.first().map(|t| t.pref);
        let limit = |n: usize| if n == 0 { usize::MAX } else { n };
        // Connection caching (conn_cache.rs): TLS and AUTH sessions are
        // never cached, so a client that may log in does not use the cache.
        let policy = if self.params.sasl.enabled {
            conn_cache::Policy::default()
        } else {
            self.cache.start(route.spec, &dest.host)
        };
        let level = route.tls.level;
        let mut dest_label = policy
            .store
            .then(|| conn_cache::dest_key(route.spec, level));
        // A connection cached under this next hop comes first.
        let mut from_dest = None;
        if policy.load {
            from_dest = self
                .reuse(
                    self.cache
                        .take_dest(&conn_cache::dest_key(route.spec, level)),
                )
                .await;
        }
        let mut order: Vec<Target> = Vec::with_capacity(targets.len() + 1);
        if let Some(cached) = &from_dest {
            order.push(cached.target.clone());
        }
        order.extend(
            targets
                .iter()
                .filter(|t| {
                    from_dest
                        .as_ref()
                        .is_none_or(|c| c.target.relay() != t.relay())
                })
                .cloned(),
        );
        let mut sessions = 0;
        let count = order.len();
        for (tried, target) in order.iter().enumerate() {
            if pending.is_empty()
                || tried >= limit(self.params.mx_address_limit)
                || sessions >= limit(self.params.mx_session_limit)
            {
                break;
            }
            let endp = conn_cache::endp_key(target, level);
            let cached = match from_dest.take() {
                Some(c) => Some(c),
                None if policy.load => self.reuse(self.cache.take_endp(&endp)).await,
                None => None,
            };
            let (mut conn, reused, expires, reuse_count) = match cached {
                Some(c) => (c.conn, Some(c.ready), c.expires, c.reuse_count + 1),
                None => match conn::connect(
                    target,
                    self.params.bind_address,
                    self.params.bind_address6,
                    self.params.timeouts.connect,
                )
                .await
                {
                    Ok(c) => {
                        let expires = Instant::now() + self.cache.settings.reuse_time_limit;
                        (c, None, expires, 0)
                    }
                    Err(text) => {
                        gatepost_log::info(agent, &text);
                        last = Some((Verdict::deferred("4.4.1", text), "none".to_string()));
                        continue;
                    }
                },
            };
            sessions += 1;
            let job = Job {
                sender: &sender,
                recipients: &pending,
                data: &data,
                // SIZE= counts CRLF line ends, as the message goes out.
                size: content.len() as u64 + content.iter().filter(|&&b| b == b'\n').count() as u64,
                eight_bit: message_out::has_8bit(content),
                queue_id: msg.id.as_str(),
                auth: auth.as_deref(),
            };
            let ctx = SessionCtx {
                params: &self.params,
                myhostname: &self.myhostname,
                nexthop: &dest.host,
                nexthop_spec: route.spec,
                dest,
                tls: route.tls,
                loop_detect: !self.params.lmtp && dest.port == 25,
                best_mx: Some(target.pref) == best_pref,
            };
            let keep = policy.store && self.cache.reusable(expires, reuse_count);
            let finished = session::deliver(&mut conn, target, &ctx, &job, reused, keep).await;
            if let Some(ready) = finished.keep {
                let cached = conn_cache::Cached {
                    conn,
                    target: target.clone(),
                    ready,
                    expires,
                    reuse_count,
                };
                // The first good connection is also cached under the next hop.
                self.cache.save(dest_label.take(), endp, cached);
            }
            // Postfix logs `conn_use=N` right after `relay=` for a reused
            // connection; the delivery line prints the relay as given.
            let relay = match reuse_count {
                0 => target.relay(),
                n => format!("{}, conn_use={}", target.relay(), n + 1),
            };
            let mut still = Vec::new();
            for ((index, address), (_, verdict)) in pending.iter().zip(finished.results) {
                if verdict.status == DeliveryStatus::Deferred {
                    last = Some((verdict.clone(), relay.clone()));
                    still.push((*index, address.clone(), verdict, relay.clone()));
                } else {
                    done.push(verdict.into_outcome(*index, agent, &relay));
                }
            }
            let more = tried + 1 < count;
            if more && !still.is_empty() {
                if let Some((v, _)) = &last {
                    gatepost_log::info(agent, format!("{}: {}", msg.id, v.text));
                }
            }
            if !more || sessions >= limit(self.params.mx_session_limit) {
                // Keep each recipient's own last reason.
                for (index, _, verdict, relay) in &still {
                    done.push(verdict.clone().into_outcome(*index, agent, relay));
                }
                pending.clear();
                break;
            }
            pending = still.into_iter().map(|(i, a, _, _)| (i, a)).collect();
        }
        if !self.params.sasl.enabled {
            self.cache.finish(route.spec);
        }
        if !pending.is_empty() {
            let (v, relay) = last.unwrap_or_else(|| {
                (
                    Verdict::deferred("4.3.0", "server unavailable or unable to receive mail"),
                    "none".to_string(),
                )
            });
            for (index, _) in &pending {
                done.push(v.clone().into_outcome(*index, agent, &relay));
            }
        }
        done
    }
}

impl SmtpAgent {
    /// A cached connection that answers an RSET probe (Postfix's
    /// smtp_reuse_common()); one the server closed, or that refuses RSET,
    /// is dropped without a word.
    async fn reuse(&self, cached: Option<conn_cache::Cached>) -> Option<conn_cache::Cached> {
        let mut cached = cached?;
        let t = self.cache.settings.rset_timeout;
        match cached.conn.command("RSET", t, "sending RSET probe").await {
            Ok(reply) if reply.class() == 2 => Some(cached),
            _ => None,
        }
    }
}

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod lmtp_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
