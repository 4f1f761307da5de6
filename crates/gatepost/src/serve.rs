//! `gatepost serve`: opens the log, the queue and the listeners of every
//! smtpd service, starts the queue manager with the delivery agents, and
//! runs until SIGINT/SIGTERM. Prints where it listens, where it keeps mail
//! and which configuration it uses.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatepost_config::{params, Config, Interface};
use gatepost_queue::{QmgrSettings, Queue};
use gatepost_rewrite::Rewriter;
use gatepost_smtpd::ServerContext;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub fn serve(cfg: Config) -> Result<ExitCode> {
    // Restriction classes may nest 100 deep (Postfix's limit): give the
    // workers room for that.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
        .context("start async runtime")?;
    runtime.block_on(serve_async(cfg))
}

async fn serve_async(cfg: Config) -> Result<ExitCode> {
    let maillog = cfg.get(&params::MAILLOG_FILE);
    let hostname = cfg.get(&params::MYHOSTNAME);
    let syslog_name = cfg.get(&params::SYSLOG_NAME);
    if maillog.is_empty() {
        gatepost_log::init(gatepost_log::LogTarget::Stderr, &hostname, &syslog_name)
    } else {
        gatepost_log::init(
            gatepost_log::LogTarget::File(std::path::Path::new(&maillog)),
            &hostname,
            &syslog_name,
        )
    }
    .with_context(|| format!("open maillog_file {maillog}"))?;
    for warning in cfg.warnings() {
        gatepost_log::warning("master", warning);
    }

    let queue_dir = PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY));
    let queue =
        Queue::open(&queue_dir).with_context(|| format!("open queue {}", queue_dir.display()))?;
    let rewriter = Arc::new(Rewriter::from_config(&cfg).context("address rewriting")?);
    let agent = gatepost_delivery::build_agent(&cfg, queue.clone(), rewriter.clone())
        .context("delivery agents")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut listening = Vec::new();
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
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        for addr in bind_addresses(&svc_cfg, service.host.as_deref(), service.port)? {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind {addr} for service {}", service.name))?;
            let local = listener.local_addr().unwrap_or(addr);
            listening.push(local);
            let mut rx = stop_rx.clone();
            let ctx = ctx.clone();
            // Sessions served at once per listener (master.cf maxproc `-`).
            let max_sessions = svc_cfg.get(&params::DEFAULT_PROCESS_LIMIT);
            tasks.push(tokio::spawn(async move {
                gatepost_smtpd::serve(listener, ctx, max_sessions, async move {
                    let _ = rx.changed().await;
                })
                .await;
            }));
        }
    }
    if listening.is_empty() {
        bail!("no smtpd service to run (check master.cf)");
    }

    let mut rx = stop_rx.clone();
    let qmgr = tokio::spawn(gatepost_queue::run_qmgr(
        queue.clone(),
        agent,
        QmgrSettings::from_config(&cfg),
        async move {
            let _ = rx.changed().await;
        },
    ));

    for addr in &listening {
        println!("gatepost: listening on {addr}");
    }
    println!("gatepost: queue directory {}", display_path(&queue_dir));
    let spool = cfg.get(&params::MAIL_SPOOL_DIRECTORY);
    let home_mailbox = cfg.get(&params::HOME_MAILBOX);
    if home_mailbox.is_empty() {
        println!(
            "gatepost: local mailboxes under {}",
            display_path(std::path::Path::new(&spool))
        );
    } else {
        println!("gatepost: local mailboxes in ~/{home_mailbox}");
    }
    println!("gatepost: configuration {}", cfg.source());
    gatepost_log::info(
        "master",
        format!(
            "daemon started -- version {}, configuration {}",
            env!("CARGO_PKG_VERSION"),
            cfg.source()
        ),
    );

    wait_for_signal().await;
    gatepost_log::info("master", "terminating on signal");
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), qmgr).await;
    Ok(ExitCode::SUCCESS)
}

/// Listen addresses for a service: its own host, else `inet_interfaces`.
fn bind_addresses(cfg: &Config, host: Option<&str>, port: u16) -> Result<Vec<SocketAddr>> {
    let interfaces = match host {
        Some(h) => vec![Interface::parse(h)],
        None => cfg.inet_interfaces(),
    };
    let mut out = Vec::new();
    for interface in interfaces {
        let ip = match interface {
            Interface::All => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Interface::Loopback => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Interface::Address(ip) => ip,
            Interface::Host(name) => {
                bail!("inet_interfaces: cannot listen on {name:?}: not an IP address")
            }
        };
        out.push(SocketAddr::new(ip, port));
    }
    Ok(out)
}

/// An absolute form of `path` for the start-up message (it may not exist yet).
fn display_path(path: &std::path::Path) -> String {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p.display().to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd
            .join(path.strip_prefix(".").unwrap_or(path))
            .display()
            .to_string(),
        _ => path.display().to_string(),
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
