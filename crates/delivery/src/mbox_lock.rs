//! Mailbox file locking as Postfix's mbox_open() does it
//! (`mailbox_delivery_lock` for local(8), `virtual_mailbox_lock` for
//! virtual(8); Linux default `fcntl, dotlock`): the names (`fcntl`,
//! `flock`, `dotlock`; anything else refuses the start with Postfix's
//! `unknown mailbox_delivery_lock value "x" in "..."`), the dot-lock
//! `FILE.lock` (created with `O_EXCL`, removed when its ctime is older
//! than `stale_lock_time`, `deliver_lock_attempts` tries
//! `deliver_lock_delay` apart; dot_lockfile.c), and the kernel locks on the
//! open file (non-blocking exclusive, as deliver_flock.c). Failure texts
//! are Postfix's: `unable to create lock file PATH: File exists`, `unable
//! to lock for exclusive access: Resource temporarily unavailable`.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which locks to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockKinds {
    pub fcntl: bool,
    pub flock: bool,
    pub dotlock: bool,
}

impl Default for LockKinds {
    /// Postfix's Linux default, `fcntl, dotlock`.
    fn default() -> LockKinds {
        LockKinds {
            fcntl: true,
            flock: false,
            dotlock: true,
        }
    }
}

impl LockKinds {
    /// Parse a `mailbox_delivery_lock`-style list (`param` names it in the
    /// error, as Postfix's name_mask()).
    pub fn parse(param: &str, names: &[String]) -> Result<LockKinds, String> {
        let mut kinds = LockKinds {
            fcntl: false,
            flock: false,
            dotlock: false,
        };
        for name in names {
            match name.to_ascii_lowercase().as_str() {
                "fcntl" => kinds.fcntl = true,
                "flock" => kinds.flock = true,
                "dotlock" => kinds.dotlock = true,
                _ => {
                    return Err(format!(
                        "unknown {param} value \"{name}\" in \"{}\"",
                        names.join(", ")
                    ))
                }
            }
        }
        Ok(kinds)
    }

    /// Compact form for the store process.
    pub fn bits(self) -> u8 {
        u8::from(self.fcntl) | (u8::from(self.flock) << 1) | (u8::from(self.dotlock) << 2)
    }

    pub fn from_bits(bits: u8) -> LockKinds {
        LockKinds {
            fcntl: bits & 1 != 0,
            flock: bits & 2 != 0,
            dotlock: bits & 4 != 0,
        }
    }
}

/// Retry and staleness settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockTiming {
    pub stale_lock_time: Duration,
    pub attempts: u32,
    pub delay: Duration,
}

/// A lock that could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("unable to create lock file {path}: {}", gatepost_log::io_text(.source))]
    DotLock {
        path: String,
        source: std::io::Error,
    },
    #[error("unable to lock for exclusive access: {}", gatepost_log::io_text(.0))]
    Kernel(std::io::Error),
}

impl LockError {
    pub fn kind(&self) -> std::io::ErrorKind {
        match self {
            LockError::DotLock { source, .. } => source.kind(),
            LockError::Kernel(e) => e.kind(),
        }
    }
}

/// A held dot-lock, removed on drop.
pub(crate) struct DotLock {
    path: PathBuf,
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a lock file is older than `stale` (by its ctime, as Postfix).
fn is_stale(path: &Path, stale: Duration) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let ctime = UNIX_EPOCH + Duration::from_secs(u64::try_from(meta.ctime()).unwrap_or(0));
    SystemTime::now()
        .duration_since(ctime)
        .is_ok_and(|age| age > stale)
}

/// Create `MAILBOX.lock` (dot_lockfile()).
pub(crate) fn dot_lock(mailbox: &Path, timing: &LockTiming) -> Result<DotLock, LockError> {
    let mut name = mailbox.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let attempts = timing.attempts.max(1);
    let mut count = 1;
    loop {
        let err = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => return Ok(DotLock { path }),
            Err(err) => err,
        };
        if count >= attempts || err.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(LockError::DotLock {
                path: path.display().to_string(),
                source: err,
            });
        }
        if is_stale(&path, timing.stale_lock_time) {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(LockError::DotLock {
                        path: path.display().to_string(),
                        source: err,
                    });
                }
            }
            // Removed: try again at once (Postfix sleeps first).
        } else {
            std::thread::sleep(timing.delay);
        }
        count += 1;
    }
}

/// One non-blocking exclusive attempt; `Ok(false)` when someone holds it.
fn try_kernel_lock(file: &File, fcntl: bool) -> std::io::Result<bool> {
    if fcntl {
        match rustix::fs::fcntl_lock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => Ok(false),
            Err(e) => Err(e.into()),
        }
    } else {
        match file.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Take the kernel locks of `kinds` on an open regular file
/// (deliver_flock()); released when the file is closed.
pub(crate) fn kernel_locks(
    file: &File,
    kinds: LockKinds,
    timing: &LockTiming,
) -> Result<(), LockError> {
    let wanted = [(kinds.flock, false), (kinds.fcntl, true)];
    for (_, fcntl) in wanted.into_iter().filter(|(on, _)| *on) {
        let attempts = timing.attempts.max(1);
        let mut count = 1;
        loop {
            match try_kernel_lock(file, fcntl) {
                Ok(true) => break,
                Ok(false) if count < attempts => std::thread::sleep(timing.delay),
                Ok(false) => {
                    return Err(LockError::Kernel(std::io::Error::from_raw_os_error(
                        rustix::io::Errno::AGAIN.raw_os_error(),
                    )))
                }
                Err(e) => return Err(LockError::Kernel(e)),
            }
            count += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let list = |s: &str| s.split(", ").map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            LockKinds::parse("mailbox_delivery_lock", &list("fcntl, dotlock")),
            Ok(LockKinds::default())
        );
        let all =
            LockKinds::parse("mailbox_delivery_lock", &list("flock, fcntl, dotlock")).unwrap();
        assert_eq!(LockKinds::from_bits(all.bits()), all);
        assert_eq!(
            LockKinds::parse("mailbox_delivery_lock", &list("fcntl, lockf")),
            Err("unknown mailbox_delivery_lock value \"lockf\" in \"fcntl, lockf\"".to_string())
        );
    }

    #[test]
    fn held_kernel_locks_are_refused_with_postfix_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob");
        let first = File::create(&path).unwrap();
        let second = OpenOptions::new().append(true).open(&path).unwrap();
        let timing = LockTiming {
            stale_lock_time: Duration::from_secs(500),
            attempts: 2,
            delay: Duration::from_millis(5),
        };
        let flock = LockKinds {
            fcntl: false,
            flock: true,
            dotlock: false,
        };
        kernel_locks(&first, flock, &timing).unwrap();
        let err = kernel_locks(&second, flock, &timing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to lock for exclusive access: Resource temporarily unavailable"
        );
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        drop(first);
        kernel_locks(&second, flock, &timing).unwrap();
    }
}
