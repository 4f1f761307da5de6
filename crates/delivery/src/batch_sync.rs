//! One `syncfs(2)` instead of an `fdatasync` per file, for a batch of new
//! Maildir files (docs/durability.md, "Deliveries and queue moves").
//!
//! Each `fdatasync` ends with a flush of the device's write cache, so a
//! batch of N copies costs N flushes; `syncfs` writes every dirty page and
//! inode of the filesystem and flushes once. It is used only when that is
//! cheap and as safe:
//!
//! - every file of the batch is on one filesystem;
//! - the files are small (under [`MAX_FILE`] each): for large ones the
//!   data dominates and the flushes saved matter little, while `syncfs`
//!   would also write the rest of what is dirty (the queue's files of
//!   other large messages) before any copy counts as delivered;
//! - the kernel reports writeback errors through `syncfs` (Linux 5.8 and
//!   later; before, a failed write could go unnoticed);
//! - little is dirty in the whole machine (`Dirty` + `Writeback` of
//!   `/proc/meminfo` under [`MAX_DIRTY`]): `syncfs` also writes other
//!   programs' data, and its cost is what is dirty, not what the batch
//!   wrote.
//!
//! Otherwise the caller flushes each file as before.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

/// Most dirty and under-writeback memory, machine-wide, for which one
/// `syncfs` is taken to be cheaper than a flush per file.
const MAX_DIRTY: u64 = 32 << 20;

/// Fewest files for which one `syncfs` replaces their fsyncs.
const MIN_FILES: usize = 2;

/// Largest file of a batch that one `syncfs` makes durable.
const MAX_FILE: u64 = 32 * 1024;

/// Make `files` durable with one `syncfs(2)` when that is cheap and safe
/// (see the module header); `None`: flush them one by one instead.
pub(crate) fn syncfs_if_cheap(files: &[&File]) -> Option<io::Result<()>> {
    let first = files.first()?;
    if files.len() < MIN_FILES || !kernel_reports_errors() {
        return None;
    }
    let dev = first.metadata().ok()?.dev();
    let mut same_fs = true;
    let mut largest = 0;
    for f in files {
        let meta = f.metadata().ok()?;
        same_fs &= meta.dev() == dev;
        largest = largest.max(meta.len());
    }
    let dirty = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| dirty_bytes(&m));
    worth_it(files.len(), same_fs, largest, dirty)
        .then(|| rustix::fs::syncfs(*first).map_err(io::Error::from))
}

/// The rule of the module header, given how many files, whether they
/// share a filesystem, the largest one's size, and the machine's dirty
/// memory (unknown: no).
fn worth_it(files: usize, same_fs: bool, largest: u64, dirty: Option<u64>) -> bool {
    files >= MIN_FILES && same_fs && largest <= MAX_FILE && dirty.is_some_and(|d| d < MAX_DIRTY)
}

/// Whether this kernel's `syncfs` returns writeback errors (5.8 and
/// later), read once from `/proc/sys/kernel/osrelease`.
fn kernel_reports_errors() -> bool {
    static REPORTS: OnceLock<bool> = OnceLock::new();
    *REPORTS.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|r| release_at_least(&r, (5, 8)))
            .unwrap_or(false)
    })
}

/// `release` (e.g. `6.1.0-18-amd64`) is at least `want` (major, minor).
fn release_at_least(release: &str, want: (u32, u32)) -> Option<bool> {
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some((major, minor) >= want)
}

/// `Dirty` plus `Writeback` of a `/proc/meminfo` text, in bytes.
fn dirty_bytes(meminfo: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(field("Dirty:")? + field("Writeback:")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_compare_by_major_and_minor() {
        assert_eq!(release_at_least("6.1.0-18-amd64\n", (5, 8)), Some(true));
        assert_eq!(release_at_least("5.8.0", (5, 8)), Some(true));
        assert_eq!(release_at_least("5.4.0-150-generic", (5, 8)), Some(false));
        assert_eq!(release_at_least("4.19.0", (5, 8)), Some(false));
        assert_eq!(release_at_least("garbage", (5, 8)), None);
    }

    #[test]
    fn dirty_memory_is_dirty_plus_writeback() {
        let meminfo = "MemTotal:       24000000 kB\nDirty:              1200 kB\nWriteback:            34 kB\nWritebackTmp:          0 kB\n";
        assert_eq!(dirty_bytes(meminfo), Some((1200 + 34) * 1024));
        assert_eq!(dirty_bytes("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn one_syncfs_only_for_several_small_files_on_one_filesystem_with_little_dirty() {
        let little = Some(1 << 20);
        assert!(worth_it(2, true, 1500, little));
        assert!(worth_it(40, true, MAX_FILE, Some(MAX_DIRTY - 1)));
        assert!(!worth_it(1, true, 1500, little));
        assert!(!worth_it(2, false, 1500, little));
        assert!(!worth_it(2, true, MAX_FILE + 1, little));
        assert!(!worth_it(2, true, 1500, Some(MAX_DIRTY)));
        assert!(!worth_it(2, true, 1500, None));
    }

    #[test]
    fn one_file_or_none_is_left_to_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("one")).unwrap();
        assert!(syncfs_if_cheap(&[]).is_none());
        assert!(syncfs_if_cheap(&[&f]).is_none());
    }
}
