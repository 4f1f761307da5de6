//! `gatepost serve`: opens the log, takes the master lock and pid file,
//! opens the queue and the listeners of every smtpd service, starts the
//! queue manager with the delivery agents, and runs until SIGTERM/SIGINT,
//! as Postfix's master(8): SIGHUP reloads `main.cf`, `master.cf` and the
//! tables (new sessions and deliveries use them, those in progress finish
//! on the old ones; a configuration that fails to load is logged and the
//! old one kept) and reopens `maillog_file`. A configuration that asks for
//! a feature whose absence would weaken security or filtering (the
//! fail-closed check of `gatepost_config`) is refused at start and reload. In the foreground it prints
//! where it listens, where it keeps mail and which configuration it uses;
//! as a daemon (`gatepost start`) it logs to syslog when `maillog_file` is
//! empty. With `gatepost_metrics_listen` set it serves the Prometheus
//! endpoint (`metrics_http`), bound once at start.
//! Started as root, it gives up root once the listeners are open
//! and leaves local delivery to privileged helpers (`privsep`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use gatepost_config::{params, Config};
use gatepost_qmgr::QmgrSettings;
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use crate::generation::{Generation, ListenerPool, SwappableAgent};
use crate::logging::Fallback;
use crate::master_lock::{LockError, MasterLock};
use gatepost_smtpd::anvil::LocalAnvil;

/// How the server was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `gatepost serve`: attached to the terminal, stderr log by default.
    Foreground,
    /// `gatepost start`: detached, syslog by default.
    Daemon,
}

pub fn serve(config_dir: Option<PathBuf>, cfg: Config, mode: Mode) -> Result<ExitCode> {
    if mode == Mode::Daemon {
        crate::daemon::leave_terminal_session();
    }
    // Restriction classes may nest 100 deep (Postfix's limit): give the
    // workers room for that.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
        .context("start async runtime")?;
    let delivery = delivery_runtime()?;
    let result = runtime.block_on(serve_async(
        config_dir,
        cfg,
        mode,
        delivery.handle().clone(),
    ));
    delivery.shutdown_background();
    result
}

/// Nice value of the threads that deliver (ARCHITECTURE.md, "Receiving
/// before delivering"): when both have work, the machine's time goes to
/// the clients waiting for their `250` first; what is queued is durable
/// already and delivered with what is left, all of it when nobody waits.
const DELIVERY_NICE: i32 = 10;

/// Give the calling thread (Linux: the nice value is per thread) the
/// delivery priority; processes it starts inherit it.
pub(crate) fn lower_priority() {
    let _ = rustix::process::setpriority_process(None, DELIVERY_NICE);
}

/// The queue manager and the delivery agents run on threads of their own,
/// at a lower CPU priority than the sessions.
fn delivery_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("delivery")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()
        .context("start delivery runtime")
}

/// Open (or reopen) the log that `cfg` asks for.
fn open_log(cfg: &Config, mode: Mode) -> Result<()> {
    let fallback = match mode {
        Mode::Foreground => Fallback::Stderr,
        Mode::Daemon => Fallback::Syslog,
    };
    crate::logging::open(cfg, fallback)
}

/// The signals the server acts on.
struct Signals {
    hangup: Signal,
    terminate: Signal,
    interrupt: Signal,
}

enum Event {
    Reload,
    Terminate(i32),
}

impl Signals {
    fn install() -> Result<Signals> {
        Ok(Signals {
            hangup: signal(SignalKind::hangup()).context("catch SIGHUP")?,
            terminate: signal(SignalKind::terminate()).context("catch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("catch SIGINT")?,
        })
    }

    async fn next(&mut self) -> Event {
        tokio::select! {
            _ = self.hangup.recv() => Event::Reload,
            _ = self.terminate.recv() => Event::Terminate(15),
            _ = self.interrupt.recv() => Event::Terminate(2),
        }
    }
}

/// What stays across reloads.
struct Server {
    config_dir: Option<PathBuf>,
    mode: Mode,
    queue: Arc<Queue>,
    queue_dir: PathBuf,
    agent: Arc<SwappableAgent>,
    pool: ListenerPool,
    /// The metrics endpoint's address, as bound at start.
    metrics_addr: Option<std::net::SocketAddr>,
    /// The privileged local delivery helpers (started as root).
    helper: Option<Arc<gatepost_delivery::HelperPool>>,
    /// anvil(8)'s counters, one store for every generation.
    anvil: Arc<LocalAnvil>,
}

async fn serve_async(
    config_dir: Option<PathBuf>,
    cfg: Config,
    mode: Mode,
    delivery: tokio::runtime::Handle,
) -> Result<ExitCode> {
    // Before anything else: a SIGHUP that comes early must not kill us.
    let mut signals = Signals::install()?;
    open_log(&cfg, mode)?;
    for warning in cfg.warnings() {
        gatepost_log::warning("master", warning);
    }
    let accepted_risks = match cfg.check_fail_closed() {
        Ok(warnings) => warnings,
        Err(e) => {
            // Said on stderr by main; logged too unless the log is stderr.
            if mode == Mode::Daemon || !cfg.get(&params::MAILLOG_FILE).is_empty() {
                gatepost_log::fatal("master", &e);
            }
            return Err(e.into());
        }
    };
    for warning in accepted_risks {
        gatepost_log::warning("master", warning);
    }
    let (raised, too_low) = crate::open_files::raise(&cfg);
    if let Some(line) = raised {
        gatepost_log::info("master", line);
    }
    if let Some(line) = too_low {
        gatepost_log::warning("master", line);
    }
    if let Err(e) = crate::check::at_startup(&cfg, |w| gatepost_log::warning("master", w)).await {
        // Logged; said on stderr too unless the log is stderr.
        gatepost_log::fatal("master", format!("{e:#}"));
        if mode == Mode::Foreground && !cfg.get(&params::MAILLOG_FILE).is_empty() {
            eprintln!("gatepost: fatal: {e:#}");
        }
        return Ok(ExitCode::from(1));
    }
    let metrics_addr = crate::metrics_http::listen_address(&cfg)?;

    let queue_dir = PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY));
    // Never on Postfix's queue: refused before anything is written there.
    gatepost_queue::claim_queue_directory(&queue_dir)?;
    let data_dir = PathBuf::from(cfg.get(&params::DATA_DIRECTORY));
    let _lock = match MasterLock::acquire(&queue_dir, &data_dir) {
        Ok(lock) => lock,
        Err(LockError::AlreadyRunning) => {
            // Said on stderr; logged too unless the log is stderr.
            let logged = mode == Mode::Daemon || !cfg.get(&params::MAILLOG_FILE).is_empty();
            crate::control::Script::new(&cfg, logged).fatal(&LockError::AlreadyRunning);
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let account = match crate::privsep::running_as_root() {
        true => Some(crate::privsep::unprivileged_account(&cfg)?),
        false => None,
    };
    let queue =
        Queue::open(&queue_dir).with_context(|| format!("open queue {}", queue_dir.display()))?;
    queue
        .start_write_ahead_log()
        .with_context(|| format!("write-ahead log in {}", queue_dir.display()))?;
    queue.set_memory_limit(cfg.get(&params::GATEPOST_QUEUE_MEMORY_LIMIT));
    let helper = match account {
        Some(_) => {
            crate::privsep::prepare_mail_spool(&cfg)?;
            Some(crate::privsep::start_helpers(
                config_dir.as_deref(),
                mode == Mode::Daemon,
            )?)
        }
        None => None,
    };
    let rewriter = Arc::new(Rewriter::from_config(&cfg).context("address rewriting")?);
    let agent =
        gatepost_delivery::build_agent(&cfg, queue.clone(), rewriter.clone(), helper.clone())
            .context("delivery agents")?;
    let mut server = Server {
        config_dir,
        mode,
        queue: queue.clone(),
        queue_dir: queue_dir.clone(),
        agent: Arc::new(SwappableAgent::new(agent)),
        pool: ListenerPool::default(),
        metrics_addr,
        helper,
        anvil: Arc::new(LocalAnvil::new(cfg.get(&params::ANVIL_RATE_TIME_UNIT))),
    };
    let mut current = Generation::start(&cfg, &queue, &rewriter, &mut server.pool, &server.anvil)?;
    let metrics = match metrics_addr {
        Some(addr) => Some(crate::metrics_http::bind(addr).await?),
        None => None,
    };
    if let Some(account) = &account {
        // Listeners, TLS keys and locks are open: root is no longer needed.
        crate::privsep::set_queue_ownership(&queue_dir, account)?;
        crate::privsep::give_maillog(&cfg, account)?;
        crate::privsep::drop_privileges(account)?;
        gatepost_log::info(
            "master",
            format!(
                "privilege separation: running as {} (uid {}); local delivery as the recipient",
                account.name, account.uid
            ),
        );
    }

    // Only now, with root given up, does any connection get accepted.
    current.accept()?;

    let (qmgr_stop, mut qmgr_stop_rx) = watch::channel(false);
    let qmgr = delivery.spawn(gatepost_qmgr::run_qmgr(
        queue.clone(),
        server.agent.clone(),
        QmgrSettings::from_config(&cfg),
        async move {
            let _ = qmgr_stop_rx.changed().await;
        },
    ));

    print_startup(&cfg, &current, &queue_dir);
    if let Some(listener) = metrics {
        let url = format!("http://{}/metrics", listener.local_addr()?);
        println!("gatepost: metrics at {url}");
        gatepost_log::info("master", format!("metrics at {url}"));
        tokio::spawn(crate::metrics_http::serve(listener, queue.clone()));
    }
    gatepost_log::info(
        "master",
        format!(
            "daemon started -- version {}, configuration {}",
            env!("CARGO_PKG_VERSION"),
            server.configuration(&cfg)
        ),
    );
    if mode == Mode::Daemon {
        crate::daemon::announce_ready()?;
    }

    let mut cfg = cfg;
    let signal = loop {
        match signals.next().await {
            Event::Reload => match server.reload(&cfg, &mut current).await {
                Ok(new_cfg) => cfg = new_cfg,
                Err(e) => gatepost_log::warning(
                    "master",
                    format!("{e:#}; keeping the current configuration"),
                ),
            },
            Event::Terminate(signal) => break signal,
        }
    };
    gatepost_log::info("master", format!("terminating on signal {signal}"));
    current.stop().await;
    let _ = qmgr_stop.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), qmgr).await;
    // What the queue manager did not deliver is left with its file.
    if let Err(e) = queue.write_out_unwritten() {
        gatepost_log::warning("master", format!("write out queue files: {e}"));
    }
    Ok(ExitCode::SUCCESS)
}

impl Server {
    /// SIGHUP: reopen the log, read the configuration again and switch to
    /// it; on error nothing changes (the caller logs why).
    async fn reload(&mut self, old: &Config, current: &mut Generation) -> Result<Config> {
        // The helpers read the configuration again (and make a renamed
        // maillog_file anew for us).
        if let Some(helper) = &self.helper {
            helper.reload().await;
        }
        // Let go of a rotated maillog_file even when the rest fails.
        if let Err(e) = open_log(old, self.mode) {
            gatepost_log::warning("master", format!("{e:#}"));
        }
        let result = self.switch(current).await;
        let configuration = self.configuration(result.as_ref().unwrap_or(old));
        gatepost_log::info(
            "master",
            format!(
                "reload -- version {}, configuration {configuration}",
                env!("CARGO_PKG_VERSION")
            ),
        );
        result
    }

    /// The configuration named in master's log lines: the `-c` directory
    /// (Postfix's `config_directory`), else where the embedded one came from.
    fn configuration(&self, cfg: &Config) -> String {
        match &self.config_dir {
            Some(dir) => dir.display().to_string(),
            None => cfg.source().to_string(),
        }
    }

    /// Load the configuration, build its services and delivery agents,
    /// then replace the running ones.
    async fn switch(&mut self, current: &mut Generation) -> Result<Config> {
        let cfg = crate::read_config(self.config_dir.as_deref())?;
        let accepted_risks = cfg.check_fail_closed()?;
        // A configuration `serve` would refuse is not switched to either.
        crate::check::at_startup(&cfg, |w| gatepost_log::warning("master", w)).await?;
        let metrics_addr = crate::metrics_http::listen_address(&cfg)?;
        let queue_dir = PathBuf::from(cfg.get(&params::QUEUE_DIRECTORY));
        let rewriter = Arc::new(Rewriter::from_config(&cfg).context("address rewriting")?);
        let agent = gatepost_delivery::build_agent(
            &cfg,
            self.queue.clone(),
            rewriter.clone(),
            self.helper.clone(),
        )
        .context("delivery agents")?;
        let mut next =
            Generation::start(&cfg, &self.queue, &rewriter, &mut self.pool, &self.anvil)?;
        next.accept()?;
        if let Err(e) = open_log(&cfg, self.mode) {
            gatepost_log::warning("master", format!("{e:#}"));
        }
        for warning in cfg.warnings().iter().chain(&accepted_risks) {
            gatepost_log::warning("master", warning);
        }
        if metrics_addr != self.metrics_addr {
            gatepost_log::warning(
                "master",
                "gatepost_metrics_listen changed: it takes effect at the next start",
            );
        }
        if queue_dir != self.queue_dir {
            gatepost_log::warning(
                "master",
                format!(
                    "queue_directory changed to {}: it takes effect at the next start",
                    queue_dir.display()
                ),
            );
        }
        self.queue
            .set_memory_limit(cfg.get(&params::GATEPOST_QUEUE_MEMORY_LIMIT));
        self.agent.replace(agent);
        std::mem::replace(current, next).stop().await;
        Ok(cfg)
    }
}

/// The start-up message: where it listens, keeps mail, and its configuration.
fn print_startup(cfg: &Config, generation: &Generation, queue_dir: &Path) {
    for addr in &generation.listening {
        println!("gatepost: listening on {addr}");
    }
    println!("gatepost: queue directory {}", display_path(queue_dir));
    let spool = cfg.get(&params::MAIL_SPOOL_DIRECTORY);
    let home_mailbox = cfg.get(&params::HOME_MAILBOX);
    if home_mailbox.is_empty() {
        println!(
            "gatepost: local mailboxes under {}",
            display_path(Path::new(&spool))
        );
    } else {
        println!("gatepost: local mailboxes in ~/{home_mailbox}");
    }
    println!("gatepost: configuration {}", cfg.source());
}

/// An absolute form of `path` for the start-up message (it may not exist yet).
fn display_path(path: &Path) -> String {
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
