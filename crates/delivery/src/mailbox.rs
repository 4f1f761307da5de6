//! Storing one message copy in a mailbox: the choice between Maildir (path
//! ends in `/`) and mbox, and Postfix's result texts (`delivered to
//! maildir`, `delivered to mailbox`, `delivered to file: PATH`,
//! `maildir delivery failed: ...`, `cannot update mailbox PATH for user
//! USER. ...`). Shared by the local and virtual agents.
//!
//! Failures are deferred (4.2.0; 4.3.1 for a full disk) so mail is never
//! lost to a transient problem, except a mailbox over its size limit or
//! quota, which bounces with 5.2.2 as in Postfix.

use std::io::ErrorKind;
use std::path::PathBuf;

use crate::content::{self, CopyAttrs, CopyFlags};
use crate::maildir;
use crate::mbox::{self, MboxError, MboxOptions};
use crate::mbox_lock::{LockKinds, LockTiming};
use crate::privs::Owner;
use crate::settings::Settings;
use crate::store_process::{self, StoreJob};
use crate::verdict::Verdict;

/// Where a copy goes and how it is named in the result text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailboxTarget {
    pub path: PathBuf,
    pub maildir: bool,
    pub owner: Option<Owner>,
    /// The uid an existing mbox must belong to (set when the store runs
    /// as the user).
    pub require_owner: Option<u32>,
    pub kind: TargetKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// A user's mailbox (`for user USER` in failure texts).
    Mailbox { user: String },
    /// A `/file/name` alias target.
    File,
}

impl MailboxTarget {
    /// A path string from configuration or a table: a trailing `/` means
    /// Maildir.
    pub fn from_path(path: &str, owner: Option<Owner>, kind: TargetKind) -> MailboxTarget {
        MailboxTarget {
            path: PathBuf::from(path),
            maildir: path.ends_with('/'),
            owner,
            require_owner: None,
            kind,
        }
    }
}

/// Map an I/O failure to a verdict.
pub(crate) fn io_verdict(kind: ErrorKind, text: String) -> Verdict {
    match kind {
        ErrorKind::FileTooLarge | ErrorKind::QuotaExceeded => Verdict::bounced("5.2.2", text),
        ErrorKind::StorageFull => Verdict::deferred("4.3.1", text),
        _ => Verdict::deferred("4.2.0", text),
    }
}

/// A target that is a link, a directory or was swapped while we opened it
/// may be an attempt to make the mail system write elsewhere: say so in
/// the log, besides the deferral. A mailbox owned by someone else gets
/// Postfix's hint.
fn warn_if_suspicious(err: &MboxError, text: &str) {
    match err {
        MboxError::Unsafe(e) if e.suspicious => store_process::warn("local", text.to_string()),
        MboxError::NotOwned(_) => store_process::warn(
            "local",
            "specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch"
                .to_string(),
        ),
        _ => {}
    }
}

/// Write one copy of `data` into `target`.
pub(crate) fn store(
    target: &MailboxTarget,
    data: &[u8],
    attrs: &CopyAttrs<'_>,
    delivered_header: bool,
    size_limit: u64,
    locks: LockKinds,
    settings: &Settings,
) -> Verdict {
    if target.maildir {
        let bytes = content::render(data, attrs, CopyFlags::maildir(delivered_header));
        return match maildir::deliver(
            &target.path,
            &bytes,
            maildir::machine_hostname(),
            target.owner,
        ) {
            Ok(_) => Verdict::sent("2.0.0", "delivered to maildir"),
            Err(err) => io_verdict(err.io_kind(), format!("maildir delivery failed: {err}")),
        };
    }
    if target.kind == TargetKind::File && target.path == std::path::Path::new("/dev/null") {
        return Verdict::sent("2.0.0", "delivered to file: /dev/null");
    }
    let bytes = content::render(data, attrs, CopyFlags::mbox(delivered_header));
    let opts = MboxOptions {
        size_limit,
        locks,
        timing: LockTiming {
            stale_lock_time: settings.stale_lock_time,
            attempts: settings.deliver_lock_attempts,
            delay: settings.deliver_lock_delay,
        },
        owner: target.owner,
        require_owner: target.require_owner,
    };
    let path = target.path.display();
    match (mbox::append(&target.path, &bytes, &opts), &target.kind) {
        (Ok(()), TargetKind::Mailbox { .. }) => Verdict::sent("2.0.0", "delivered to mailbox"),
        (Ok(()), TargetKind::File) => Verdict::sent("2.0.0", format!("delivered to file: {path}")),
        (Err(err), TargetKind::Mailbox { user }) => {
            let kind = err.io_kind().unwrap_or(ErrorKind::Other);
            let text = format!("cannot update mailbox {path} for user {user}. {err}");
            warn_if_suspicious(&err, &text);
            io_verdict(kind, text)
        }
        (Err(err), TargetKind::File) => {
            let kind = err.io_kind().unwrap_or(ErrorKind::Other);
            let text = format!("cannot append message to file {path}: {err}");
            warn_if_suspicious(&err, &text);
            io_verdict(kind, text)
        }
    }
}

/// Store several copies (a store process's job): the Maildir copies
/// together, with one flush round for all of them
/// (`maildir::deliver_many`), the mbox and file copies one after the
/// other. One verdict per job, in order; a failed copy fails only itself.
pub(crate) fn store_many(jobs: &[StoreJob<'_>], settings: &Settings) -> Vec<Verdict> {
    let one = |j: &StoreJob<'_>| {
        store(
            j.target,
            j.data,
            j.attrs,
            j.delivered_header,
            j.size_limit,
            j.locks,
            settings,
        )
    };
    if jobs.len() < 2 {
        return jobs.iter().map(one).collect();
    }
    let rendered: Vec<Option<Vec<u8>>> = jobs
        .iter()
        .map(|j| {
            j.target
                .maildir
                .then(|| content::render(j.data, j.attrs, CopyFlags::maildir(j.delivered_header)))
        })
        .collect();
    let copies: Vec<maildir::Copy<'_>> = jobs
        .iter()
        .zip(&rendered)
        .filter_map(|(j, bytes)| {
            bytes.as_ref().map(|data| maildir::Copy {
                dir: &j.target.path,
                data,
                owner: j.target.owner,
            })
        })
        .collect();
    let mut delivered = maildir::deliver_many(&copies, maildir::machine_hostname()).into_iter();
    jobs.iter()
        .map(|j| {
            if !j.target.maildir {
                return one(j);
            }
            match delivered.next() {
                Some(Ok(_)) => Verdict::sent("2.0.0", "delivered to maildir"),
                Some(Err(err)) => {
                    io_verdict(err.io_kind(), format!("maildir delivery failed: {err}"))
                }
                None => Verdict::deferred("4.3.0", "maildir delivery failed: not attempted"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_classes() {
        for (kind, status, dsn) in [
            (
                ErrorKind::FileTooLarge,
                gatepost_qmgr::DeliveryStatus::Bounced,
                "5.2.2",
            ),
            (
                ErrorKind::QuotaExceeded,
                gatepost_qmgr::DeliveryStatus::Bounced,
                "5.2.2",
            ),
            (
                ErrorKind::StorageFull,
                gatepost_qmgr::DeliveryStatus::Deferred,
                "4.3.1",
            ),
            (
                ErrorKind::PermissionDenied,
                gatepost_qmgr::DeliveryStatus::Deferred,
                "4.2.0",
            ),
        ] {
            let v = io_verdict(kind, "x".into());
            assert_eq!((v.status, v.dsn.as_str()), (status, dsn), "{kind:?}");
        }
    }

    #[test]
    fn trailing_slash_means_maildir() {
        let t = MailboxTarget::from_path("/var/mail/bob/", None, TargetKind::File);
        assert!(t.maildir);
        assert!(!MailboxTarget::from_path("/var/mail/bob", None, TargetKind::File).maildir);
    }
}
