//! The running server's lock and pid file, as Postfix's master:
//! `$queue_directory/pid/master.pid` holds the server's process id and is
//! locked (flock, exclusive) for as long as the server runs. A second
//! server on the same queue cannot take the lock and refuses to start; the
//! control commands tell "running" from "not running" by trying the lock
//! (Postfix's `master -t`), never by trusting a stale pid file. As
//! Postfix's master, it also holds `$data_directory/master.lock` (its
//! process id, locked the same way), so that two servers sharing a
//! `data_directory` refuse each other too.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The pid file, relative to `queue_directory` (Postfix's `pid/master.pid`).
const PID_FILE: &str = "pid/master.pid";

/// The lock file in `data_directory` (Postfix's `master.lock`).
const DATA_LOCK_FILE: &str = "master.lock";

/// Path of the pid file of the server on `queue_dir`.
pub fn pid_path(queue_dir: &Path) -> PathBuf {
    queue_dir.join(PID_FILE)
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the Postfix mail system is already running")]
    AlreadyRunning,
    #[error("open lock file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The held locks; dropping them (or the process ending, however)
/// releases them.
pub struct MasterLock {
    _pid_file: File,
    _data_lock: File,
}

impl MasterLock {
    /// Take the lock on `queue_dir`'s pid file and on `data_dir`'s
    /// `master.lock`, and write our process id into both (right-aligned,
    /// as Postfix's master writes it).
    pub fn acquire(queue_dir: &Path, data_dir: &Path) -> Result<MasterLock, LockError> {
        let pid_file = lock_pid_file(&pid_path(queue_dir))?;
        let data_lock = lock_pid_file(&data_dir.join(DATA_LOCK_FILE))?;
        Ok(MasterLock {
            _pid_file: pid_file,
            _data_lock: data_lock,
        })
    }
}

/// Create (with its directory) and lock `path`, and write our pid into it.
fn lock_pid_file(path: &Path) -> Result<File, LockError> {
    let path = path.to_path_buf();
    let io_error = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(LockError::AlreadyRunning),
        Err(TryLockError::Error(e)) => return Err(io_error(e)),
    }
    file.set_len(0).map_err(io_error)?;
    file.write_all(format!("{:>32}\n", std::process::id()).as_bytes())
        .map_err(io_error)?;
    file.flush().map_err(io_error)?;
    Ok(file)
}

/// The process id of the server running on `queue_dir`, `None` when none
/// runs (no pid file, or nobody holds its lock). A running server whose
/// pid file cannot be read gives `Some(0)`.
pub fn running(queue_dir: &Path) -> io::Result<Option<u32>> {
    let mut file = match File::open(pid_path(queue_dir)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.try_lock_shared() {
        Ok(()) => return Ok(None),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => return Err(e),
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Some(
        text.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_one_queue_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(running(dir.path()).unwrap(), None);
        let data = tempfile::tempdir().unwrap();
        let lock = MasterLock::acquire(dir.path(), data.path()).unwrap();
        assert!(matches!(
            MasterLock::acquire(dir.path(), data.path()),
            Err(LockError::AlreadyRunning)
        ));
        // Another queue, the same data_directory: master.lock refuses.
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            MasterLock::acquire(other.path(), data.path()),
            Err(LockError::AlreadyRunning)
        ));
        assert!(data.path().join("master.lock").is_file());
        assert_eq!(running(dir.path()).unwrap(), Some(std::process::id()));
        drop(lock);
        assert_eq!(running(dir.path()).unwrap(), None);
    }
}
