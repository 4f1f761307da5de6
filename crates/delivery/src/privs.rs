//! Who we run as, and handing created files to their owner: when gatepost
//! runs as root, mailboxes and Maildirs it creates for a user with a
//! password entry are chowned to that user, as Postfix's local(8) creates
//! them with the user's rights.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether the process runs with effective uid 0 (`/proc/self` belongs to
/// the effective user; without `/proc` we assume not).
pub(crate) fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// File ownership to apply to files we create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// chown `path` to `owner`, if any.
pub(crate) fn give(path: &Path, owner: Option<Owner>) -> std::io::Result<()> {
    match owner {
        Some(o) => std::os::unix::fs::chown(path, Some(o.uid), Some(o.gid)),
        None => Ok(()),
    }
}
