//! One configuration generation of the running server: the smtpd services
//! of one `main.cf`/`master.cf` reading, each with its own context
//! (restrictions, tables, rewriting), accepting on the listening sockets of
//! the `ListenerPool`. A reload builds the next generation, starts it, and
//! stops the previous one from accepting; sessions the previous one
//! accepted finish on its settings. Every generation counts clients in the
//! server's one anvil (`LocalAnvil`), so rate and connection counts go on
//! across a reload. The delivery agents follow the same
//! rule through `SwappableAgent`: deliveries in progress finish with the
//! agent they started with.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context, Result};
use gatepost_config::{params, Config, Interface, LOOPBACK};
use gatepost_qmgr::{DeliveryAgent, DeliveryOutcome, QueuedMessage, RoutedRecipient};
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;
use gatepost_smtpd::anvil::LocalAnvil;
use gatepost_smtpd::{ServerContext, SessionLimit};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Listening sockets by the address master.cf asks for (`127.0.0.1:0`
/// keeps its ephemeral port across reloads); kept open across generations.
#[derive(Default)]
pub struct ListenerPool {
    sockets: HashMap<SocketAddr, std::net::TcpListener>,
}

impl ListenerPool {
    /// The socket for `addr`, bound now unless already open.
    fn get_or_bind(&mut self, addr: SocketAddr, service: &str) -> Result<&std::net::TcpListener> {
        match self.sockets.entry(addr) {
            Entry::Occupied(open) => Ok(open.into_mut()),
            Entry::Vacant(slot) => {
                let socket = bind(addr)
                    .and_then(|s| s.set_nonblocking(true).map(|()| s))
                    .and_then(|s| set_backlog(&s).map(|()| s))
                    .with_context(|| format!("bind {addr} for service {service}"))?;
                Ok(slot.insert(socket))
            }
        }
    }

    /// Close the sockets no service of `keep` listens on.
    fn retain(&mut self, keep: &[SocketAddr]) {
        self.sockets.retain(|addr, _| keep.contains(addr));
    }
}

/// Bind a listening socket; an IPv6 socket with IPV6_V6ONLY, as Postfix's
/// inet_listen(), so that `[::]` and `0.0.0.0` can share a port.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    if addr.is_ipv4() {
        return std::net::TcpListener::bind(addr);
    }
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_only_v6(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Connections the kernel queues for a listener before `accept` (the
/// standard library's default is 128; bursts of thousands of clients need
/// more). The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 1024;

/// Listen again with [`LISTEN_BACKLOG`] (Linux updates the queue length of
/// a listening socket in place).
fn set_backlog(socket: &std::net::TcpListener) -> std::io::Result<()> {
    use nix::sys::socket::{listen, Backlog};
    let backlog = Backlog::new(LISTEN_BACKLOG).map_err(std::io::Error::from)?;
    listen(socket, backlog).map_err(std::io::Error::from)
}

/// One service ready to accept: its context and its sockets.
struct Service {
    ctx: Arc<ServerContext>,
    listeners: Vec<(SocketAddr, std::net::TcpListener)>,
    /// Sessions served at once by all its listeners.
    limit: Arc<SessionLimit>,
}

/// The accept loops of one generation.
pub struct Generation {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The addresses it accepts on, as bound.
    pub listening: Vec<SocketAddr>,
    /// Services built and bound whose accept loops [`accept`](Self::accept)
    /// has not started yet.
    ready: Vec<Service>,
}

impl Generation {
    /// Build every smtpd service of `cfg` (binding the addresses not yet
    /// open), ready to [`accept`](Self::accept). Nothing starts when any
    /// service fails.
    pub fn start(
        cfg: &Config,
        queue: &Arc<Queue>,
        rewriter: &Arc<Rewriter>,
        pool: &mut ListenerPool,
        anvil: &Arc<LocalAnvil>,
    ) -> Result<Generation> {
        let mut services = Vec::new();
        let mut wanted = Vec::new();
        for service in cfg.services() {
            let svc_cfg = cfg.with_overrides(&service.overrides);
            svc_cfg
                .validate()
                .with_context(|| format!("master.cf service {}", service.name))?;
            let svc_rewriter = if service.overrides.is_empty() {
                rewriter.clone()
            } else {
                Arc::new(Rewriter::from_config(&svc_cfg).context("address rewriting")?)
            };
            let ctx = Arc::new(
                ServerContext::new(&service.name, &svc_cfg, queue.clone(), svc_rewriter)
                    .and_then(|ctx| ctx.with_tls(&svc_cfg))
                    .map_err(|e| anyhow::anyhow!("master.cf service {}: {e}", service.name))?
                    .with_client_events(anvil.clone()),
            );
            let mut listeners = Vec::new();
            for addr in bind_addresses(&svc_cfg, service.host.as_deref(), service.port)? {
                let socket = pool.get_or_bind(addr, &service.name)?;
                let local = socket.local_addr().unwrap_or(addr);
                let clone = socket
                    .try_clone()
                    .with_context(|| format!("listener {addr}"))?;
                listeners.push((local, clone));
                wanted.push(addr);
            }
            // master(8) reads maxproc from master.cf, `-` meaning
            // main.cf's default_process_limit.
            let max = service
                .process_limit
                .unwrap_or_else(|| cfg.get(&params::DEFAULT_PROCESS_LIMIT));
            let endpoint = match &service.host {
                Some(host) => format!("{host}:{}", service.port),
                None => service.port.to_string(),
            };
            services.push(Service {
                ctx,
                listeners,
                limit: SessionLimit::new(max, &service.name, &endpoint),
            });
        }
        if wanted.is_empty() {
            bail!("no smtpd service to run (check master.cf)");
        }
        pool.retain(&wanted);
        anvil.set_rate_time_unit(cfg.get(&params::ANVIL_RATE_TIME_UNIT));
        let anvil = anvil.clone();

        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let status_interval = cfg.get(&params::ANVIL_STATUS_UPDATE_TIME);
        let mut rx = stop_rx;
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = anvil.log_status_every(status_interval) => {}
                _ = rx.changed() => {}
            }
        }));
        let listening = services
            .iter()
            .flat_map(|s| s.listeners.iter().map(|(local, _)| *local))
            .collect();
        Ok(Generation {
            stop,
            tasks,
            listening,
            ready: services,
        })
    }

    /// Start the accept loops. Apart from [`start`](Self::start), so that
    /// a server started as root accepts no connection before it has given
    /// up root: no session, and no file it writes, runs with root's rights.
    pub fn accept(&mut self) -> Result<()> {
        for service in std::mem::take(&mut self.ready) {
            for (local, socket) in service.listeners {
                let listener = tokio::net::TcpListener::from_std(socket)
                    .with_context(|| format!("listen on {local}"))?;
                let mut rx = self.stop.subscribe();
                let ctx = service.ctx.clone();
                let limit = service.limit.clone();
                self.tasks.push(tokio::spawn(async move {
                    gatepost_smtpd::serve(listener, ctx, limit, async move {
                        let _ = rx.changed().await;
                    })
                    .await;
                }));
            }
        }
        Ok(())
    }

    /// Stop accepting (the sockets stay open in the pool); sessions in
    /// progress go on.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Listen addresses for a service: its own host, else `inet_interfaces`,
/// in the families of `inet_protocols` (postconf(5)): `all` is `0.0.0.0`
/// and/or `[::]`, `loopback-only` `127.0.0.1` and/or `::1`; an address of
/// a disabled family is Postfix's fatal `host not found`. An ephemeral
/// port (`host:0`, `all` only) is taken in the first family alone, so that
/// the service has one port.
fn bind_addresses(cfg: &Config, host: Option<&str>, port: u16) -> Result<Vec<SocketAddr>> {
    let mut families = cfg.inet_protocols()?;
    // As Postfix's inet_proto_init(): a host without IPv6 support drops it.
    if families.ipv6
        && socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).is_err()
    {
        families.ipv6 = false;
    }
    let interfaces = match host {
        Some(h) => vec![Interface::parse(h)],
        None => cfg.inet_interfaces(),
    };
    let wildcard = [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ];
    let mut out = Vec::new();
    for interface in interfaces {
        let ips: Vec<IpAddr> = match interface {
            Interface::All => {
                let mut ips: Vec<IpAddr> = wildcard
                    .into_iter()
                    .filter(|ip| families.allows(ip))
                    .collect();
                if port == 0 {
                    ips.truncate(1);
                }
                ips
            }
            Interface::Loopback => LOOPBACK
                .into_iter()
                .filter(|ip| families.allows(ip))
                .collect(),
            Interface::Address(ip) if families.allows(&ip) => vec![ip],
            Interface::Address(ip) => {
                bail!("config variable inet_interfaces: host not found: {ip}")
            }
            Interface::Host(name) => {
                bail!("inet_interfaces: cannot listen on {name:?}: not an IP address")
            }
        };
        out.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, port)));
    }
    Ok(out)
}

/// The delivery agents of the current generation, replaced on reload; the
/// queue manager keeps one handle for its whole life.
pub struct SwappableAgent {
    current: RwLock<Arc<dyn DeliveryAgent>>,
}

impl SwappableAgent {
    pub fn new(agent: Arc<dyn DeliveryAgent>) -> SwappableAgent {
        SwappableAgent {
            current: RwLock::new(agent),
        }
    }

    /// Deliveries that start from now on use `agent`.
    pub fn replace(&self, agent: Arc<dyn DeliveryAgent>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = agent;
    }

    fn current(&self) -> Arc<dyn DeliveryAgent> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait::async_trait]
impl DeliveryAgent for SwappableAgent {
    async fn deliver(
        &self,
        msg: &QueuedMessage,
        recipients: &[RoutedRecipient],
    ) -> Vec<DeliveryOutcome> {
        let agent = self.current();
        agent.deliver(msg, recipients).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(main_cf: &str, host: Option<&str>, port: u16) -> Result<Vec<String>> {
        let cfg = Config::parse_main_cf(main_cf, "main.cf")?;
        Ok(bind_addresses(&cfg, host, port)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    #[test]
    fn listen_addresses_follow_inet_protocols() {
        let cases: &[(&str, &[&str])] = &[
            ("", &["0.0.0.0:25", "[::]:25"]),
            ("inet_protocols = ipv4", &["0.0.0.0:25"]),
            ("inet_protocols = ipv6", &["[::]:25"]),
            (
                "inet_interfaces = loopback-only",
                &["127.0.0.1:25", "[::1]:25"],
            ),
            (
                "inet_interfaces = loopback-only\ninet_protocols = ipv4",
                &["127.0.0.1:25"],
            ),
            (
                "inet_interfaces = 127.0.0.1, ::1\ninet_protocols = all",
                &["127.0.0.1:25", "[::1]:25"],
            ),
        ];
        for (main_cf, want) in cases {
            assert_eq!(addrs(main_cf, None, 25).unwrap(), *want, "{main_cf}");
        }
        // An ephemeral port is taken in one family only.
        assert_eq!(addrs("", None, 0).unwrap(), ["0.0.0.0:0"]);
        // A service's own address of a disabled family is not found.
        let err = addrs("inet_protocols = ipv4", Some("::1"), 25).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config variable inet_interfaces: host not found: ::1"
        );
        assert!(addrs("inet_protocols = ipv5", None, 25).is_err());
    }

    #[test]
    fn ipv6_wildcard_shares_the_port_with_ipv4() {
        let v4 = bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        match bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)) {
            Ok(v6) => assert_eq!(v6.local_addr().unwrap().port(), port),
            // No IPv6 on this host: nothing to show.
            Err(e) => eprintln!("skipped: no IPv6 here: {e}"),
        }
    }
}
