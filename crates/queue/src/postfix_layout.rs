//! Telling gatepost's queue directory from Postfix's, so that gatepost never
//! runs on Postfix's queue (whose messages it cannot read).
//!
//! A queue directory gatepost has opened holds the marker file
//! `gatepost-queue`. A directory without it is checked for what Postfix
//! leaves behind (`public/pickup`, a `private/` directory, hashed
//! subdirectories such as `deferred/A/`, queue files not in gatepost's
//! format); when none is found the marker is written (an empty new
//! directory, or a gatepost queue from before the marker existed).

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::QueueError;
use crate::layout::{queue_dir, QueueName};
use crate::queue_id::QueueId;

/// The marker file, relative to `queue_directory`.
pub(crate) const MARKER: &str = "gatepost-queue";

/// The first bytes of every gatepost queue and maildrop file.
const OWN_MAGICS: [&[u8]; 2] = [b"gatepost-queue-file ", b"gatepost-maildrop "];

/// Look at no more than this many files per queue directory.
const FILES_CHECKED: usize = 64;

/// The queues Postfix keeps messages in.
pub(crate) const POSTFIX_MESSAGE_QUEUES: [QueueName; 5] = [
    QueueName::Incoming,
    QueueName::Active,
    QueueName::Deferred,
    QueueName::Hold,
    QueueName::Maildrop,
];

/// What shows `root` is Postfix's queue directory, if anything does.
pub(crate) fn postfix_evidence(root: &Path) -> Option<String> {
    if root.join("public/pickup").symlink_metadata().is_ok() {
        return Some(format!("{} exists", root.join("public/pickup").display()));
    }
    if root.join("private").is_dir() {
        return Some(format!("{} exists", root.join("private").display()));
    }
    for q in POSTFIX_MESSAGE_QUEUES {
        let dir = queue_dir(root, q);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten().take(FILES_CHECKED) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                return Some(format!("{} is a hashed queue subdirectory", path.display()));
            }
            if !QueueId::is_valid(&name) {
                return Some(format!(
                    "{} is not named like a gatepost queue file",
                    path.display()
                ));
            }
            if meta.is_file() && !has_own_magic(&path) {
                return Some(format!("{} is a Postfix queue file", path.display()));
            }
        }
    }
    None
}

fn has_own_magic(path: &Path) -> bool {
    let mut head = [0u8; 20];
    let Ok(mut file) = fs::File::open(path) else {
        return true;
    };
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return true,
        }
    }
    // An empty file is a write that never finished: not evidence.
    got == 0 || OWN_MAGICS.iter().any(|m| head[..got].starts_with(m))
}

/// Refuse Postfix's queue directory; mark `root` as gatepost's otherwise
/// (nothing to do while `root` does not exist yet).
pub fn claim_queue_directory(root: &Path) -> Result<(), QueueError> {
    if !root.is_dir() {
        return Ok(());
    }
    let marker = root.join(MARKER);
    if marker.is_file() {
        return Ok(());
    }
    if let Some(evidence) = postfix_evidence(root) {
        return Err(QueueError::PostfixQueue {
            dir: root.display().to_string(),
            evidence,
        });
    }
    write_marker(&marker)
}

fn write_marker(marker: &PathBuf) -> Result<(), QueueError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(marker)
        .map_err(|e| QueueError::io(marker, e))?;
    file.write_all(b"This directory is a gatepost queue; Postfix cannot read its files.\n")
        .and_then(|_| file.sync_all())
        .map_err(|e| QueueError::io(marker, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_signs() {
        let cases: &[(&str, &str)] = &[
            ("public/pickup", "public/pickup exists"),
            ("private/smtp", "private exists"),
            (
                "deferred/A/ABCDEF123",
                "deferred/A is a hashed queue subdirectory",
            ),
            (
                "active/4dXk2p3Wq8zJ9vR",
                "active/4dXk2p3Wq8zJ9vR is not named like a gatepost queue file",
            ),
            (
                "hold/5D8BE98C7E7",
                "hold/5D8BE98C7E7 is a Postfix queue file",
            ),
        ];
        for (file, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, b"C\x05    1").unwrap();
            let err = claim_queue_directory(dir.path()).unwrap_err().to_string();
            assert!(err.contains(want), "{file}: {err}");
            assert!(!dir.path().join(MARKER).exists());
        }
    }

    #[test]
    fn own_queue_is_marked_once() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("deferred")).unwrap();
        fs::write(
            dir.path().join("deferred/5562DBE20B"),
            b"gatepost-queue-file 1 00000000000000000000\n",
        )
        .unwrap();
        claim_queue_directory(dir.path()).unwrap();
        assert!(dir.path().join(MARKER).is_file());
        // Marked: not looked at again.
        fs::create_dir_all(dir.path().join("private")).unwrap();
        claim_queue_directory(dir.path()).unwrap();
    }
}
