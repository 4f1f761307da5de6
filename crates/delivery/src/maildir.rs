//! Maildir delivery (local `home_mailbox = Maildir/`, spool directories
//! ending in `/`, `/file/name/` alias targets and virtual mailboxes ending
//! in `/`): create `tmp/`, `new/`, `cur/` (mode 0700) when missing, write
//! `tmp/SECS.PpidQn.HOST` exclusively, fsync, rename to
//! `new/SECS.VdevIinoMusec.HOST` (Postfix's unique name; messages in `new/`
//! carry no `:2,` info suffix), fsync `new/`. Both fsyncs go through the
//! process's group commit (`gatepost_queue::GroupFlush`), so concurrent
//! deliveries share them (docs/durability.md).

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

/// Deliver `data` into the Maildir at `dir`; returns the file in `new/`.
pub(crate) fn deliver(
    dir: &Path,
    data: &[u8],
    hostname: &str,
    owner: Option<Owner>,
) -> Result<PathBuf, MaildirError> {
    let host = safe_hostname(hostname);
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
        let meta = file.metadata()?;
        GroupFlush::global().flush_blocking(vec![Flush::Data(Arc::new(file))])?;
        Ok(meta)
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
    let new_dir = dir.join("new");
    let target = new_dir.join(name);
    let renamed = match std::fs::rename(&tmp, &target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && tmp.exists() => {
            make_maildir(dir, owner)?;
            std::fs::rename(&tmp, &target)
        }
        other => other,
    };
    if let Err(source) = renamed {
        let _ = std::fs::remove_file(&tmp);
        return Err(MaildirError::Rename {
            path: target.display().to_string(),
            source,
        });
    }
    GroupFlush::global()
        .flush_blocking(vec![Flush::Dir(new_dir)])
        .map_err(MaildirError::Write)?;
    Ok(target)
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
    fn unwritable_parent_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let err = deliver(&file.join("Maildir"), b"x", "h", None).unwrap_err();
        assert!(err.to_string().starts_with("create maildir "), "{err}");
    }
}
