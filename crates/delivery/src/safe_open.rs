//! Opening a mailbox or `/file/name` target the way Postfix's safe_open()
//! does (src/util/safe_open.c): a missing file is created exclusively
//! (`O_CREAT|O_EXCL`, which never follows a symbolic link); an existing one
//! is opened with `O_NOFOLLOW` and must be a non-symlink with exactly one
//! hard link, the same file before and after the open. Failures carry
//! Postfix's texts (`file is a symbolic link`, `file has 2 hard links`,
//! `file is a directory`, `file status changed unexpectedly`, `cannot open
//! file: ...`, `cannot create file exclusively: ...`).
//!
//! Unlike Postfix, a root-owned symbolic link is refused too.

use std::fs::{File, Metadata, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Why a target could not be opened safely.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub(crate) struct SafeOpenError {
    pub text: String,
    pub kind: ErrorKind,
    /// The file is not what it should be (a link, a directory, replaced):
    /// someone may be trying to make us write elsewhere, worth a warning.
    pub suspicious: bool,
}

impl SafeOpenError {
    fn suspicious(text: impl Into<String>) -> SafeOpenError {
        SafeOpenError {
            text: text.into(),
            kind: ErrorKind::PermissionDenied,
            suspicious: true,
        }
    }

    fn io(what: &str, err: std::io::Error) -> SafeOpenError {
        SafeOpenError {
            text: format!("{what}: {err}"),
            kind: err.kind(),
            suspicious: false,
        }
    }
}

/// An opened target: the file, its status, and whether we created it.
pub(crate) type Opened = (File, Metadata, bool);

/// Open `path` for appending, creating it with `mode` when missing.
pub(crate) fn open_append(path: &Path, mode: u32) -> Result<Opened, SafeOpenError> {
    match std::fs::symlink_metadata(path) {
        Err(err) if err.kind() == ErrorKind::NotFound => match create(path, mode) {
            Err(e) if e.kind == ErrorKind::AlreadyExists => open_existing(path),
            other => other,
        },
        Err(err) => Err(SafeOpenError::io("cannot open file", err)),
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(SafeOpenError::suspicious("file is a symbolic link"))
        }
        Ok(_) => open_existing(path),
    }
}

fn flags() -> i32 {
    libc::O_NOFOLLOW | libc::O_NONBLOCK
}

fn create(path: &Path, mode: u32) -> Result<Opened, SafeOpenError> {
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(flags())
        .open(path)
        .map_err(|e| SafeOpenError::io("cannot create file exclusively", e))?;
    let meta = file
        .metadata()
        .map_err(|e| SafeOpenError::io("cannot create file exclusively", e))?;
    Ok((file, meta, true))
}

fn open_existing(path: &Path) -> Result<Opened, SafeOpenError> {
    let file = match OpenOptions::new()
        .append(true)
        .custom_flags(flags())
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(SafeOpenError::suspicious("file is a symbolic link"))
        }
        Err(err) => return Err(SafeOpenError::io("cannot open file", err)),
    };
    let opened = file
        .metadata()
        .map_err(|e| SafeOpenError::io("bad open file status", e))?;
    if opened.nlink() != 1 {
        return Err(SafeOpenError::suspicious(format!(
            "file has {} hard links",
            opened.nlink()
        )));
    }
    if opened.is_dir() {
        return Err(SafeOpenError {
            text: "file is a directory".into(),
            kind: ErrorKind::IsADirectory,
            suspicious: true,
        });
    }
    let now = match std::fs::symlink_metadata(path) {
        Ok(now) => now,
        Err(err) => {
            return Err(SafeOpenError::suspicious(format!(
                "file status changed unexpectedly: {err}"
            )))
        }
    };
    if now.file_type().is_symlink() {
        return Err(SafeOpenError::suspicious("file is a symbolic link"));
    }
    if (now.dev(), now.ino(), now.nlink(), now.mode())
        != (opened.dev(), opened.ino(), opened.nlink(), opened.mode())
    {
        return Err(SafeOpenError::suspicious(
            "file status changed unexpectedly",
        ));
    }
    Ok((file, opened, false))
}

/// Whether a delivery target is something other than a plain file (a
/// device such as /dev/null, a FIFO): no size checks or truncation there.
pub(crate) fn is_special(meta: &Metadata) -> bool {
    let t = meta.file_type();
    t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob");
        let (_, meta, created) = open_append(&path, 0o600).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(created);
        assert!(!open_append(&path, 0o600).unwrap().2);
    }

    #[test]
    fn refuses_links_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = open_append(&link, 0o600).unwrap_err();
        assert_eq!(err.text, "file is a symbolic link");
        assert!(err.suspicious);
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert_eq!(
            open_append(&dangling, 0o600).unwrap_err().text,
            "file is a symbolic link"
        );
        assert!(!dir.path().join("nowhere").exists());
        let hard = dir.path().join("hard");
        std::fs::hard_link(&victim, &hard).unwrap();
        assert_eq!(
            open_append(&hard, 0o600).unwrap_err().text,
            "file has 2 hard links"
        );
        let err = open_append(dir.path(), 0o600).unwrap_err();
        assert!(err.text.starts_with("cannot open file: "), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }
}
