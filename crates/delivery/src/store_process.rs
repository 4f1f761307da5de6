//! Storing one copy with the rights of the user it is for. In the
//! privileged helper (`helper`) every mailbox, Maildir and `/file/name`
//! store runs in a process running as its owner (the gatepost executable
//! started as `gatepost privsep-store` with the uid and gid chosen by the
//! helper, never by the unprivileged server; `store_pool` keeps one per
//! owner for the next jobs): it reads framed jobs (one or more copies) on
//! stdin until its input ends, opens each target as Postfix's safe_open()
//! does and answers each job with a frame holding a verdict per copy and
//! the warnings of that job, which the helper logs. Anywhere else (a server started by an ordinary
//! user, the tests of this crate) the store runs in the calling process,
//! as before.

use std::cell::RefCell;
use std::io::{BufReader, BufWriter};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use gatepost_config::Config;

use crate::content::CopyAttrs;
use crate::mailbox::{self, MailboxTarget, TargetKind};
use crate::mbox_lock::LockKinds;
use crate::privs::Owner;
use crate::settings::Settings;
use crate::store_pool;
use crate::verdict::Verdict;
use crate::wire::{self, Dec, Enc, WireError};

/// Set in a store process: warnings go back with the verdict.
static IN_STORE_PROCESS: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// In a store process: the warnings of the job being stored.
    static JOB_WARNINGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Log a delivery warning (from a store process: hand it to the helper).
pub(crate) fn warn(agent: &str, text: String) {
    if IN_STORE_PROCESS.load(Ordering::Relaxed) {
        JOB_WARNINGS.with_borrow_mut(|w| w.push(text));
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
    store_many(std::slice::from_ref(job), run_as, settings)
        .pop()
        .unwrap_or_else(|| Verdict::deferred("4.3.0", "local delivery process failed"))
}

/// Store `jobs`, all with the rights of one user: in the helper, as one
/// job of the store process running as `run_as`, which makes all its
/// Maildir copies durable in one flush round (`mailbox::store_many`).
/// One verdict per job, in order.
pub(crate) fn store_many(
    jobs: &[StoreJob<'_>],
    run_as: Option<Owner>,
    settings: &Settings,
) -> Vec<Verdict> {
    let Some(program) = &settings.store_program else {
        return mailbox::store_many(jobs, settings);
    };
    let agent = jobs.first().map_or("local", |j| j.agent);
    let failed = |v: Verdict| jobs.iter().map(|_| v.clone()).collect();
    let Some(owner) = run_as else {
        warn(agent, "no user to deliver as".to_string());
        return failed(Verdict::deferred(
            "4.3.5",
            "mail system configuration error",
        ));
    };
    let contents: usize = jobs.iter().map(|j| j.data.len() + 512).sum();
    let mut request = Enc(Vec::with_capacity(contents + 4));
    request.u32(jobs.len() as u32);
    for job in jobs {
        request.nested(|e| encode(e, job, owner, settings));
    }
    let decode = |body: &[u8]| decode_answer(body, jobs.len());
    match store_pool::run(program, owner, &request.0, settings.max_idle, decode) {
        Ok((verdicts, warnings)) => {
            for text in warnings {
                gatepost_log::warning(agent, text);
            }
            verdicts
        }
        Err(why) => {
            warn(agent, format!("delivery process: {why}"));
            failed(Verdict::deferred(
                "4.3.0",
                format!("local delivery process failed: {why}"),
            ))
        }
    }
}

fn encode(e: &mut Enc, job: &StoreJob<'_>, owner: Owner, settings: &Settings) {
    let t = job.target;
    let path = std::path::absolute(&t.path).unwrap_or_else(|_| t.path.clone());
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
}

/// A store process's answer: one verdict per copy, then the warnings of
/// the job.
fn decode_answer(body: &[u8], copies: usize) -> Result<(Vec<Verdict>, Vec<String>), String> {
    let mut d = Dec::new(body, "store process");
    let count = d.u32().map_err(|e| e.to_string())? as usize;
    if count != copies {
        return Err(format!("{count} answers for {copies} copies"));
    }
    let mut read = || -> Result<_, WireError> {
        let verdicts = (0..count).map(|_| d.verdict()).collect::<Result<_, _>>()?;
        let mut warnings = Vec::new();
        for _ in 0..d.u32()? {
            warnings.push(d.string()?);
        }
        Ok((verdicts, warnings))
    };
    read().map_err(|e| e.to_string())
}

fn encode_answer(verdicts: &[Verdict], warnings: &[String]) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(verdicts.len() as u32);
    for v in verdicts {
        e.verdict(v);
    }
    e.u32(warnings.len() as u32);
    for text in warnings {
        e.str(text);
    }
    e.0
}

/// `gatepost privsep-store`: jobs on stdin, one frame each (one or more
/// copies), until the input ends; each answered on stdout with a verdict
/// per copy and the job's warnings. A malformed job ends the process.
pub fn run_store_process() -> ExitCode {
    IN_STORE_PROCESS.store(true, Ordering::Relaxed);
    let Ok(mut settings) = Settings::from_config(&Config::defaults()) else {
        eprintln!("privsep-store: no default settings");
        return ExitCode::from(75);
    };
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = BufWriter::new(std::io::stdout().lock());
    loop {
        let job = match wire::read_frame(&mut input) {
            Ok(Some(job)) => job,
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("privsep-store: read request: {e}");
                return ExitCode::from(75);
            }
        };
        let verdicts = match decode_and_store(&job, &mut settings) {
            Ok(verdicts) => verdicts,
            Err(e) => {
                eprintln!("privsep-store: {e}");
                return ExitCode::from(75);
            }
        };
        let warnings = JOB_WARNINGS.with_borrow_mut(std::mem::take);
        if wire::write_frame(&mut output, &encode_answer(&verdicts, &warnings)).is_err() {
            return ExitCode::from(75);
        }
    }
}

/// One copy as the helper sent it.
struct Decoded<'a> {
    target: MailboxTarget,
    sender: String,
    orig_rcpt: String,
    delivered: String,
    delivered_header: bool,
    size_limit: u64,
    locks: LockKinds,
    data: &'a [u8],
}

fn decode_copy<'a>(d: &mut Dec<'a>, settings: &mut Settings) -> Result<Decoded<'a>, WireError> {
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
    settings.stale_lock_time = std::time::Duration::from_millis(d.u64()?);
    settings.deliver_lock_attempts = d.u32()?;
    settings.deliver_lock_delay = std::time::Duration::from_millis(d.u64()?);
    let data = d.bytes()?;
    Ok(Decoded {
        target: MailboxTarget {
            path,
            maildir,
            owner: None,
            require_owner,
            kind,
        },
        sender,
        orig_rcpt,
        delivered,
        delivered_header,
        size_limit,
        locks,
        data,
    })
}

fn decode_and_store(input: &[u8], settings: &mut Settings) -> Result<Vec<Verdict>, WireError> {
    let mut d = Dec::new(input, "helper");
    let count = d.u32()? as usize;
    let mut decoded = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let mut one = Dec::new(d.bytes()?, "helper");
        decoded.push(decode_copy(&mut one, settings)?);
    }
    let attrs: Vec<CopyAttrs<'_>> = decoded
        .iter()
        .map(|c| CopyAttrs {
            sender: &c.sender,
            orig_rcpt: &c.orig_rcpt,
            delivered: &c.delivered,
        })
        .collect();
    let jobs: Vec<StoreJob<'_>> = decoded
        .iter()
        .zip(&attrs)
        .map(|(c, attrs)| StoreJob {
            agent: "local",
            target: &c.target,
            data: c.data,
            attrs,
            delivered_header: c.delivered_header,
            size_limit: c.size_limit,
            locks: c.locks,
        })
        .collect();
    Ok(mailbox::store_many(&jobs, settings))
}
