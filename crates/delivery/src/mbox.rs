//! Appending to a UNIX mailbox file (local `mailbox`, `/file/name` and
//! virtual mbox deliveries): the locks of `mailbox_delivery_lock` /
//! `virtual_mailbox_lock` (see `mbox_lock`: dot-lock before the open,
//! `fcntl`/`flock` on the open file), size check against
//! `mailbox_size_limit`, write, fsync, and truncation back to the original
//! length on any failure so a mailbox never holds half a message.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::mbox_lock::{self, LockError, LockKinds, LockTiming};
use crate::privs::{self, Owner};
use crate::safe_open::{self, SafeOpenError};

/// How to lock and limit a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct MboxOptions {
    /// Largest allowed file size after the append; 0 = no limit.
    pub size_limit: u64,
    pub locks: LockKinds,
    pub timing: LockTiming,
    /// Owner for a newly created mailbox.
    pub owner: Option<Owner>,
    /// The uid an existing mailbox must belong to (a user's mailbox written
    /// with the user's rights).
    pub require_owner: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MboxError {
    #[error("{0}")]
    Lock(#[from] LockError),
    #[error("cannot open file: {0}")]
    Open(std::io::Error),
    #[error("{0}")]
    Unsafe(#[from] SafeOpenError),
    #[error("destination {0} is not owned by recipient")]
    NotOwned(String),
    #[error("error writing message: File too large")]
    TooLarge,
    #[error("error writing message: {0}")]
    Write(std::io::Error),
}

impl MboxError {
    /// The underlying error kind (for the deferral/bounce decision).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            MboxError::Lock(e) => Some(e.kind()),
            MboxError::Open(e) | MboxError::Write(e) => Some(e.kind()),
            MboxError::TooLarge => Some(std::io::ErrorKind::FileTooLarge),
            MboxError::Unsafe(e) => Some(e.kind),
            MboxError::NotOwned(_) => Some(std::io::ErrorKind::PermissionDenied),
        }
    }
}

/// Append `data` (already rendered with `From ` line and blank line) to the
/// mailbox file at `path`, creating it (mode 0600) when missing.
pub(crate) fn append(path: &Path, data: &[u8], opts: &MboxOptions) -> Result<(), MboxError> {
    let special = std::fs::metadata(path).is_ok_and(|m| safe_open::is_special(&m));
    let _lock = if special || !opts.locks.dotlock {
        None
    } else {
        Some(mbox_lock::dot_lock(path, &opts.timing)?)
    };
    let (mut file, meta, created) = safe_open::open_append(path, 0o600)?;
    if safe_open::is_special(&meta) {
        return write_special(&mut file, data);
    }
    if created {
        privs::give(path, opts.owner).map_err(MboxError::Open)?;
    }
    if let Some(uid) = opts.require_owner {
        if meta.uid() != uid {
            return Err(MboxError::NotOwned(path.display().to_string()));
        }
    }
    mbox_lock::kernel_locks(&file, opts.locks, &opts.timing)?;
    let orig_len = file.seek(SeekFrom::End(0)).map_err(MboxError::Write)?;
    if opts.size_limit > 0 && orig_len.saturating_add(data.len() as u64) > opts.size_limit {
        return Err(MboxError::TooLarge);
    }
    let result = file.write_all(data).and_then(|()| file.sync_all());
    if let Err(err) = result {
        let _ = file.set_len(orig_len);
        return Err(MboxError::Write(err));
    }
    Ok(())
}

/// A device or FIFO target (`/dev/null`, a pipe): just write.
fn write_special(file: &mut File, data: &[u8]) -> Result<(), MboxError> {
    file.write_all(data).map_err(MboxError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn opts() -> MboxOptions {
        MboxOptions {
            size_limit: 0,
            locks: LockKinds::default(),
            timing: LockTiming {
                stale_lock_time: Duration::from_secs(500),
                attempts: 2,
                delay: Duration::from_millis(10),
            },
            owner: None,
            require_owner: None,
        }
    }

    #[test]
    fn appends_and_removes_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob");
        append(&path, b"From a  x\n\nm1\n\n", &opts()).unwrap();
        append(&path, b"From a  x\n\nm2\n\n", &opts()).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"From a  x\n\nm1\n\nFrom a  x\n\nm2\n\n"
        );
        assert!(!dir.path().join("bob.lock").exists());
    }

    #[test]
    fn held_lock_fails_and_stale_lock_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob");
        std::fs::write(dir.path().join("bob.lock"), b"").unwrap();
        let err = append(&path, b"x\n", &opts()).unwrap_err();
        assert!(
            err.to_string().starts_with("unable to create lock file "),
            "{err}"
        );
        let mut stale = opts();
        stale.timing.stale_lock_time = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(20));
        append(&path, b"x\n", &stale).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x\n");
    }

    #[test]
    fn links_and_foreign_mailboxes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let path = dir.path().join("bob");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = append(&path, b"x\n", &opts()).unwrap_err();
        assert_eq!(err.to_string(), "file is a symbolic link");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(!dir.path().join("bob.lock").exists());
        let owned = dir.path().join("carol");
        std::fs::write(&owned, b"").unwrap();
        let mine = std::fs::metadata(&owned).unwrap().uid();
        let strict = MboxOptions {
            require_owner: Some(mine.wrapping_add(1)),
            ..opts()
        };
        let err = append(&owned, b"x\n", &strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("destination {} is not owned by recipient", owned.display())
        );
        let ok = MboxOptions {
            require_owner: Some(mine),
            ..opts()
        };
        append(&owned, b"x\n", &ok).unwrap();
        assert_eq!(std::fs::read(&owned).unwrap(), b"x\n");
    }

    #[test]
    fn size_limit_leaves_mailbox_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob");
        std::fs::write(&path, b"12345").unwrap();
        let limited = MboxOptions {
            size_limit: 8,
            ..opts()
        };
        let err = append(&path, b"6789", &limited).unwrap_err();
        assert_eq!(err.to_string(), "error writing message: File too large");
        assert_eq!(std::fs::read(&path).unwrap(), b"12345");
    }
}
