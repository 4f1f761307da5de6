//! Recycled queue files (docs/durability.md#recycled-queue-files). In the
//! server, a message file that leaves the queue is cut to its first block
//! and renamed into `spare/` instead of unlinked, and the next new message
//! takes it instead of creating a file, overwriting that block: in steady
//! state the queue allocates and frees no inode and, for messages that fit
//! in one block, no block at all. Creating a file costs the filesystem an
//! inode allocation, and on ext4 without a journal each allocation skips
//! every inode freed in the last minutes one by one, so create+unlink per
//! message grows slower the more messages pass. Renames cost neither.
//!
//! Only a process that runs the write-ahead log recycles (the server,
//! which holds the master lock: no other process takes spares); operator
//! commands create and unlink as before. A spare is written where it is
//! and renamed into its queue when complete, as a file of `tmp/` is.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Directory of given-back queue files waiting to be reused.
pub(crate) const SPARE_DIR: &str = "spare";

/// Most files kept in `spare/`; beyond that a removed file is unlinked.
/// A burst of 10,000 messages at 20 sessions leaves some 6,000 queued at
/// once on a 2-core machine; a cap below that unlinks thousands of files
/// as the burst drains, and every unlink is an inode the next creations
/// (in the Maildir too) walk past. An empty spare costs an inode and a
/// directory entry.
const MAX_SPARES: usize = 16384;

/// When fewer spares than this are left, a background thread makes
/// `TOP_UP` more, off the path of any message: a burst of mail arriving
/// faster than deliveries return files still allocates no inode while a
/// session waits. The first top-up comes with the first message of a
/// run; with 2,048 (and a mark of 512) instead of 256 (and 64), a burst of
/// 2,000 messages at 20 sessions shortly after the start was accepted 15%
/// faster (median of 6 fresh starts each: 3,296 → 3,776 msg/s), since
/// sessions no longer created files when the reserve ran out. A spare
/// that was never used costs an inode and a directory entry, no block.
const LOW_WATER: usize = 512;
const TOP_UP: usize = 2048;

/// The reserve is made at the delivery side's CPU priority (nice 10,
/// ARCHITECTURE.md "Receiving before delivering"): it is work for later
/// messages, not for the session that started it.
const RESERVE_NICE: i32 = 10;

/// Most spares kept open in the pool. A message committed by its log
/// record alone gives its spare back unwritten and still open; the next
/// message takes it as it is, with no `openat` and no `close` on the
/// session's path. Beyond this many the file is closed and only its name
/// kept (each open one costs a file descriptor; they come on top of
/// `MAX_SPARES`).
const OPEN_SPARES: usize = 256;

/// What a reused queue file still holds of an earlier message: at most
/// its first block, given back in this run. The new message overwrites
/// it from the start, and whatever lies beyond the new file's end is
/// covered with filler (empty lines after the envelope), so nothing is
/// truncated and no block freed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StaleBytes {
    len: u64,
}

impl StaleBytes {
    /// Filler bytes to write after a new file of `end` bytes.
    pub(crate) fn filler_after(&self, end: u64) -> usize {
        usize::try_from(self.len.saturating_sub(end)).unwrap_or(0)
    }
}

/// A file to write a new message into: a spare, or a file just created.
#[derive(Debug)]
pub(crate) struct Spare {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    /// Its inode number (the queue id's second part).
    pub(crate) inode: u64,
    pub(crate) stale: StaleBytes,
}

/// What the pool knows of a spare it was given in this run: its inode
/// and how many bytes it still holds. Taken with it, the spare needs no
/// `statx` on the path of the session that takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    inode: u64,
    len: u64,
}

/// Cut a file given back to its first block, where it keeps its earlier
/// bytes: no block is freed for a message that fits in one (a freed block
/// costs the filesystem an update of its bitmaps and, mounted with
/// `discard`, a discard request to the device); a larger one frees the
/// rest. Its blocks beyond the first are whole blocks, so no part of a
/// block is zeroed. `len` and `block` are the file's length and block
/// size; `cut` shortens it. What it then holds, or `None` when it could
/// not be cut.
fn keep_first_block(
    inode: u64,
    len: u64,
    block: u64,
    cut: impl FnOnce(u64) -> std::io::Result<()>,
) -> Option<Known> {
    if len <= block {
        return Some(Known { inode, len });
    }
    cut(block).ok().map(|()| Known { inode, len: block })
}

/// A size of `stat(2)` (signed, of the platform's width) as a `u64`.
fn unsigned(n: impl TryInto<u64>) -> u64 {
    n.try_into().unwrap_or(0)
}

/// [`keep_first_block`] for an open file.
fn keep_first_block_of(file: &File) -> Option<Known> {
    let m = file.metadata().ok()?;
    keep_first_block(m.ino(), m.len(), m.blksize(), |at| file.set_len(at))
}

/// The spare files of one queue directory.
#[derive(Debug, Default)]
pub(crate) struct SparePool {
    enabled: AtomicBool,
    /// This run's prefix of spare names (`RUN.N`): a spare named so was
    /// given back in this run and keeps its bytes; one of an earlier run
    /// (whose bytes no one here knows) is emptied before reuse.
    run: std::sync::OnceLock<String>,
    /// Names in `spare/`, with what is known of those given in this run;
    /// taken from the end.
    names: Mutex<VecDeque<(OsString, Option<Known>)>>,
    /// Spares given back unwritten and still open (`OPEN_SPARES`), taken
    /// before any named one.
    open: Mutex<Vec<Spare>>,
    next: AtomicU64,
    dir: Mutex<Option<PathBuf>>,
    /// `spare/`, open: spares are opened and renamed relative to it.
    handle: std::sync::OnceLock<File>,
    topping_up: AtomicBool,
}

impl SparePool {
    /// Start recycling: take over the spares a previous run left.
    pub(crate) fn enable(self: &Arc<Self>, root: &Path) {
        let _ = self.run.set(format!("{:08x}.", rand::random::<u32>()));
        let dir = root.join(SPARE_DIR);
        self.load(&dir);
        if let Ok(handle) = File::open(&dir) {
            let _ = self.handle.set(handle);
        }
        *self.dir.lock().unwrap_or_else(|p| p.into_inner()) = Some(dir);
        // The first top-up comes with the first message, not now: a server
        // started as root gives the queue to `mail_owner` after this, and
        // files made meanwhile would stay root's.
        self.enabled.store(true, Ordering::Release);
    }

    /// `spare/`, open, and the name in it of `path` when `path` is one of
    /// its files: a spare is renamed relative to the directory, with no
    /// walk of the whole path.
    pub(crate) fn relative<'a>(&self, path: &'a Path) -> Option<(&File, &'a std::ffi::OsStr)> {
        let dir = self.dir.lock().unwrap_or_else(|p| p.into_inner());
        let inside = dir.as_deref().is_some_and(|dir| path.parent() == Some(dir));
        drop(dir);
        match (inside, self.handle.get(), path.file_name()) {
            (true, Some(handle), Some(name)) => Some((handle, name)),
            _ => None,
        }
    }

    /// Start a background top-up when `left` spares are below the mark and
    /// none is running.
    fn top_up_if_low(self: &Arc<Self>, left: usize) {
        if left >= LOW_WATER || self.topping_up.swap(true, Ordering::AcqRel) {
            return;
        }
        let dir = self.dir.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(dir) = dir else {
            self.topping_up.store(false, Ordering::Release);
            return;
        };
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name("queue-reserve".into())
            .spawn(move || {
                let _ = rustix::process::setpriority_process(None, RESERVE_NICE);
                pool.make_reserve(&dir, TOP_UP);
                pool.topping_up.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            self.topping_up.store(false, Ordering::Release);
            gatepost_log::warning("qmgr", format!("queue file reserve: {e}"));
        }
    }

    /// Take the files in `dir` into the pool; how many there are.
    fn load(&self, dir: &Path) -> usize {
        let mut found: Vec<OsString> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .map(|e| e.file_name())
                    .collect()
            })
            .unwrap_or_default();
        found.truncate(MAX_SPARES);
        let n = found.len();
        *self.lock() = found.into_iter().map(|name| (name, None)).collect();
        n
    }

    /// Create up to `count` empty files in `dir` for the pool, taken after
    /// the files given back (whose pages are still in memory).
    fn make_reserve(&self, dir: &Path, count: usize) {
        for _ in 0..count {
            let name = self.fresh_name();
            let made = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dir.join(&name));
            match made {
                Ok(file) => {
                    let known = file.metadata().ok().map(|m| Known {
                        inode: m.ino(),
                        len: 0,
                    });
                    self.lock().push_front((name, known));
                }
                Err(e) => {
                    gatepost_log::warning(
                        "qmgr",
                        format!("queue file reserve in {}: {e}", dir.display()),
                    );
                    return;
                }
            }
        }
    }

    fn fresh_name(&self) -> OsString {
        OsString::from(format!(
            "{}{}",
            self.run.get().map_or("", String::as_str),
            self.next.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Whether the spare `name` was given back in this run.
    fn given_in_this_run(&self, name: &OsString) -> bool {
        self.run
            .get()
            .is_some_and(|run| name.as_encoded_bytes().starts_with(run.as_bytes()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(OsString, Option<Known>)>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_spares(&self) -> std::sync::MutexGuard<'_, Vec<Spare>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A spare, opened for writing, with its path in `spare/` (written
    /// there and renamed into its queue when complete) and what it still
    /// holds; `None` when there is none (the caller creates a file).
    pub(crate) fn take(self: &Arc<Self>, root: &Path) -> Option<Spare> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let open = self.open_spares().pop();
        if let Some(spare) = open {
            return Some(spare);
        }
        let dir = root.join(SPARE_DIR);
        loop {
            let (name, left) = {
                let mut names = self.lock();
                (names.pop_back(), names.len())
            };
            self.top_up_if_low(left + self.open_spares().len());
            let (name, known) = name?;
            let opened = match self.handle.get() {
                Some(handle) => crate::queue::open_relative(handle, name.as_os_str(), true),
                None => OpenOptions::new().write(true).open(dir.join(&name)),
            };
            let ours = self.given_in_this_run(&name);
            let path = dir.join(name);
            let Ok(file) = opened else {
                continue; // gone
            };
            // One given back in this run holds at most its first block, as
            // the pool knows; one of an earlier run (or left otherwise by a
            // crash) is emptied.
            let found = match known.filter(|_| ours) {
                Some(known) => Some((known.inode, known.len)),
                None => match file.metadata() {
                    Ok(m) if m.len() == 0 => Some((m.ino(), 0)),
                    Ok(m) if ours && m.len() <= m.blksize() => Some((m.ino(), m.len())),
                    Ok(m) if file.set_len(0).is_ok() => Some((m.ino(), 0)),
                    _ => None,
                },
            };
            let Some((inode, len)) = found else {
                let _ = std::fs::remove_file(&path);
                continue;
            };
            return Some(Spare {
                path,
                file,
                inode,
                stale: StaleBytes { len },
            });
        }
    }

    /// As `give`, for the file `name` of the open queue directory `dir`
    /// (the removal of a delivered message), whose `stat` the caller took:
    /// named relative to the directories, no path walked, and opened only
    /// when it must be cut.
    pub(crate) fn give_named(
        &self,
        dir: &File,
        name: &str,
        stat: &rustix::fs::Stat,
    ) -> std::io::Result<()> {
        let unlink = || rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::empty());
        let full = self.lock().len() >= MAX_SPARES;
        let spare_dir = match self.handle.get() {
            Some(h) if self.enabled.load(Ordering::Acquire) && !full => h,
            _ => return Ok(unlink()?),
        };
        // Cut first (as in `give`).
        let cut = |at| crate::queue::open_relative(dir, name, true)?.set_len(at);
        let kept = keep_first_block(
            stat.st_ino,
            unsigned(stat.st_size),
            unsigned(stat.st_blksize),
            cut,
        );
        let Some(known) = kept else {
            return Ok(unlink()?);
        };
        let spare = self.fresh_name();
        match rustix::fs::renameat(dir, name, spare_dir, spare.as_os_str()) {
            Ok(()) => {
                self.lock().push_back((spare, Some(known)));
                Ok(())
            }
            Err(_) => Ok(unlink()?),
        }
    }

    /// Give back `spare`, taken for a message and never written (its
    /// message was committed by its log record alone and has left the
    /// queue, or its commit failed): it holds what it held when taken.
    pub(crate) fn give_unwritten(&self, root: &Path, spare: Spare) -> std::io::Result<()> {
        let in_pool = self
            .dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            == spare.path.parent();
        let name = match spare.path.file_name() {
            Some(name) if in_pool && self.enabled.load(Ordering::Acquire) => name.to_os_string(),
            _ => return self.give(root, &spare.path),
        };
        let mut open = self.open_spares();
        if open.len() < OPEN_SPARES {
            open.push(spare);
            return Ok(());
        }
        drop(open);
        let known = Known {
            inode: spare.inode,
            len: spare.stale.len,
        };
        self.lock().push_back((name, Some(known)));
        Ok(())
    }

    /// Take `path` (a message file that leaves the queue) out of the queue:
    /// cut to its first block and renamed into `spare/`, or unlinked when recycling is off
    /// or the pool is full. Either way the name is gone when this returns.
    pub(crate) fn give(&self, root: &Path, path: &Path) -> std::io::Result<()> {
        if !self.enabled.load(Ordering::Acquire) || self.lock().len() >= MAX_SPARES {
            return std::fs::remove_file(path);
        }
        // Cut to its first block before the rename: the truncation is
        // ordered before the rename and before any later link of the same
        // inode into a queue.
        let known = match OpenOptions::new().write(true).open(path) {
            Ok(file) => match keep_first_block_of(&file) {
                Some(known) => known,
                None => return std::fs::remove_file(path),
            },
            Err(e) => return Err(e),
        };
        let dir = root.join(SPARE_DIR);
        if path.parent() == Some(dir.as_path()) {
            // A spare taken and not published (an aborted message).
            if let Some(name) = path.file_name() {
                self.lock().push_back((name.to_os_string(), Some(known)));
            }
            return Ok(());
        }
        let name = self.fresh_name();
        let spare: PathBuf = root.join(SPARE_DIR).join(&name);
        match std::fs::rename(path, &spare) {
            Ok(()) => {
                self.lock().push_back((name, Some(known)));
                Ok(())
            }
            Err(_) => std::fs::remove_file(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool with no reserve made (the tests count the files).
    fn pool(root: &Path) -> Arc<SparePool> {
        std::fs::create_dir_all(root.join(SPARE_DIR)).unwrap();
        let p = Arc::new(SparePool::default());
        let _ = p.run.set("7e57.".into());
        p.enabled.store(true, Ordering::Release);
        p
    }

    #[test]
    fn a_given_file_keeps_its_first_block_and_is_taken_again_with_its_inode() {
        let dir = tempfile::tempdir().unwrap();
        let spares = pool(dir.path());
        let msg = dir.path().join("MSG");
        std::fs::write(&msg, b"old message").unwrap();
        let ino = std::fs::metadata(&msg).unwrap().ino();
        spares.give(dir.path(), &msg).unwrap();
        assert!(!msg.exists());
        let spare = spares.take(dir.path()).expect("a spare");
        assert_eq!(
            spare.path.parent(),
            Some(dir.path().join(SPARE_DIR).as_path())
        );
        let meta = spare.file.metadata().unwrap();
        assert_eq!((meta.ino(), meta.len()), (ino, 11));
        assert_eq!((spare.inode, spare.stale.len), (ino, 11));
        assert!(spares.take(dir.path()).is_none());
    }

    #[test]
    fn a_spare_given_back_unwritten_is_taken_again_still_open() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let spares = pool(dir.path());
        *spares.dir.lock().unwrap() = Some(dir.path().join(SPARE_DIR));
        let mut taken = Vec::new();
        for i in 0..=OPEN_SPARES {
            let path = dir.path().join(SPARE_DIR).join(format!("7e57.{i}"));
            std::fs::write(&path, b"").unwrap();
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            let inode = file.metadata().unwrap().ino();
            taken.push(Spare {
                path,
                file,
                inode,
                stale: StaleBytes::default(),
            });
        }
        let last_fd = taken[OPEN_SPARES - 1].file.as_raw_fd();
        let last_inode = taken[OPEN_SPARES - 1].inode;
        for spare in taken {
            spares.give_unwritten(dir.path(), spare).unwrap();
        }
        // The first OPEN_SPARES stay open, the one beyond is kept by name.
        assert_eq!(spares.open_spares().len(), OPEN_SPARES);
        assert_eq!(spares.lock().len(), 1);
        let again = spares.take(dir.path()).expect("a spare");
        assert_eq!((again.file.as_raw_fd(), again.inode), (last_fd, last_inode));
        assert_eq!(spares.lock().len(), 1);
    }

    #[test]
    fn a_file_larger_than_a_block_is_cut_to_its_first_block() {
        let dir = tempfile::tempdir().unwrap();
        let spares = pool(dir.path());
        let msg = dir.path().join("MSG");
        std::fs::write(&msg, vec![b'x'; 100 * 1024]).unwrap();
        let block = std::fs::metadata(&msg).unwrap().blksize();
        spares.give(dir.path(), &msg).unwrap();
        let spare = spares.take(dir.path()).expect("a spare");
        assert_eq!(spare.file.metadata().unwrap().len(), block);
        assert_eq!(spare.stale.len, block);
        assert_eq!(spare.stale.filler_after(block - 10), 10);
        assert_eq!(spare.stale.filler_after(block + 10), 0);
    }

    #[test]
    fn a_reserve_of_empty_files_is_made_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(SPARE_DIR)).unwrap();
        let spares = Arc::new(SparePool::default());
        spares.make_reserve(&dir.path().join(SPARE_DIR), 3);
        assert_eq!(spares.lock().len(), 3);
        let files = std::fs::read_dir(dir.path().join(SPARE_DIR))
            .unwrap()
            .count();
        assert_eq!(files, 3);
    }

    #[test]
    fn spares_left_by_a_previous_run_are_reused_and_refilled_ones_emptied() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(SPARE_DIR)).unwrap();
        // Left by an earlier run: whatever it holds, it is emptied.
        std::fs::write(dir.path().join(SPARE_DIR).join("1.7"), b"stale").unwrap();
        let spares = pool(dir.path());
        assert_eq!(spares.load(&dir.path().join(SPARE_DIR)), 1);
        let spare = spares.take(dir.path()).expect("a spare");
        assert_eq!(spare.file.metadata().unwrap().len(), 0);
        assert_eq!(spare.stale.len, 0);
    }

    #[test]
    fn a_file_given_by_name_from_its_directory_is_moved_cut_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let spares = pool(dir.path());
        let _ = spares
            .handle
            .set(File::open(dir.path().join(SPARE_DIR)).unwrap());
        let active = dir.path().join("active");
        std::fs::create_dir(&active).unwrap();
        let queue_dir = File::open(&active).unwrap();
        // A message file of `active`, given back by name with its status,
        // as a removal does.
        let give = |name: &str, content: &[u8]| {
            std::fs::write(active.join(name), content).unwrap();
            let stat = rustix::fs::statat(&queue_dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                .unwrap();
            spares.give_named(&queue_dir, name, &stat).unwrap();
            stat.st_ino
        };
        let ino = give("MSG", b"delivered message");
        assert!(!active.join("MSG").exists());
        let spare = spares.take(dir.path()).expect("a spare");
        assert_eq!(
            spare.path.parent(),
            Some(dir.path().join(SPARE_DIR).as_path())
        );
        let meta = spare.file.metadata().unwrap();
        assert_eq!((meta.ino(), spare.stale.len), (ino, 17));
        assert_eq!(spare.inode, ino);

        // A larger one is cut to its first block before it is moved.
        let ino = give("BIG", &vec![b'x'; 100 * 1024]);
        let spare = spares.take(dir.path()).expect("a spare");
        let meta = spare.file.metadata().unwrap();
        assert_eq!(meta.len(), meta.blksize());
        assert_eq!((spare.inode, spare.stale.len), (ino, meta.blksize()));

        // Recycling off: the name is simply gone (the two spares taken
        // are all that `spare/` holds).
        spares.enabled.store(false, Ordering::Release);
        give("MSG2", b"x");
        assert!(!active.join("MSG2").exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join(SPARE_DIR))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn without_recycling_a_given_file_is_unlinked() {
        let dir = tempfile::tempdir().unwrap();
        let spares = Arc::new(SparePool::default());
        let msg = dir.path().join("MSG");
        std::fs::write(&msg, b"x").unwrap();
        spares.give(dir.path(), &msg).unwrap();
        assert!(!msg.exists());
        assert!(spares.take(dir.path()).is_none());
    }
}
