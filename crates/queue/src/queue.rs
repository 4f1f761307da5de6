//! The queue directory tree as an object: opening (creating directories),
//! queue-id uniqueness checks, moving files between queues durably (rename,
//! then group-committed directory fsyncs through `GroupFlush`), scanning a queue, removing
//! abandoned tmp files, and the requests to the queue manager (`kick`,
//! `notify_manager`; see `manager_link`).

use std::collections::HashSet;
use std::fs::{DirBuilder, Metadata};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use rustix::fs::AtFlags;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::committed_copy::{CommittedCopy, CopyBudget};
use crate::error::{blocking, short_blocking, QueueError};
use crate::group_flush::{Flush, GroupFlush};
use crate::layout::{queue_dir, queue_path, QueueName, LOG_DIRS, PUBLIC_DIR, TMP_DIR};
use crate::manager_link::{ManagerLink, ManagerRequest};
use crate::queue_id::QueueId;
use crate::recycle::{SparePool, SPARE_DIR};
use crate::trigger::TriggerRequest;
use crate::unwritten::UnwrittenFiles;
use crate::wal::{Recovery, Wal};
use crate::writer::MessageWriter;

/// The queue directory tree.
#[derive(Debug)]
pub struct Queue {
    root: PathBuf,
    /// Requests to the queue manager of this process.
    manager: ManagerLink,
    /// What the copies of new messages sent to it hold.
    pub(crate) copies: CopyBudget,
    /// Counter making tmp file names unique within this process.
    pub(crate) tmp_seq: AtomicU64,
    /// The write-ahead log, once the server started it (docs/durability.md);
    /// without it every message is fsynced on its own.
    wal: OnceLock<Arc<Wal>>,
    /// Emptied message files kept for reuse (server only).
    pub(crate) spares: Arc<SparePool>,
    /// Each queue directory, open (`None`: could not be opened). Files of
    /// the hot path (a move into `active`, a removal) are named relative
    /// to them, as Postfix's daemons name them relative to the queue
    /// directory they change into: no walk of the whole path per call.
    dirs: Arc<DirHandles>,
    /// New messages whose queue file is not written yet (`unwritten`).
    pub(crate) unwritten: Arc<UnwrittenFiles>,
    /// The server's list of queue files whose name is not their own inode's
    /// id (found after start-up recovery, see `keep_misnamed_ids`); unset in
    /// other processes, which look in every queue instead.
    misnamed: OnceLock<HashSet<String>>,
}

/// Each queue directory and its open handle (`None`: could not be opened).
pub(crate) type DirHandles = Vec<(QueueName, Option<std::fs::File>)>;

/// Open `name` in the open directory `dir`, for writing or for reading.
pub(crate) fn open_relative(
    dir: &std::fs::File,
    name: impl rustix::path::Arg,
    write: bool,
) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let access = if write {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    };
    rustix::fs::openat(dir, name, access | OFlags::CLOEXEC, Mode::empty())
        .map(std::fs::File::from)
        .map_err(std::io::Error::from)
}

/// The open directory of queue `q` in `dirs`.
pub(crate) fn dir_handle(dirs: &DirHandles, q: QueueName) -> Option<&std::fs::File> {
    dirs.iter()
        .find(|(name, _)| *name == q)
        .and_then(|(_, dir)| dir.as_ref())
}

impl Queue {
    /// Open (creating if needed) the queue under `root` (`queue_directory`).
    /// Postfix's queue directory is refused (see `postfix_layout`).
    pub fn open(root: &Path) -> Result<Arc<Queue>, QueueError> {
        crate::postfix_layout::claim_queue_directory(root)?;
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        let mut dirs: Vec<PathBuf> = QueueName::ALL.iter().map(|q| queue_dir(root, *q)).collect();
        dirs.extend(LOG_DIRS.iter().map(|d| root.join(d)));
        dirs.push(root.join(TMP_DIR));
        dirs.push(root.join(SPARE_DIR));
        dirs.push(root.join(PUBLIC_DIR));
        for dir in &dirs {
            builder.create(dir).map_err(|e| QueueError::io(dir, e))?;
        }
        crate::postfix_layout::claim_queue_directory(root)?;
        let spares: Arc<SparePool> = Arc::default();
        let dirs: Arc<DirHandles> = Arc::new(
            QueueName::ALL
                .iter()
                .map(|q| (*q, std::fs::File::open(queue_dir(root, *q)).ok()))
                .collect(),
        );
        let unwritten = UnwrittenFiles::new(root.to_path_buf(), spares.clone(), dirs.clone());
        Ok(Arc::new(Queue {
            root: root.to_path_buf(),
            manager: ManagerLink::default(),
            copies: CopyBudget::default(),
            tmp_seq: AtomicU64::new(0),
            wal: OnceLock::new(),
            spares,
            dirs,
            unwritten: Arc::new(unwritten),
            misnamed: OnceLock::new(),
        }))
    }

    /// Hold at most `bytes` of new messages in memory between their
    /// commit and their delivery (`gatepost_queue_memory_limit`); past it
    /// the queue manager reads each one back from the write-ahead log
    /// (docs/durability.md, "Unwritten queue files").
    pub fn set_memory_limit(&self, bytes: u64) {
        self.copies
            .set_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
    }

    /// Replay the write-ahead log left by the previous run and log new
    /// messages in it from now on (the server, before its queue manager
    /// and listeners start; docs/durability.md).
    pub fn start_write_ahead_log(&self) -> Result<Recovery, QueueError> {
        self.start_wal_with(crate::wal::CHECKPOINT_AGE)
    }

    /// As `start_write_ahead_log`, checkpointing segments at most
    /// `checkpoint_age` after their first record.
    pub(crate) fn start_wal_with(
        &self,
        checkpoint_age: std::time::Duration,
    ) -> Result<Recovery, QueueError> {
        if self.wal.get().is_some() {
            return Ok(Recovery::default());
        }
        let (wal, recovery) = Wal::open_with(&self.root, checkpoint_age)?;
        let unwritten = self.unwritten.clone();
        wal.set_before_checkpoint(Box::new(move |wal, retiring| {
            unwritten.before_checkpoint(wal, retiring, wal.checkpoint_age())
        }));
        let _ = self.wal.set(wal);
        self.keep_misnamed_ids();
        self.spares.enable(&self.root);
        Ok(recovery)
    }

    /// Find the queue files whose name is not the id of their own inode: a
    /// file restored from the write-ahead log (a new inode under the old
    /// name), or one copied into the queue while the server was down. Only
    /// their ids can collide with a new message's, whose id is made from
    /// its own file's inode and no two files share an inode; so from here
    /// on `id_in_use` asks this list instead of every queue directory. The
    /// directory entries carry the inode numbers: no file is opened.
    fn keep_misnamed_ids(&self) {
        use std::os::unix::fs::DirEntryExt;
        let mut misnamed = HashSet::new();
        for q in QueueName::ALL {
            let Ok(entries) = std::fs::read_dir(queue_dir(&self.root, q)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let id = QueueId(name);
                if id.inode().is_some_and(|ino| ino != entry.ino()) {
                    misnamed.insert(id.0);
                }
            }
        }
        let _ = self.misnamed.set(misnamed);
    }

    pub(crate) fn wal(&self) -> Option<&Arc<Wal>> {
        self.wal.get()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Start a new message: allocates the file and its queue id.
    pub fn new_message(self: &Arc<Self>) -> Result<MessageWriter, QueueError> {
        MessageWriter::create(self.clone())
    }

    /// Wake the queue manager (a new message was committed, or an operator command).
    pub fn kick(&self) {
        self.notify_manager(TriggerRequest::ScanIncoming);
    }

    /// Send `request` to this process's queue manager (dropped when none runs).
    pub fn notify_manager(&self, request: TriggerRequest) {
        self.manager.send(ManagerRequest::Trigger(request));
    }

    /// The open queue directories (see the field).
    pub(crate) fn dir_handles(&self) -> Arc<DirHandles> {
        self.dirs.clone()
    }

    /// Whether this process's queue manager is listening (a new message
    /// may then be committed by its log record alone).
    pub(crate) fn manager_connected(&self) -> bool {
        self.manager.connected()
    }

    /// Write out `id`'s queue file if it was committed by its log record
    /// alone and is not written yet (`unwritten`): its delivery pass needs
    /// the file. True when it was written now.
    pub fn write_out(&self, id: &QueueId) -> Result<bool, QueueError> {
        self.unwritten.write_out(id.as_str())
    }

    /// How many new messages have no queue file yet (their count belongs
    /// to `incoming`).
    pub fn unwritten_count(&self) -> usize {
        self.unwritten.len()
    }

    /// Whether new message `id` is still in `incoming`: unwritten, or its
    /// file there. Its announcement can reach the queue manager after a
    /// scan found the file, and the message may be delivered and gone by
    /// then: its bytes alone must not deliver it again.
    pub fn still_incoming(&self, id: &QueueId) -> bool {
        if self.unwritten.contains(id.as_str()) {
            return true;
        }
        match dir_handle(&self.dirs, QueueName::Incoming) {
            Some(dir) => queue_file_stat(dir, id.as_str()).is_ok(),
            None => self.path_of(QueueName::Incoming, id).is_file(),
        }
    }

    /// Write out every queue file not written yet (the server stops).
    pub fn write_out_unwritten(&self) -> Result<(), QueueError> {
        self.unwritten.write_out_all()
    }

    /// Tell this process's queue manager that `id` entered `incoming`.
    pub(crate) fn announce_committed(&self, id: &QueueId, copy: Option<CommittedCopy>) {
        self.manager
            .send(ManagerRequest::Committed(id.clone(), copy));
    }

    /// The queue manager's end of the request channel (replaces any earlier one).
    pub fn manager_requests(&self) -> UnboundedReceiver<ManagerRequest> {
        self.manager.connect()
    }

    /// The queue file system's fragment size and the fragments free for
    /// unprivileged users, asked of the open `incoming` directory (no walk
    /// of the whole path); `None` when unknown.
    pub fn space_available(&self) -> Option<(u64, u64)> {
        let st = match dir_handle(&self.dirs, QueueName::Incoming) {
            Some(dir) => nix::sys::statvfs::fstatvfs(dir).ok()?,
            None => nix::sys::statvfs::statvfs(&self.root).ok()?,
        };
        Some((st.fragment_size() as u64, st.blocks_available() as u64))
    }

    /// Path of message `id` in queue `q`.
    pub fn path_of(&self, q: QueueName, id: &QueueId) -> PathBuf {
        queue_path(&self.root, q, id.as_str())
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    /// Make the entries of the queue directories `qs` durable, in the
    /// process's next flush round (group commit).
    pub(crate) async fn sync_dirs(&self, qs: &[QueueName]) -> Result<(), QueueError> {
        let dirs: Vec<Flush> = qs
            .iter()
            .map(|q| Flush::Dir(queue_dir(&self.root, *q)))
            .collect();
        GroupFlush::global()
            .flush(dirs)
            .await
            .map_err(|e| QueueError::io(&self.root, e))
    }

    /// Number of directory fsyncs done on `q` (group commit statistics).
    pub fn dir_fsync_count(&self, q: QueueName) -> u64 {
        GroupFlush::global().dir_fsyncs(&queue_dir(&self.root, q))
    }

    /// Whether a new message may not take `id`: in the server, whether a
    /// queue file found at start is named so without being that inode (see
    /// `keep_misnamed_ids`); elsewhere, whether a file named `id` exists in
    /// any queue.
    pub(crate) fn id_in_use(&self, id: &QueueId) -> bool {
        match self.misnamed.get() {
            Some(misnamed) => misnamed.contains(id.as_str()),
            None => self.id_on_disk(id),
        }
    }

    /// Whether a file named `id` exists in any queue (looked up relative to
    /// the directories opened at start: no walk of the whole path).
    fn id_on_disk(&self, id: &QueueId) -> bool {
        use nix::fcntl::AtFlags;
        use std::os::fd::AsRawFd;
        self.dirs.iter().any(|(q, dir)| match dir {
            Some(dir) => nix::sys::stat::fstatat(
                Some(dir.as_raw_fd()),
                id.as_str(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok(),
            None => self.path_of(*q, id).symlink_metadata().is_ok(),
        })
    }

    /// Which queue holds `id`, if any.
    pub fn find(&self, id: &QueueId) -> Option<QueueName> {
        if !QueueId::is_valid(id.as_str()) {
            return None;
        }
        QueueName::ALL
            .into_iter()
            .find(|q| self.path_of(*q, id).is_file())
    }

    /// Move `id` from one queue to another: rename, then make both directory
    /// entries durable.
    pub async fn move_file(
        &self,
        id: &QueueId,
        from: QueueName,
        to: QueueName,
    ) -> Result<(), QueueError> {
        let src = self.path_of(from, id);
        let dst = self.path_of(to, id);
        let err_path = src.clone();
        blocking(&err_path, move || {
            std::fs::rename(&src, &dst).map_err(|e| QueueError::io(&src, e))
        })
        .await?;
        self.sync_dirs(&[to, from]).await
    }

    /// Move `id` between queues without waiting for the directories to
    /// reach the disk. Only for moves between queues that start-up recovery
    /// scans alike (incoming, active, deferred): after a crash the file is
    /// found in one place or the other, never lost.
    pub async fn move_file_unsynced(
        &self,
        id: &QueueId,
        from: QueueName,
        to: QueueName,
    ) -> Result<(), QueueError> {
        let src = self.path_of(from, id);
        let dst = self.path_of(to, id);
        let err_path = src.clone();
        blocking(&err_path, move || rename(&src, &dst)).await
    }

    /// [`move_file_unsynced`](Self::move_file_unsynced) for callers
    /// already on a blocking thread.
    pub fn move_file_unsynced_blocking(
        &self,
        id: &QueueId,
        from: QueueName,
        to: QueueName,
    ) -> Result<(), QueueError> {
        match (dir_handle(&self.dirs, from), dir_handle(&self.dirs, to)) {
            (Some(src), Some(dst)) => rustix::fs::renameat(src, id.as_str(), dst, id.as_str())
                .map_err(|e| QueueError::io(&self.path_of(from, id), e.into())),
            _ => rename(&self.path_of(from, id), &self.path_of(to, id)),
        }
    }

    /// Open message `id` of queue `q` for reading, relative to the open
    /// queue directory.
    pub fn open_in(&self, q: QueueName, id: &QueueId) -> Result<std::fs::File, QueueError> {
        let opened = match dir_handle(&self.dirs, q) {
            Some(dir) => open_relative(dir, id.as_str(), false),
            None => std::fs::File::open(self.path_of(q, id)),
        };
        opened.map_err(|e| QueueError::io(&self.path_of(q, id), e))
    }

    /// Remove `id` from queue `q` durably. With the write-ahead log: a
    /// tombstone record appended before the unlink, made durable by the
    /// log's next round of commits or by the next checkpoint, whichever
    /// comes first (recovery completes a removal it finds logged). Nobody
    /// waits for that flush: until it happens, a lost tombstone can only
    /// mean one more delivery after a power loss, as when the power fails
    /// between a delivery and its record. Without the log, the unlink and
    /// a directory fsync.
    pub async fn remove_file(&self, id: &QueueId, q: QueueName) -> Result<(), QueueError> {
        let path = self.path_of(q, id);
        if let Some(wal) = self.wal() {
            if let Some(message) = self.unwritten.take(id.as_str()) {
                // Nothing on disk but its record: the tombstone, and the
                // spare goes back as it was taken.
                let appended = wal.append_removal(QueueName::Incoming, id.as_str());
                let log_dir = self.root.join(crate::wal::WAL_DIR);
                let _ = self.unwritten.give_back(message);
                return appended.map(drop).map_err(|e| QueueError::io(&log_dir, e));
            }
            let wal = wal.clone();
            let name = id.as_str().to_string();
            let err_path = path.clone();
            let log_dir = self.root.join(crate::wal::WAL_DIR);
            let (spares, dirs) = (self.spares.clone(), self.dirs.clone());
            return short_blocking(&err_path, move || {
                let dir = match q {
                    // sendmail's files are not ours to reuse
                    QueueName::Maildrop => None,
                    _ => dir_handle(&dirs, q),
                };
                // Looked up first: a file that is not there is NotFound
                // before any tombstone is written.
                let stat = match dir {
                    Some(dir) => {
                        Some(queue_file_stat(dir, &name).map_err(|e| QueueError::io(&path, e))?)
                    }
                    None if path.is_file() => None,
                    None => return Err(QueueError::io(&path, std::io::ErrorKind::NotFound.into())),
                };
                let guard = wal
                    .append_removal(q, &name)
                    .map_err(|e| QueueError::io(&log_dir, e))?;
                let r = match (dir, stat) {
                    (Some(dir), Some(stat)) => spares.give_named(dir, &name, &stat),
                    _ => std::fs::remove_file(&path),
                }
                .map_err(|e| QueueError::io(&path, e));
                drop(guard);
                r
            })
            .await;
        }
        let err_path = path.clone();
        blocking(&err_path, move || {
            std::fs::remove_file(&path).map_err(|e| QueueError::io(&path, e))
        })
        .await?;
        self.sync_dirs(&[q]).await
    }

    /// Queue files in `q` with their metadata (foreign names are skipped).
    pub fn scan(&self, q: QueueName) -> Result<Vec<(QueueId, Metadata)>, QueueError> {
        let dir = queue_dir(&self.root, q);
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| QueueError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| QueueError::io(&dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !QueueId::is_valid(&name) {
                continue;
            }
            // The file may vanish between readdir and stat (moved by the
            // queue manager or an operator): skip it.
            if let Ok(meta) = entry.metadata() {
                if meta.is_file() {
                    out.push((QueueId(name), meta));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Remove abandoned files from `tmp`: those written by another process
    /// (a previous run that crashed before commit) once older than
    /// `min_age`, and any older than a day.
    pub fn clean_tmp(&self, min_age: Duration) -> Result<usize, QueueError> {
        let dir = self.tmp_dir();
        let me = format!("{}.", std::process::id());
        let now = SystemTime::now();
        let mut removed = 0;
        let entries = std::fs::read_dir(&dir).map_err(|e| QueueError::io(&dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or(Duration::ZERO);
            let foreign = !name.starts_with(&me);
            let stale = (foreign && age >= min_age) || age >= Duration::from_secs(86_400);
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The status of the queue file `name` of the open queue directory `dir`;
/// an error when it is not there or is not a regular file.
fn queue_file_stat(dir: &std::fs::File, name: &str) -> std::io::Result<rustix::fs::Stat> {
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(stat)
}

/// Rename a queue file, the error naming the source.
fn rename(src: &Path, dst: &Path) -> Result<(), QueueError> {
    std::fs::rename(src, dst).map_err(|e| QueueError::io(src, e))
}
