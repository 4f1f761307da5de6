//! Privilege separation for a server started as root, after Postfix's
//! master(8) and OpenSMTPD: while still root, `serve` takes the locks,
//! opens the log, binds the listeners, reads the TLS keys, makes the queue
//! belong to `mail_owner` (as `postfix set-permissions`, only inside its
//! own queue directory), creates a missing mail spool, and starts the
//! privileged local delivery helpers (`gatepost privsep-local`,
//! `gatepost_delivery::run_helper`); then it becomes `mail_owner` for
//! good (setgroups, setgid, setuid). Everything that faces the network
//! (smtpd, TLS, DNS, the SMTP client, the queue manager, cleanup, pickup)
//! runs from then on as `mail_owner`. The helpers stay root and only
//! deliver local(8) and virtual(8) mail, each store in a process with the
//! recipient's uid, kept for that user's next stores
//! (docs/privilege-separation.md).
//!
//! When the `mail_owner` account does not exist (a fresh container with
//! the embedded defaults), `nobody` stands in, and the log says so.
//! Started by an ordinary user, nothing of this happens.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use gatepost_config::{params, Config};
use gatepost_delivery::HelperPool;
use nix::unistd::{Gid, Group, Uid, User};

/// Helper processes started: local deliveries served at once.
const HELPERS: usize = 4;

/// The account stand-in when `mail_owner` does not exist.
const FALLBACK_ACCOUNT: &str = "nobody";

/// The account the unprivileged part runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Whether this process runs as root (privilege separation applies).
pub fn running_as_root() -> bool {
    Uid::effective().is_root()
}

/// `mail_owner`, or `nobody` when that account does not exist (logged).
/// A `mail_owner` with uid 0 is refused, with Postfix's text.
pub fn unprivileged_account(cfg: &Config) -> Result<Account> {
    let name = cfg.get(&params::MAIL_OWNER);
    let found = User::from_name(&name).with_context(|| format!("look up user {name}"))?;
    let user = match found {
        Some(user) => user,
        None => {
            let Some(user) = User::from_name(FALLBACK_ACCOUNT)
                .with_context(|| format!("look up user {FALLBACK_ACCOUNT}"))?
            else {
                bail!(
                    "parameter {}: unknown user name value: {name} (and no {FALLBACK_ACCOUNT} account to run as instead)",
                    params::MAIL_OWNER.name()
                );
            };
            gatepost_log::warning(
                "master",
                format!(
                    "{} account {name} does not exist: running as {FALLBACK_ACCOUNT} (uid {})",
                    params::MAIL_OWNER.name(),
                    user.uid
                ),
            );
            user
        }
    };
    if user.uid.is_root() {
        bail!(
            "{}: user {} has privileged user ID",
            params::MAIL_OWNER.name(),
            user.name
        );
    }
    Ok(Account {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}

/// Give everything inside `queue_dir` (and the directory itself) to
/// `account`, as `postfix set-permissions` does for Postfix's queue.
/// Symbolic links are neither followed nor changed.
pub fn set_queue_ownership(queue_dir: &Path, account: &Account) -> Result<()> {
    let mut pending = vec![queue_dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("status of {}", path.display()))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.uid() != account.uid || meta.gid() != account.gid {
            std::os::unix::fs::lchown(&path, Some(account.uid), Some(account.gid))
                .with_context(|| format!("chown {}", path.display()))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)
                .with_context(|| format!("read directory {}", path.display()))?
            {
                pending.push(entry?.path());
            }
        }
    }
    Ok(())
}

/// `maillog_file`, opened by root, stays writable after the switch and on
/// reopen.
pub fn give_maillog(cfg: &Config, account: &Account) -> Result<()> {
    let maillog = cfg.get(&params::MAILLOG_FILE);
    if maillog.is_empty() {
        return Ok(());
    }
    match std::fs::symlink_metadata(&maillog) {
        Ok(meta) if meta.is_file() && meta.uid() != account.uid => {
            std::os::unix::fs::lchown(&maillog, Some(account.uid), Some(account.gid))
                .with_context(|| format!("chown {maillog}"))
        }
        _ => Ok(()),
    }
}

/// A file the unprivileged server reads (the SASL password store), written
/// by root: `root:GROUP` mode 0640, GROUP being `mail_owner`'s (or
/// `nobody`'s) group.
pub fn share_with_mail_owner(cfg: &Config, path: &Path) -> Result<()> {
    if !running_as_root() {
        return Ok(());
    }
    let name = cfg.get(&params::MAIL_OWNER);
    let user = User::from_name(&name)
        .ok()
        .flatten()
        .or_else(|| User::from_name(FALLBACK_ACCOUNT).ok().flatten());
    let Some(user) = user else {
        return Ok(());
    };
    std::os::unix::fs::chown(path, Some(0), Some(user.gid.as_raw()))
        .with_context(|| format!("chown {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640))
        .with_context(|| format!("chmod {}", path.display()))
}

/// Before the server (re)opens `maillog_file`: create it if it is missing
/// (a rotation renamed it), owned by `account`, so that the unprivileged
/// server can open it.
pub fn prepare_maillog(cfg: &Config, account: &Account) -> Result<()> {
    let maillog = cfg.get(&params::MAILLOG_FILE);
    if maillog.is_empty() || maillog.starts_with("/dev/") {
        return Ok(());
    }
    if !Path::new(&maillog).exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o644)
            .open(&maillog)
            .with_context(|| format!("create {maillog}"))?;
    }
    give_maillog(cfg, account)
}

/// A missing `mail_spool_directory` is created as the local delivery
/// needs it: `root:mail` mode 2775 (Debian's `/var/mail`), so that each
/// store, running as the recipient with the spool's group, can create the
/// recipient's mailbox; 1777 when there is no `mail` group.
pub fn prepare_mail_spool(cfg: &Config) -> Result<()> {
    if !cfg.get(&params::HOME_MAILBOX).is_empty() {
        return Ok(());
    }
    let spool = cfg.get(&params::MAIL_SPOOL_DIRECTORY);
    let spool = Path::new(spool.trim_end_matches('/'));
    if spool.as_os_str().is_empty() || spool.exists() {
        return Ok(());
    }
    if let Some(parent) = spool.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(spool)
        .with_context(|| format!("create mail spool {}", spool.display()))?;
    let (gid, mode) = match Group::from_name("mail").ok().flatten() {
        Some(group) => (Some(group.gid.as_raw()), 0o2775),
        None => (None, 0o1777),
    };
    std::os::unix::fs::chown(spool, Some(0), gid)
        .with_context(|| format!("chown {}", spool.display()))?;
    std::fs::set_permissions(spool, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", spool.display()))
}

/// Start the privileged local delivery helpers (while still root).
pub fn start_helpers(config_dir: Option<&Path>, daemon: bool) -> Result<Arc<HelperPool>> {
    let exe = std::env::current_exe().context("find the gatepost executable")?;
    let mut args = Vec::new();
    if let Some(dir) = config_dir {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        args.push("-c".to_string());
        args.push(dir.display().to_string());
    }
    args.push("privsep-local".to_string());
    if daemon {
        args.push("--daemon".to_string());
    }
    let pool = HelperPool::spawn(&exe, &args, HELPERS, !daemon)
        .with_context(|| format!("start {} privsep-local", exe.display()))?;
    Ok(Arc::new(pool))
}

/// Become `account` for good: its group only, then its uid.
pub fn drop_privileges(account: &Account) -> Result<()> {
    let gid = Gid::from_raw(account.gid);
    nix::unistd::setgroups(&[gid]).context("setgroups")?;
    nix::unistd::setgid(gid).context("setgid")?;
    nix::unistd::setuid(Uid::from_raw(account.uid)).context("setuid")?;
    if Uid::current().is_root()
        || Uid::effective().is_root()
        || nix::unistd::setuid(Uid::from_raw(0)).is_ok()
    {
        bail!("could not give up root privileges");
    }
    Ok(())
}

/// `gatepost privsep-local`: the helper's process (see the module header).
pub fn run_local_helper(config_dir: Option<&Path>, daemon: bool) -> Result<ExitCode> {
    let cfg = crate::read_config(config_dir)?;
    let fallback = if daemon {
        crate::logging::Fallback::Syslog
    } else {
        crate::logging::Fallback::Stderr
    };
    crate::logging::open(&cfg, fallback)?;
    if !running_as_root() {
        bail!("privsep-local is started by a server running as root");
    }
    // It delivers: at the delivery threads' priority, as its store
    // processes.
    crate::serve::lower_priority();
    let dir = config_dir.map(Path::to_path_buf);
    // A new generation (reload, logrotate): the log is reopened too, and
    // made anew for the server when it was renamed.
    Ok(gatepost_delivery::run_helper(&move || {
        let cfg = crate::read_config(dir.as_deref()).map_err(|e| format!("{e:#}"))?;
        let account = unprivileged_account(&cfg).map_err(|e| format!("{e:#}"))?;
        prepare_maillog(&cfg, &account).map_err(|e| format!("{e:#}"))?;
        crate::logging::open(&cfg, fallback).map_err(|e| format!("{e:#}"))?;
        Ok(cfg)
    }))
}
