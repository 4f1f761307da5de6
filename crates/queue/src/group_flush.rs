//! Group commit of every fsync the process makes durable before it
//! answers: queue files, queue directories, Maildir files and directories.
//!
//! Callers hand their flushes (an `fdatasync` of a file they wrote, an
//! `fsync` of a directory they linked or renamed into) to one committer
//! thread and wait. The committer takes everything that is waiting as one
//! round, fsyncs each directory once however many callers named it, and
//! first starts the writeback of every file of the round at once
//! (`posix_fadvise(2)` `POSIX_FADV_DONTNEED`, which on Linux submits a
//! file's dirty pages without waiting), then fsyncs them one after the
//! other: the device gets the round's data together, each fsync finds its
//! data on the way and writes little more than the inode. Whatever arrives
//! during a round waits for the next one. A caller is answered when every
//! flush it asked for is done (or with the first error among them); a
//! round always starts after the caller's own writes, so it covers them. A
//! file named by many callers of a round (the write-ahead log's segment)
//! is fsynced once. See docs/durability.md for the measurements behind
//! this choice (against parallel fsyncs, `syncfs(2)` and per-message
//! fsyncs).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use tokio::sync::oneshot;

use crate::error::QueueError;

/// One thing to make durable.
#[derive(Debug)]
pub enum Flush {
    /// `fdatasync(2)` of a file the caller wrote (data and the metadata
    /// needed to read it back).
    Data(Arc<File>),
    /// `fsync(2)` of a directory the caller created, linked, renamed or
    /// removed an entry in.
    Dir(PathBuf),
}

type Reply = oneshot::Sender<io::Result<()>>;

#[derive(Default)]
struct Pending {
    requests: Vec<(Vec<Flush>, Reply)>,
    /// The committer is running a round.
    committing: bool,
    /// A caller is running its own flushes ([`GroupFlush::flush_here`]).
    leading: bool,
    /// Callers overlapped lately: leave every flush to the committer's
    /// rounds until [`CALM_ROUNDS`] in a row have run alone.
    contended: bool,
    /// Rounds in a row with a single caller and nobody behind it.
    calm_rounds: u32,
    /// The committer is asleep on `wake`: only then does a caller wake it
    /// (a running committer looks for requests again after its round, so
    /// a wake-up then would be a system call for nothing).
    asleep: bool,
}

/// Rounds in a row with a single caller after which callers may flush on
/// their own threads again ([`GroupFlush::flush_here`]).
const CALM_ROUNDS: u32 = 8;

/// The process's flush committer (see the module header).
pub struct GroupFlush {
    /// No committer thread could be started: each caller flushes its own.
    inline: std::sync::atomic::AtomicBool,
    pending: Mutex<Pending>,
    wake: Condvar,
    stats: Mutex<Stats>,
}

#[derive(Default)]
struct Stats {
    rounds: u64,
    dir_fsyncs: HashMap<PathBuf, u64>,
}

impl std::fmt::Debug for GroupFlush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupFlush").finish_non_exhaustive()
    }
}

enum FlushTarget {
    Data(Arc<File>),
    Dir(PathBuf),
}

/// Submit the dirty pages of `file` for writing without waiting for them
/// (Linux writes them back before it drops clean pages from the cache;
/// elsewhere this may do nothing). The fsync that follows waits for what
/// is on its way and writes the rest, so an error here changes nothing.
fn start_writeback(file: &File) {
    let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
}

fn run(target: &FlushTarget) -> io::Result<()> {
    match target {
        FlushTarget::Data(file) => file.sync_data(),
        FlushTarget::Dir(dir) => File::open(dir)?.sync_all(),
    }
}

/// One directory fsync outside the group commit (maildrop submissions,
/// operator commands in their own process), with the directory named in
/// the error.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| QueueError::io(dir, e))
}

impl GroupFlush {
    /// The committer of this process, started on first use.
    pub fn global() -> &'static GroupFlush {
        static GLOBAL: OnceLock<&'static GroupFlush> = OnceLock::new();
        GLOBAL.get_or_init(|| GroupFlush::start("group-flush"))
    }

    /// The committer of the write-ahead log's segments, apart from
    /// [`global`](Self::global): an accepted message waits for one
    /// `fdatasync` of the log, never behind a round of Maildir or
    /// directory fsyncs (docs/durability.md).
    pub fn log() -> &'static GroupFlush {
        static LOG: OnceLock<&'static GroupFlush> = OnceLock::new();
        LOG.get_or_init(|| GroupFlush::start("wal-flush"))
    }

    fn start(name: &str) -> &'static GroupFlush {
        let me: &'static GroupFlush = Box::leak(Box::new(GroupFlush {
            inline: std::sync::atomic::AtomicBool::new(false),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            stats: Mutex::new(Stats::default()),
        }));
        let started = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || me.committer());
        if started.is_err() {
            me.inline.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        me
    }

    /// Make `items` durable; returns once a round that started after this
    /// call has done all of them (async callers).
    pub async fn flush(&self, items: Vec<Flush>) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let rx = self.submit(items);
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("flush committer stopped")))
    }

    /// As [`flush`](Self::flush), for callers on a blocking thread (never
    /// from inside an async task). When nobody else is flushing, the
    /// targets are flushed on the calling thread
    /// ([`flush_here`](Self::flush_here)), else they join a round.
    pub fn flush_blocking(&self, items: Vec<Flush>) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        if let Some(outcome) = self.flush_here(&items) {
            return outcome;
        }
        let rx = self.submit(items);
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(io::Error::other("flush committer stopped")))
    }

    /// Directory fsyncs done so far on `dir` (group commit statistics).
    pub fn dir_fsyncs(&self, dir: &Path) -> u64 {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.dir_fsyncs.get(dir).copied().unwrap_or(0)
    }

    /// Rounds committed so far.
    pub fn rounds(&self) -> u64 {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).rounds
    }

    fn submit(&self, items: Vec<Flush>) -> oneshot::Receiver<io::Result<()>> {
        let (tx, rx) = oneshot::channel();
        if self.inline.load(std::sync::atomic::Ordering::Relaxed) {
            self.commit_round(vec![(items, tx)]);
            return rx;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.requests.push((items, tx));
        let asleep = pending.asleep;
        drop(pending);
        if asleep {
            self.wake.notify_one();
        }
        rx
    }

    /// Make `items` durable on the calling thread (a blocking thread, or
    /// a session's runtime thread: docs/durability.md) when nobody else
    /// is flushing: no committer round running or waiting, no other
    /// caller doing the same, and no overlap between callers since the
    /// committer last ran several rounds alone in a row. That saves the
    /// hand-over to the committer and back when the load is light.
    /// `None`: others are flushing, so join their rounds with
    /// [`flush`](Self::flush) as usual.
    pub fn flush_here(&self, items: &[Flush]) -> Option<io::Result<()>> {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.committing
                || pending.leading
                || pending.contended
                || !pending.requests.is_empty()
            {
                return None;
            }
            pending.leading = true;
        }
        if items.len() > 1 {
            for item in items {
                if let Flush::Data(file) = item {
                    start_writeback(file);
                }
            }
        }
        let mut outcome = Ok(());
        let mut dirs = Vec::new();
        for item in items {
            let result = match item {
                Flush::Data(file) => file.sync_data(),
                Flush::Dir(dir) => {
                    dirs.push(dir.clone());
                    File::open(dir).and_then(|d| d.sync_all())
                }
            };
            if let Err(e) = result {
                outcome = Err(io::Error::new(e.kind(), format!("fsync: {e}")));
                break;
            }
        }
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.leading = false;
            // Someone came while this thread flushed: batch from now on.
            if pending.committing || !pending.requests.is_empty() {
                pending.contended = true;
                pending.calm_rounds = 0;
            }
        }
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.rounds += 1;
        for dir in dirs {
            *stats.dir_fsyncs.entry(dir).or_default() += 1;
        }
        Some(outcome)
    }

    fn committer(&self) {
        loop {
            let round = {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                while pending.requests.is_empty() {
                    pending.asleep = true;
                    pending = self.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
                    pending.asleep = false;
                }
                pending.committing = true;
                std::mem::take(&mut pending.requests)
            };
            let alone = round.len() == 1;
            self.commit_round(round);
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.committing = false;
            // One caller, and nobody waiting behind it, several times in a
            // row: the load is light again, callers may flush on their own
            // threads.
            if alone && pending.requests.is_empty() {
                pending.calm_rounds += 1;
                if pending.calm_rounds >= CALM_ROUNDS {
                    pending.contended = false;
                }
            } else {
                pending.calm_rounds = 0;
            }
        }
    }

    /// Make every target of `round` durable (each file and directory
    /// once): the writeback of all files started first, then one fsync
    /// after the other; then answer each request with the first failure
    /// among its flushes.
    fn commit_round(&self, round: Vec<(Vec<Flush>, Reply)>) {
        let mut targets: Vec<FlushTarget> = Vec::new();
        let mut dir_index: HashMap<PathBuf, usize> = HashMap::new();
        // One fdatasync per file however many callers share it (the
        // write-ahead log's segment).
        let mut file_index: HashMap<*const File, usize> = HashMap::new();
        let mut wanted: Vec<(Vec<usize>, Reply)> = Vec::with_capacity(round.len());
        for (items, reply) in round {
            let mut mine = Vec::with_capacity(items.len());
            for item in items {
                let index = match item {
                    Flush::Data(file) => {
                        *file_index.entry(Arc::as_ptr(&file)).or_insert_with(|| {
                            targets.push(FlushTarget::Data(file));
                            targets.len() - 1
                        })
                    }
                    Flush::Dir(dir) => *dir_index.entry(dir.clone()).or_insert_with(|| {
                        targets.push(FlushTarget::Dir(dir));
                        targets.len() - 1
                    }),
                };
                mine.push(index);
            }
            wanted.push((mine, reply));
        }
        if targets.len() > 1 {
            for target in &targets {
                if let FlushTarget::Data(file) = target {
                    start_writeback(file);
                }
            }
        }
        let results: Vec<io::Result<()>> = targets.iter().map(run).collect();
        {
            let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            stats.rounds += 1;
            for dir in dir_index.keys() {
                *stats.dir_fsyncs.entry(dir.clone()).or_default() += 1;
            }
        }
        for (mine, reply) in wanted {
            let mut outcome = Ok(());
            for index in mine {
                if let Err(e) = &results[index] {
                    outcome = Err(io::Error::new(e.kind(), format!("fsync: {e}")));
                    break;
                }
            }
            let _ = reply.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn flush_here_runs_alone_and_steps_aside_when_others_flush() {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(File::create(dir.path().join("f")).unwrap());
        let flusher = GroupFlush::start("test-flush");
        let items = [Flush::Data(file.clone()), Flush::Dir(dir.path().into())];
        assert!(matches!(flusher.flush_here(&items), Some(Ok(()))));
        assert_eq!(flusher.rounds(), 1);
        assert_eq!(flusher.dir_fsyncs(dir.path()), 1);
        // A committer round running, another caller leading, or callers
        // overlapping lately: join the rounds.
        flusher.pending.lock().unwrap().committing = true;
        assert!(flusher.flush_here(&items).is_none());
        flusher.pending.lock().unwrap().committing = false;
        flusher.pending.lock().unwrap().leading = true;
        assert!(flusher.flush_here(&items).is_none());
        flusher.pending.lock().unwrap().leading = false;
        flusher.pending.lock().unwrap().contended = true;
        assert!(flusher.flush_here(&items).is_none());
        flusher.pending.lock().unwrap().contended = false;
        // A failed fsync is the caller's error (a directory that is gone).
        let gone = [Flush::Dir(dir.path().join("missing"))];
        assert!(matches!(flusher.flush_here(&gone), Some(Err(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_rounds_and_directory_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = GroupFlush::global();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let path = dir.path().to_path_buf();
            tasks.push(tokio::spawn(async move {
                let mut f = File::create(path.join(format!("f{i}"))).unwrap();
                f.write_all(b"data").unwrap();
                let items = vec![Flush::Data(Arc::new(f)), Flush::Dir(path)];
                GroupFlush::global().flush(items).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n = flusher.dir_fsyncs(dir.path());
        assert!((1..50).contains(&n), "directory fsyncs: {n}");
    }

    /// A caller that arrives while the committer sleeps wakes it; one
    /// that arrives during a round is taken by the next one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sleeping_committer_is_woken_by_each_caller() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = GroupFlush::start("test-wake");
        for round in 0..3 {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !flusher.pending.lock().unwrap().asleep {
                assert!(
                    std::time::Instant::now() < deadline,
                    "committer never slept"
                );
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            let items = vec![Flush::Dir(dir.path().into())];
            let done =
                tokio::time::timeout(std::time::Duration::from_secs(10), flusher.flush(items));
            assert!(matches!(done.await, Ok(Ok(()))), "round {round}: not woken");
        }
        assert_eq!(flusher.dir_fsyncs(dir.path()), 3);
    }

    #[test]
    fn blocking_callers_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("x")).unwrap();
        let items = vec![Flush::Data(Arc::new(f)), Flush::Dir(dir.path().into())];
        GroupFlush::global().flush_blocking(items).unwrap();
        assert_eq!(GroupFlush::global().dir_fsyncs(dir.path()), 1);
    }

    #[tokio::test]
    async fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![Flush::Dir(dir.path().join("nope"))];
        assert!(GroupFlush::global().flush(items).await.is_err());
    }
}
