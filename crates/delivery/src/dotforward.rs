//! `.forward` and `:include:` files (Postfix local `dotforward.c`,
//! `include.c`): where they are (`forward_path`, expanded per recipient;
//! a path with an empty or unknown `$name` is skipped), Postfix's checks
//! before one is used, and reading one with the rights of a user: as root
//! the file is read by a `cat` process with that uid and gid, so a file the
//! user cannot read stays unread (local(8) opens it with `open_as()`).
//!
//! `.forward` checks (each a warning, after which the mailbox is used):
//! `file PATH is not a regular file` (a symbolic link is not),
//! `file PATH has bad owner uid N` (owner neither root nor the user),
//! `file PATH is world writable`, `cannot open file PATH: ERROR`.

use std::cell::Cell;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::passwd::PasswdEntry;
use crate::privs::{self, Owner};
use crate::settings::Settings;

/// Read `path` as `owner` (when running as root), else as ourselves.
pub(crate) fn read_as(path: &str, owner: Option<Owner>) -> io::Result<String> {
    let Some(owner) = owner.filter(|_| privs::running_as_root()) else {
        return std::fs::read_to_string(path);
    };
    let out = Command::new("cat")
        .arg("--")
        .arg(path)
        .uid(owner.uid)
        .gid(owner.gid)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        return String::from_utf8(out.stdout)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let kind = if err.contains("No such file") {
        io::ErrorKind::NotFound
    } else if err.contains("Permission denied") {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    };
    Err(io::Error::new(
        kind,
        err.rsplit(": ").next().unwrap_or("").trim().to_string(),
    ))
}

/// The `forward_path` entries for a user and recipient, expanded; entries
/// that refer to an empty or unknown name are left out.
pub(crate) fn forward_paths(
    settings: &Settings,
    pw: &PasswdEntry,
    value: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut paths = Vec::new();
    for entry in settings
        .forward_path
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|e| !e.is_empty())
    {
        let undefined = Cell::new(false);
        let path = gatepost_config::expand_macros(entry, &|name| {
            let v = match name {
                "home" => Some(pw.home.clone()),
                "shell" => Some(pw.shell.clone()),
                "recipient_delimiter" => Some(settings.recipient_delimiter.clone()),
                other => value(other),
            }
            .filter(|v| !v.is_empty());
            if v.is_none() {
                undefined.set(true);
            }
            v
        });
        if !undefined.get() {
            paths.push(path);
        }
    }
    paths
}

/// The first `.forward` file that exists, checked as dotforward.c does;
/// `None` when there is none or it must not be used (warned).
pub(crate) fn find_forward(paths: &[String], pw: &PasswdEntry) -> Option<String> {
    let (path, meta) = paths
        .iter()
        .find_map(|p| std::fs::symlink_metadata(p).ok().map(|m| (p, m)))?;
    let why = if !meta.file_type().is_file() {
        format!("file {path} is not a regular file")
    } else if meta.uid() != 0 && meta.uid() != pw.uid {
        format!("file {path} has bad owner uid {}", meta.uid())
    } else if meta.permissions().mode() & 0o002 != 0 {
        format!("file {path} is world writable")
    } else {
        let owner = Owner {
            uid: pw.uid,
            gid: pw.gid,
        };
        match read_as(path, Some(owner)) {
            Ok(text) => return Some(text),
            Err(err) => format!("cannot open file {path}: {}", gatepost_log::io_text(&err)),
        }
    };
    gatepost_log::warning("local", why);
    None
}

/// `.forward` / `:include:` text as an alias value: one target per line
/// or comma; `#` lines are comments.
pub(crate) fn as_alias_value(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The owner of an `:include:` file; `Err` with the warning to log when
/// it cannot be used (include.c: not found, not a regular file, world
/// writable).
pub(crate) fn include_owner(path: &str) -> Result<Owner, String> {
    let meta = std::fs::metadata(Path::new(path)).map_err(|err| {
        format!(
            "unable to lookup :include: file {path}: {}",
            gatepost_log::io_text(&err)
        )
    })?;
    if !meta.file_type().is_file() {
        return Err(format!(":include: file {path} is not a regular file"));
    }
    if meta.permissions().mode() & 0o002 != 0 {
        return Err(format!(":include: file {path} is world writable"));
    }
    Ok(Owner {
        uid: meta.uid(),
        gid: meta.gid(),
    })
}
