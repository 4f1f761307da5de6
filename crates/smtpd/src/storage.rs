//! Free space on the queue file system, for the `452 4.3.1 Insufficient
//! system storage` check at MAIL FROM (Postfix's queue_minfree rule).

use std::path::Path;

/// Bytes available to unprivileged users, or `None` when unknown.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}
