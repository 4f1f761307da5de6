//! Maildir delivery (local `home_mailbox = Maildir/`, spool directories
//! ending in `/`, `/file/name/` alias targets and virtual mailboxes ending
//! in `/`): create `tmp/`, `new/`, `cur/` (mode 0700) when missing, write
//! `tmp/SECS.PpidQn.HOST` exclusively, fsync, rename to
//! `new/SECS.VdevIinoMusec.HOST` (Postfix's unique name; messages in `new/`
//! carry no `:2,` info suffix), fsync `new/`. Both fsyncs go through the
//! process's group commit (`gatepost_queue::GroupFlush`), so concurrent
//! deliveries share them (docs/durability.md); `deliver_many` does the
//! same for several copies at once (a store process's batch): all files
//! into `tmp/`, one round for their data (or one `syncfs`, see
//! `batch_sync`), the renames, one round for the `new/` directories.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use gatepost_queue::{Flush, GroupFlush};

use crate::privs::{self, Owner};

static COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, thiserror::Error)]
pub(crate) enum MaildirError {
    #[error("create maildir {path}: {source}")]
    Mkdir {
        path: String,
        source: std::io::Error,
    },
    #[error("create {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("error writing message: {0}")]
    Write(std::io::Error),
    #[error("rename to {path}: {source}")]
    Rename {
        path: String,
        source: std::io::Error,
    },
}

impl MaildirError {
    pub fn io_kind(&self) -> std::io::ErrorKind {
        match self {
            MaildirError::Mkdir { source, .. }
            | MaildirError::Create { source, .. }
            | MaildirError::Rename { source, .. }
            | MaildirError::Write(source) => source.kind(),
        }
    }
}

/// Replace `/` and `:` in the host name as the Maildir spec asks.
fn safe_hostname(host: &str) -> String {
    host.replace('/', "\\057").replace(':', "\\072")
}

fn make_dir(path: &Path, owner: Option<Owner>) -> Result<(), MaildirError> {
    if path.is_dir() {
        return Ok(());
    }
    let err = |source| MaildirError::Mkdir {
        path: path.display().to_string(),
        source,
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(err)?;
    privs::give(path, owner).map_err(err)
}

/// Make the Maildir `dir` with its `tmp`, `new` and `cur`.
fn make_maildir(dir: &Path, owner: Option<Owner>) -> Result<(), MaildirError> {
    make_dir(dir, owner)?;
    for sub in ["tmp", "new", "cur"] {
        make_dir(&dir.join(sub), owner)?;
    }
    Ok(())
}

/// The machine's own host name, which Postfix puts in Maildir file names
/// (not `myhostname`).
pub(crate) fn machine_hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let name = gethostname::gethostname().to_string_lossy().into_owned();
        if name.is_empty() {
            "localhost".to_string()
        } else {
            name
        }
    })
}

/// A copy written into `tmp/`, not yet durable.
struct Written {
    tmp: PathBuf,
    file: Arc<std::fs::File>,
    name: String,
    /// The Maildir.
    dir: PathBuf,
    owner: Option<Owner>,
}

impl Written {
    fn new_dir(&self) -> PathBuf {
        self.dir.join("new")
    }
}

/// Create the Maildir when needed and write `data` into `tmp/`; the
/// file's name in `new/` is fixed now (it holds the inode number).
fn write_tmp(
    dir: &Path,
    data: &[u8],
    host: &str,
    owner: Option<Owner>,
) -> Result<Written, MaildirError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join("tmp").join(format!(
        "{}.P{}Q{}.{}",
        now.as_secs(),
        std::process::id(),
        count,
        host
    ));
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
    };
    // As Postfix's maildir delivery: the directories are made only when
    // the file cannot be created for want of them.
    let created = match create() {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            make_maildir(dir, owner)?;
            create()
        }
        other => other,
    };
    let mut file = created.map_err(|source| MaildirError::Create {
        path: tmp.display().to_string(),
        source,
    })?;
    let result = (|| {
        privs::give(&tmp, owner)?;
        file.write_all(data)?;
        file.metadata()
    })();
    let meta = match result {
        Ok(meta) => meta,
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(MaildirError::Write(err));
        }
    };
    let name = format!(
        "{}.V{:x}I{:x}M{}.{}",
        now.as_secs(),
        meta.dev(),
        meta.ino(),
        now.subsec_micros(),
        host
    );
    Ok(Written {
        tmp,
        file: Arc::new(file),
        name,
        dir: dir.to_path_buf(),
        owner,
    })
}

/// Once its data is durable: rename the copy into `new/` (made first if
/// it went missing since the file was created).
fn move_to_new(w: &Written) -> Result<PathBuf, MaildirError> {
    let target = w.new_dir().join(&w.name);
    let renamed = match std::fs::rename(&w.tmp, &target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.tmp.exists() => {
            make_maildir(&w.dir, w.owner)?;
            std::fs::rename(&w.tmp, &target)
        }
        other => other,
    };
    if let Err(source) = renamed {
        let _ = std::fs::remove_file(&w.tmp);
        return Err(MaildirError::Rename {
            path: target.display().to_string(),
            source,
        });
    }
    Ok(target)
}

/// Deliver `data` into the Maildir at `dir`; returns the file in `new/`.
pub(crate) fn deliver(
    dir: &Path,
    data: &[u8],
    hostname: &str,
    owner: Option<Owner>,
) -> Result<PathBuf, MaildirError> {
    let copy = Copy { dir, data, owner };
    deliver_many(std::slice::from_ref(&copy), hostname)
        .pop()
        .unwrap_or_else(|| Err(MaildirError::Write(std::io::Error::other("not attempted"))))
}

/// One copy for [`deliver_many`].
pub(crate) struct Copy<'a> {
    pub dir: &'a Path,
    pub data: &'a [u8],
    pub owner: Option<Owner>,
}

/// The same failure for each of several copies.
fn each_failed(err: &std::io::Error) -> MaildirError {
    MaildirError::Write(std::io::Error::new(err.kind(), err.to_string()))
}

/// Deliver several copies at once: write every file into `tmp/`, make
/// them all durable at once (one `syncfs` when that is cheap,
/// `batch_sync`, else one flush round), rename each into `new/`, then
/// fsync each `new/` directory once (one more round). A copy is reported
/// delivered only when its data and its directory entry are durable; a
/// copy that cannot be written fails alone, a failed round fails the
/// copies it covers. Results in the order of `copies`.
pub(crate) fn deliver_many(
    copies: &[Copy<'_>],
    hostname: &str,
) -> Vec<Result<PathBuf, MaildirError>> {
    let host = safe_hostname(hostname);
    let mut results: Vec<Result<PathBuf, MaildirError>> = Vec::with_capacity(copies.len());
    let mut written: Vec<(usize, Written)> = Vec::with_capacity(copies.len());
    for (i, c) in copies.iter().enumerate() {
        match write_tmp(c.dir, c.data, &host, c.owner) {
            Ok(w) => {
                written.push((i, w));
                results.push(Ok(PathBuf::new()));
            }
            Err(err) => results.push(Err(err)),
        }
    }
    let files: Vec<&std::fs::File> = written.iter().map(|(_, w)| &*w.file).collect();
    let flushed = crate::batch_sync::syncfs_if_cheap(&files).unwrap_or_else(|| {
        let data = written
            .iter()
            .map(|(_, w)| Flush::Data(Arc::clone(&w.file)))
            .collect();
        GroupFlush::global().flush_blocking(data)
    });
    if let Err(err) = flushed {
        for (i, w) in &written {
            let _ = std::fs::remove_file(&w.tmp);
            results[*i] = Err(each_failed(&err));
        }
        return results;
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (i, w) in &written {
        results[*i] = move_to_new(w);
        let new_dir = w.new_dir();
        if results[*i].is_ok() && !dirs.contains(&new_dir) {
            dirs.push(new_dir);
        }
    }
    let dir_flushes = dirs.into_iter().map(Flush::Dir).collect();
    if let Err(err) = GroupFlush::global().flush_blocking(dir_flushes) {
        for result in results.iter_mut().filter(|r| r.is_ok()) {
            *result = Err(each_failed(&err));
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_maildir_and_delivers_into_new() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("bob/Maildir");
        let first = deliver(&md, b"Subject: a\n\nx\n", "mx.example/1:2", None).unwrap();
        let second = deliver(&md, b"Subject: b\n\ny\n", "mx.example", None).unwrap();
        assert_ne!(first, second);
        assert_eq!(first.parent().unwrap(), md.join("new"));
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with(".mx.example\\0571\\0722"), "{name}");
        assert!(!name.contains(":2,"));
        assert_eq!(std::fs::read(&first).unwrap(), b"Subject: a\n\nx\n");
        assert!(md.join("cur").is_dir());
        assert_eq!(std::fs::read_dir(md.join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_batch_with_one_failure_delivers_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").unwrap();
        let (a, b, bad) = (
            dir.path().join("a/Maildir"),
            dir.path().join("b/Maildir"),
            plain.join("Maildir"),
        );
        let copy = |dir, data| Copy {
            dir,
            data,
            owner: None,
        };
        let copies = [
            copy(&a, b"one\n"),
            copy(&bad, b"two\n"),
            copy(&a, b"three\n"),
            copy(&b, b"four\n"),
        ];
        let results = deliver_many(&copies, "mx.example");
        assert_eq!(results.len(), 4);
        let err = results[1].as_ref().unwrap_err();
        assert!(err.to_string().starts_with("create maildir "), "{err}");
        for (i, want) in [(0, "one\n"), (2, "three\n"), (3, "four\n")] {
            let path = results[i].as_ref().unwrap();
            assert_eq!(std::fs::read_to_string(path).unwrap(), want);
        }
        assert_eq!(std::fs::read_dir(a.join("new")).unwrap().count(), 2);
        assert_eq!(std::fs::read_dir(a.join("tmp")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(b.join("new")).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_parent_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let err = deliver(&file.join("Maildir"), b"x", "h", None).unwrap_err();
        assert!(err.to_string().starts_with("create maildir "), "{err}");
    }
}
