//! `gatepost serve`: opens the log, the queue and the listeners of every
//! smtpd service, starts the queue manager with the delivery agents, and
//! runs until SIGINT/SIGTERM. Prints where it listens, where it keeps mail
//! and which configuration it uses.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatepost_config::Config;
use gatepost_queue::{QmgrSettings, Queue};
use gatepost_rewrite::Rewriter;
use gatepost_smtpd::ServerContext;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Sessions served at once per listener (master.cf maxproc default).
const DEFAULT_PROCESS_LIMIT: usize = 100;

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
    let maillog = cfg.get("maillog_file");
    let hostname = cfg.get("myhostname");
    let syslog_name = cfg.get("syslog_name");
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

    let queue_dir = PathBuf::from(cfg.get("queue_directory"));
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
                .and_then(|ctx| ctx.with_tls(&svc_cfg))
                .map_err(|e| anyhow::anyhow!("master.cf service {}: {e}", service.name))?,
        );
        for addr in bind_addresses(&svc_cfg, service.host.as_deref(), service.port)? {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind {addr} for service {}", service.name))?;
            let local = listener.local_addr().unwrap_or(addr);
            listening.push(local);
            let mut rx = stop_rx.clone();
            let ctx = ctx.clone();
            tasks.push(tokio::spawn(async move {
                gatepost_smtpd::serve(listener, ctx, DEFAULT_PROCESS_LIMIT, async move {
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
    let spool = cfg.get("mail_spool_directory");
    let home_mailbox = cfg.get("home_mailbox");
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
    let hosts: Vec<String> = match host {
        Some(h) => vec![h.to_string()],
        None => cfg.get_list("inet_interfaces"),
    };
    let mut out = Vec::new();
    for h in hosts {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = match h.to_ascii_lowercase().as_str() {
            "all" => "0.0.0.0".parse()?,
            "localhost" | "loopback-only" => "127.0.0.1".parse()?,
            other => other.parse().with_context(|| {
                format!("inet_interfaces: cannot listen on {other:?}: not an IP address")
            })?,
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
