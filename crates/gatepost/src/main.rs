//! The `gatepost` binary: one program, Postfix-style subcommands
//! (`serve`, `start`, `stop`, `reload`, `status`, `abort`, `logrotate`,
//! `check`, `postconf`, `postmap`, `postalias`, `policy-test`, `queue`,
//! `mailq`, `sendmail`, `saslpasswd`). Invoked as `sendmail` or `mailq` (argv[0]), it
//! behaves as those programs, with the configuration directory from
//! `-C DIR` (sendmail) or `$MAIL_CONFIG`.
//! `gatepost -c DIR CMD` reads `DIR/main.cf` and `DIR/master.cf` like
//! `postfix -c DIR`; without `-c`, the embedded defaults apply, with
//! `./gatepost.d/main.cf` layered on top when it exists.
#![forbid(unsafe_code)]

/// The allocator (docs/memory.md, "Allocator"): mimalloc's thread-local
/// free lists cost each message less than glibc's arenas did.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod check;
mod control;
mod daemon;
mod dkim_cmd;
mod generation;
mod import_cmd;
mod logging;
mod master_lock;
mod metrics_http;
mod open_files;
mod policy_test;
mod privsep;
mod queue_cmd;
mod saslpasswd;
mod sendmail;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gatepost_config::{Config, PostconfMode};

#[derive(Parser, Debug)]
#[command(
    name = "gatepost",
    version,
    about = "A Postfix-compatible mail transfer agent"
)]
struct Cli {
    /// Configuration directory holding main.cf (and optionally master.cf).
    #[arg(short = 'c', long = "config-dir", global = true)]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the mail server in the foreground: SMTP listeners, queue
    /// manager, delivery (as `postfix start-fg`).
    Serve {
        /// Run as started by `start` (detached, syslog by default).
        #[arg(long, hide = true)]
        daemon: bool,
    },
    /// Privilege separation: the privileged local delivery helper a
    /// server started as root runs (internal).
    #[command(hide = true)]
    PrivsepLocal {
        #[arg(long)]
        daemon: bool,
    },
    /// Privilege separation: one store with a user's rights (internal).
    #[command(hide = true)]
    PrivsepStore,
    /// Start the mail server in the background and wait until it is up.
    Start,
    /// Stop the running server in an orderly fashion (SIGTERM, then wait).
    Stop,
    /// Re-read main.cf, master.cf and the tables in the running server (SIGHUP).
    Reload,
    /// Say whether the server is running, with its PID (exit 1 when not).
    Status,
    /// Stop the running server at once (SIGKILL).
    Abort,
    /// Rename maillog_file, have the server reopen it, compress the old one.
    Logrotate,
    /// Find configuration mistakes and prove the server is no open relay
    /// (exit 0 clean or info only, 1 warnings, 2 fatal).
    Check(check::Args),
    /// Show configuration parameters, like Postfix's postconf.
    #[command(disable_help_flag = true)]
    Postconf {
        /// Print help.
        #[arg(long = "help", action = clap::ArgAction::Help)]
        help: Option<bool>,
        /// Show only parameters set explicitly in main.cf.
        #[arg(short = 'n')]
        non_default: bool,
        /// Show default values.
        #[arg(short = 'd')]
        defaults: bool,
        /// Show values only, without `name = `.
        #[arg(short = 'h')]
        values_only: bool,
        /// Parameter names; all parameters when none are given.
        names: Vec<String>,
    },
    /// Build a lookup table from its source file, or query it (-q).
    Postmap {
        /// Look up KEY instead of building the table.
        #[arg(short = 'q')]
        query: Option<String>,
        /// The table, as TYPE:NAME (e.g. hash:/etc/postfix/access).
        table: String,
    },
    /// Build an alias table (aliases(5) format), or query it (-q).
    Postalias {
        #[arg(short = 'q')]
        query: Option<String>,
        table: String,
    },
    /// Show how the restrictions decide for a client, HELO, sender and recipient.
    PolicyTest(policy_test::Args),
    /// Queue tools: list, flush, hold, release, delete, requeue, show,
    /// import-postfix.
    Queue {
        #[command(subcommand)]
        cmd: queue_cmd::QueueCmd,
    },
    /// Show the mail queue (same as `queue list`).
    Mailq,
    /// DKIM signing keys: `keygen DOMAIN SELECTOR` writes one and prints its DNS record.
    Dkim {
        #[command(subcommand)]
        cmd: dkim_cmd::DkimCmd,
    },
    /// Manage the SASL password store (smtpd_sasl_type = cyrus).
    Saslpasswd {
        #[command(subcommand)]
        cmd: saslpasswd::SaslpasswdCmd,
    },
    /// Submit a message on stdin, like Postfix's sendmail(1).
    #[command(disable_help_flag = true)]
    Sendmail {
        /// sendmail options and recipients (-t, -f, -F, -i, -oi, -bs, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Probe an SMTP server (any, not only gatepost) with the open-relay battery.
    RelayAudit(gatepost_insight::relay::Args),
    /// Summarize Postfix-format logs, with an abuse view (text, JSON, HTML).
    LogReport(gatepost_insight::logs::Args),
}

/// The program name this binary was invoked as (`sendmail`, `mailq`, ...).
fn invoked_as() -> Option<String> {
    let argv0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&argv0)
        .file_name()?
        .to_string_lossy()
        .to_string();
    Some(name)
}

/// Run as `sendmail` or `mailq` (argv[0] dispatch).
fn personality(name: &str) -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match name {
        "sendmail" => run_sendmail(None, &args),
        "mailq" => load_config(queue_cmd::mail_config_dir().as_deref())
            .and_then(|cfg| queue_cmd::run(&cfg, queue_cmd::QueueCmd::List)),
        _ => return None,
    };
    Some(match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{name}: fatal: {e:#}");
            ExitCode::from(1)
        }
    })
}

/// `sendmail ARGS`: the configuration comes from `-C DIR`, else the given
/// directory (`gatepost -c DIR sendmail`), else `$MAIL_CONFIG`.
fn run_sendmail(config_dir: Option<PathBuf>, args: &[String]) -> Result<ExitCode> {
    let opts = match sendmail::parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            // As Postfix: the getopt complaint, then the usage line, EX_TEMPFAIL.
            eprintln!("sendmail: {e}");
            eprintln!("sendmail: fatal: usage: sendmail [options]");
            return Ok(ExitCode::from(sendmail::EX_TEMPFAIL));
        }
    };
    let dir = opts
        .config_dir
        .clone()
        .or(config_dir)
        .or_else(queue_cmd::mail_config_dir);
    let cfg = load_config(dir.as_deref())?;
    sendmail::run(&cfg, opts)
}

fn main() -> ExitCode {
    if let Some(code) = invoked_as().as_deref().and_then(personality) {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatepost: fatal: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Cmd::PrivsepStore => return Ok(gatepost_delivery::run_store_process()),
        Cmd::PrivsepLocal { daemon } => {
            return privsep::run_local_helper(cli.config_dir.as_deref(), *daemon)
        }
        Cmd::Sendmail { args } => return run_sendmail(cli.config_dir.clone(), args),
        Cmd::RelayAudit(args) => return Ok(gatepost_insight::relay::run(args)),
        Cmd::LogReport(args) => return gatepost_insight::logs::run(args),
        _ => {}
    }
    if let Cmd::Check(args) = &cli.command {
        // Configuration warnings are findings here, not stderr lines.
        return check::run(&read_config(cli.config_dir.as_deref())?, args);
    }
    let cfg = load_config(cli.config_dir.as_deref())?;
    let control = |command| control::run(command, &cfg, cli.config_dir.as_deref());
    match cli.command {
        Cmd::Serve { daemon } => {
            let mode = if daemon {
                serve::Mode::Daemon
            } else {
                serve::Mode::Foreground
            };
            serve::serve(cli.config_dir.clone(), cfg, mode)
        }
        Cmd::Start => control(control::Command::Start),
        Cmd::Stop => control(control::Command::Stop),
        Cmd::Reload => control(control::Command::Reload),
        Cmd::Status => control(control::Command::Status),
        Cmd::Abort => control(control::Command::Abort),
        Cmd::Logrotate => control(control::Command::Logrotate),
        Cmd::Postconf {
            help: _,
            non_default,
            defaults,
            values_only,
            names,
        } => {
            let mode = if defaults {
                PostconfMode::Defaults
            } else if non_default {
                PostconfMode::NonDefault
            } else {
                PostconfMode::Current
            };
            let out = gatepost_config::postconf(&cfg, mode, &names, values_only)?;
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Postmap { query, table } => table_command(query, &table, false),
        Cmd::Postalias { query, table } => table_command(query, &table, true),
        Cmd::PolicyTest(args) => policy_test::run(&cfg, args),
        Cmd::Queue { cmd } => queue_cmd::run(&cfg, cmd),
        Cmd::Mailq => queue_cmd::run(&cfg, queue_cmd::QueueCmd::List),
        Cmd::Saslpasswd { cmd } => saslpasswd::run(&cfg, cmd),
        Cmd::Dkim { cmd } => dkim_cmd::run(&cfg, cmd),
        Cmd::Sendmail { .. }
        | Cmd::RelayAudit(_)
        | Cmd::LogReport(_)
        | Cmd::Check(_)
        | Cmd::PrivsepLocal { .. }
        | Cmd::PrivsepStore => Ok(ExitCode::from(1)),
    }
}

/// `postmap` / `postalias`: build, or query with `-q` (exit 1 when not found).
fn table_command(query: Option<String>, spec: &str, aliases: bool) -> Result<ExitCode> {
    let spec = if spec.contains(':') {
        spec.to_string()
    } else {
        format!("hash:{spec}")
    };
    match query {
        Some(key) => {
            let table = if aliases {
                gatepost_table::open_alias_table(&spec)
            } else {
                gatepost_table::open_table(&spec)
            }
            .with_context(|| format!("open {spec}"))?;
            match table
                .lookup(&key)
                .with_context(|| format!("lookup {key} in {spec}"))?
            {
                Some(value) => {
                    println!("{value}");
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::from(1)),
            }
        }
        None => {
            if aliases {
                gatepost_table::postalias_build(&spec)
            } else {
                gatepost_table::postmap_build(&spec)
            }
            .with_context(|| format!("build {spec}"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Read the configuration of `-c DIR`, else the embedded one (with
/// `./gatepost.d` layered on top); warnings are the caller's to show.
fn read_config(dir: Option<&std::path::Path>) -> Result<Config> {
    match dir {
        Some(dir) => {
            Config::load_dir(dir).with_context(|| format!("configuration in {}", dir.display()))
        }
        None => Config::load_default().context("embedded configuration"),
    }
}

/// [`read_config`], with its warnings on stderr.
fn load_config(dir: Option<&std::path::Path>) -> Result<Config> {
    let cfg = read_config(dir)?;
    for warning in cfg.warnings() {
        eprintln!("gatepost: warning: {warning}");
    }
    Ok(cfg)
}
