//! The queue directory tree under `queue_directory` (docs/queue.md#layout):
//! `maildrop incoming active deferred hold corrupt bounce defer`, plus our
//! `tmp` where files are written before being published by a link/rename.
//!
//! Directories are flat: a message file is named by its queue id. `bounce`
//! and `defer` exist for layout compatibility; per-recipient delivery and
//! defer/bounce reasons live in the message file itself (see `queue_file`).

use std::path::{Path, PathBuf};

/// Which queue directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    Maildrop,
    Incoming,
    Active,
    Deferred,
    Hold,
    Corrupt,
}

impl QueueName {
    /// Every message queue, in the order `mailq` shows them.
    pub const ALL: [QueueName; 6] = [
        QueueName::Incoming,
        QueueName::Active,
        QueueName::Deferred,
        QueueName::Hold,
        QueueName::Corrupt,
        QueueName::Maildrop,
    ];

    /// The directory name, as in Postfix.
    pub fn dir_name(self) -> &'static str {
        match self {
            QueueName::Maildrop => "maildrop",
            QueueName::Incoming => "incoming",
            QueueName::Active => "active",
            QueueName::Deferred => "deferred",
            QueueName::Hold => "hold",
            QueueName::Corrupt => "corrupt",
        }
    }
}

impl std::fmt::Display for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.dir_name())
    }
}

/// Directory for files being written (never scanned by the queue manager).
pub(crate) const TMP_DIR: &str = "tmp";

/// Directory holding the queue manager's wakeup socket (`public/qmgr`).
pub(crate) const PUBLIC_DIR: &str = "public";

/// Log directories kept for Postfix layout compatibility.
pub(crate) const LOG_DIRS: [&str; 2] = ["bounce", "defer"];

/// Path of a queue directory.
pub(crate) fn queue_dir(root: &Path, q: QueueName) -> PathBuf {
    root.join(q.dir_name())
}

/// Path of a message file in a queue.
pub(crate) fn queue_path(root: &Path, q: QueueName, id: &str) -> PathBuf {
    root.join(q.dir_name()).join(id)
}
