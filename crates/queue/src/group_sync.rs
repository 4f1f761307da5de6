//! Group commit of directory fsyncs.
//!
//! After a file is linked or renamed into a queue directory, the directory
//! itself must be fsynced before the move is durable (docs/queue.md#durability).
//! Concurrent committers share fsyncs: a caller needs one fsync that *starts*
//! after its own rename. Whoever arrives while an fsync is running waits for
//! the next one, which then covers every caller that arrived in the
//! meantime; with N concurrent commits there are at most a couple of fsyncs
//! instead of N.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::error::QueueError;

#[derive(Debug, Default)]
struct State {
    /// Number of fsyncs started so far (the generation of the latest one).
    started: u64,
    /// Generation of the latest completed fsync.
    completed: u64,
    /// Whether an fsync is in progress.
    running: bool,
    /// Generation and text of the latest failed fsync.
    last_failure: Option<(u64, String)>,
    /// Total fsyncs performed (for tests and statistics).
    fsyncs: u64,
}

/// Shared directory-fsync for one directory.
#[derive(Debug)]
pub(crate) struct GroupSync {
    dir: PathBuf,
    state: Mutex<State>,
    done: Notify,
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One directory fsync outside the group commit (maildrop submissions,
/// operator commands), with the directory named in the error.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    fsync_dir(dir).map_err(|e| QueueError::io(dir, e))
}

impl GroupSync {
    pub fn new(dir: PathBuf) -> GroupSync {
        GroupSync {
            dir,
            state: Mutex::new(State::default()),
            done: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding
        // it; the counters are still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of directory fsyncs done so far.
    pub fn fsync_count(&self) -> u64 {
        self.lock().fsyncs
    }

    /// Return once an fsync of the directory that started after this call
    /// has completed (successfully: otherwise an error).
    pub async fn sync(&self) -> Result<(), QueueError> {
        let my_gen = self.lock().started + 1;
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            // Register interest before checking state, so a completion that
            // happens in between is not missed.
            notified.as_mut().enable();
            let gen = {
                let mut st = self.lock();
                if st.completed >= my_gen {
                    return match &st.last_failure {
                        Some((g, why)) if *g >= my_gen => Err(QueueError::io(
                            &self.dir,
                            std::io::Error::other(format!("fsync: {why}")),
                        )),
                        _ => Ok(()),
                    };
                }
                if st.running {
                    None
                } else {
                    st.running = true;
                    st.started += 1;
                    Some(st.started)
                }
            };
            let Some(gen) = gen else {
                notified.await;
                continue;
            };
            let dir = self.dir.clone();
            let result = match tokio::task::spawn_blocking(move || fsync_dir(&dir)).await {
                Ok(r) => r,
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            {
                let mut st = self.lock();
                st.running = false;
                st.completed = gen;
                st.fsyncs += 1;
                if let Err(e) = result {
                    st.last_failure = Some((gen, e.to_string()));
                }
            }
            self.done.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let gs = Arc::new(GroupSync::new(dir.path().to_path_buf()));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let gs = gs.clone();
            tasks.push(tokio::spawn(async move { gs.sync().await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n = gs.fsync_count();
        assert!((1..50).contains(&n), "fsyncs: {n}");
    }

    #[tokio::test]
    async fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gs = GroupSync::new(dir.path().join("nope"));
        assert!(gs.sync().await.is_err());
    }
}
