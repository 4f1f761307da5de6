//! Storing one copy with the rights of the user it is for. In the
//! privileged helper (`helper`) every mailbox, Maildir and `/file/name`
//! store runs in a process of its own (the gatepost executable started as
//! `gatepost privsep-store` with the uid and gid chosen by the helper, never
//! by the unprivileged server): it reads the job on stdin, opens the target
//! as Postfix's safe_open() does and answers the verdict on stdout;
//! warnings come back on stderr, one per line, and the helper logs them.
//! Anywhere else (a server started by an ordinary user, the tests of this
//! crate) the store runs in the calling process, as before.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use gatepost_config::Config;

use crate::content::CopyAttrs;
use crate::mailbox::{self, MailboxTarget, TargetKind};
use crate::mbox_lock::LockKinds;
use crate::privs::Owner;
use crate::settings::Settings;
use crate::verdict::Verdict;
use crate::wire::{self, Dec, Enc, WireError};

/// Set in a store process: warnings go to stderr for the helper to log.
static IN_STORE_PROCESS: AtomicBool = AtomicBool::new(false);

/// Log a delivery warning (from a store process: hand it to the helper).
pub(crate) fn warn(agent: &str, text: String) {
    if IN_STORE_PROCESS.load(Ordering::Relaxed) {
        eprintln!("{text}");
    } else {
        gatepost_log::warning(agent, text);
    }
}

/// One copy to store.
pub(crate) struct StoreJob<'a> {
    pub agent: &'static str,
    pub target: &'a MailboxTarget,
    pub data: &'a [u8],
    pub attrs: &'a CopyAttrs<'a>,
    pub delivered_header: bool,
    pub size_limit: u64,
    /// `mailbox_delivery_lock` or `virtual_mailbox_lock`.
    pub locks: LockKinds,
}

/// Store `job`; in the helper, in a process running as `run_as`.
pub(crate) fn store(job: &StoreJob<'_>, run_as: Option<Owner>, settings: &Settings) -> Verdict {
    let Some(program) = &settings.store_program else {
        return mailbox::store(
            job.target,
            job.data,
            job.attrs,
            job.delivered_header,
            job.size_limit,
            job.locks,
            settings,
        );
    };
    let Some(owner) = run_as else {
        warn(job.agent, "no user to deliver as".to_string());
        return Verdict::deferred("4.3.5", "mail system configuration error");
    };
    match spawn(program, owner, job, settings) {
        Ok(v) => v,
        Err(why) => {
            warn(job.agent, format!("delivery process: {why}"));
            Verdict::deferred("4.3.0", format!("local delivery process failed: {why}"))
        }
    }
}

fn encode(job: &StoreJob<'_>, owner: Owner, settings: &Settings) -> Vec<u8> {
    let t = job.target;
    let path = std::path::absolute(&t.path).unwrap_or_else(|_| t.path.clone());
    let mut e = Enc::default();
    e.bytes(path.as_os_str().as_encoded_bytes())
        .u8(u8::from(t.maildir));
    match &t.kind {
        TargetKind::Mailbox { user } => e.u8(0).str(user),
        TargetKind::File => e.u8(1),
    };
    // A user's mailbox must belong to the user (strict_mailbox_ownership).
    let require_owner = matches!(t.kind, TargetKind::Mailbox { .. }).then_some(owner.uid);
    match require_owner {
        Some(uid) => e.u8(1).u32(uid),
        None => e.u8(0),
    };
    e.str(job.attrs.sender)
        .str(job.attrs.orig_rcpt)
        .str(job.attrs.delivered)
        .u8(u8::from(job.delivered_header))
        .u64(job.size_limit)
        .u8(job.locks.bits())
        .u64(settings.stale_lock_time.as_millis() as u64)
        .u32(settings.deliver_lock_attempts)
        .u64(settings.deliver_lock_delay.as_millis() as u64)
        .bytes(job.data);
    e.0
}

fn spawn(
    program: &Path,
    owner: Owner,
    job: &StoreJob<'_>,
    settings: &Settings,
) -> Result<Verdict, String> {
    let request = encode(job, owner, settings);
    let mut child = Command::new(program)
        .arg("privsep-store")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .uid(owner.uid)
        .gid(owner.gid)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start {}: {e}", program.display()))?;
    let written = child
        .stdin
        .take()
        .ok_or_else(|| "no stdin".to_string())
        .and_then(|mut stdin| stdin.write_all(&request).map_err(|e| e.to_string()));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        gatepost_log::warning(job.agent, line);
    }
    written?;
    if !output.status.success() {
        return Err(format!("exit {}", output.status));
    }
    let body = wire::read_frame(&mut output.stdout.as_slice())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no answer".to_string())?;
    Dec::new(&body, "store process")
        .verdict()
        .map_err(|e| e.to_string())
}

/// `gatepost privsep-store`: one store, job on stdin, verdict on stdout.
pub fn run_store_process() -> ExitCode {
    IN_STORE_PROCESS.store(true, Ordering::Relaxed);
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("read request: {e}");
        return ExitCode::from(75);
    }
    let verdict = match decode_and_store(&input) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(75);
        }
    };
    let mut e = Enc::default();
    e.verdict(&verdict);
    let mut out = std::io::stdout().lock();
    match wire::write_frame(&mut out, &e.0) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(75),
    }
}

fn decode_and_store(input: &[u8]) -> Result<Verdict, WireError> {
    let mut d = Dec::new(input, "helper");
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(d.bytes()?));
    let maildir = d.u8()? != 0;
    let kind = match d.u8()? {
        0 => TargetKind::Mailbox { user: d.string()? },
        _ => TargetKind::File,
    };
    let require_owner = match d.u8()? {
        0 => None,
        _ => Some(d.u32()?),
    };
    let sender = d.string()?;
    let orig_rcpt = d.string()?;
    let delivered = d.string()?;
    let delivered_header = d.u8()? != 0;
    let size_limit = d.u64()?;
    let locks = LockKinds::from_bits(d.u8()?);
    let mut settings =
        Settings::from_config(&Config::defaults()).map_err(|_| WireError("helper"))?;
    settings.stale_lock_time = std::time::Duration::from_millis(d.u64()?);
    settings.deliver_lock_attempts = d.u32()?;
    settings.deliver_lock_delay = std::time::Duration::from_millis(d.u64()?);
    let data = d.bytes()?;
    let target = MailboxTarget {
        path,
        maildir,
        owner: None,
        require_owner,
        kind,
    };
    let attrs = CopyAttrs {
        sender: &sender,
        orig_rcpt: &orig_rcpt,
        delivered: &delivered,
    };
    Ok(mailbox::store(
        &target,
        data,
        &attrs,
        delivered_header,
        size_limit,
        locks,
        &settings,
    ))
}
