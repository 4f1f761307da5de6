//! Who we run as, and handing created files to their owner: when gatepost
//! runs as root, mailboxes and Maildirs it creates for a user with a
//! password entry are chowned to that user, as Postfix's local(8) creates
//! them with the user's rights.

use std::path::Path;

/// Whether the calling thread runs with effective uid 0.
pub(crate) fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
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
