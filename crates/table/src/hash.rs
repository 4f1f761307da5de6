//! `hash:/path` (and the `btree:`, `lmdb:`, `cdb:`, `dbm:` aliases): lookups
//! in gatepost's compiled `/path.gpdb` (built by `postmap`/`postalias`,
//! format in [`crate::db`]), or in the source file `/path` itself.
//!
//! Which one is read, checked again at every lookup:
//! 1. `/path.gpdb` when it exists and no Postfix-built `/path.db`
//!    (`.lmdb`, `.cdb`) is newer: as in Postfix, editing the source changes
//!    nothing until postmap runs;
//! 2. otherwise the source `/path`, parsed in memory exactly as postmap
//!    would compile it (a note is logged once), so that a Postfix
//!    configuration works as it is. Postfix's own files are never parsed
//!    nor written;
//! 3. neither: a configuration error when the table is opened, a temporary
//!    failure at lookup, worded as Postfix's `open database /path.db`.
//!
//! A file that changed (postmap renames a new file into place, the source
//! was edited while it is the one read) is reloaded; a file that cannot be
//! read or parsed at that point is a temporary failure.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::db::{compiled_path, decode, postfix_paths};
use crate::error::{io_text, TableError};
use crate::postmap::{compile_source, SourceFormat};
use crate::{Table, TableKind};

/// What identifies one version of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path, meta: &fs::Metadata) -> Stamp {
        Stamp {
            path: path.to_path_buf(),
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: std::os::unix::fs::MetadataExt::ino(meta),
        }
    }
}

#[derive(Debug)]
struct Loaded {
    stamp: Stamp,
    map: Arc<HashMap<String, String>>,
}

#[derive(Debug)]
pub(crate) struct DbTable {
    name: String,
    kind: String,
    source: String,
    format: SourceFormat,
    loaded: RwLock<Loaded>,
}

/// Which file to read now (rule in the module header), with its metadata;
/// `Err` is Postfix's message for a table that is not there.
fn choose(source: &str) -> Result<(Stamp, bool), String> {
    let compiled = compiled_path(source);
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    if let Ok(meta) = fs::metadata(&compiled) {
        let ours = meta.modified().ok();
        let postfix_newer = postfix_paths(source)
            .iter()
            .filter_map(|p| modified(p))
            .any(|t| Some(t) > ours);
        if !postfix_newer {
            return Ok((Stamp::of(&compiled, &meta), false));
        }
    }
    match fs::metadata(source) {
        Ok(meta) => Ok((Stamp::of(Path::new(source), &meta), true)),
        Err(e) => Err(format!("open database {source}.db: {}", io_text(&e))),
    }
}

impl DbTable {
    /// Open the table `spec` (`kind:source` as configured).
    pub(crate) fn open(
        spec: &str,
        kind: &str,
        source: &str,
        format: SourceFormat,
    ) -> Result<DbTable, TableError> {
        let table = DbTable {
            name: spec.to_string(),
            kind: kind.to_string(),
            source: source.to_string(),
            format,
            loaded: RwLock::new(Loaded {
                stamp: Stamp {
                    path: PathBuf::new(),
                    len: 0,
                    modified: None,
                    inode: 0,
                },
                map: Arc::default(),
            }),
        };
        table.current().map_err(|e| TableError::config(spec, e))?;
        Ok(table)
    }

    /// Load the chosen file; the error text says why it failed.
    fn load(&self, stamp: Stamp, from_source: bool) -> Result<Loaded, String> {
        let shown = stamp.path.display();
        let bytes = fs::read(&stamp.path).map_err(|e| {
            let what = if from_source { "open" } else { "read database" };
            format!("{what} {shown}: {}", io_text(&e))
        })?;
        let map = if from_source {
            let text = String::from_utf8_lossy(&bytes);
            let (table, warnings) =
                compile_source(&self.name, &self.kind, &self.source, &text, self.format);
            gatepost_log::info(
                "dict",
                format!(
                    "{}: no current {} (Postfix's compiled files are not read): using the source file {shown}",
                    self.name,
                    compiled_path(&self.source).display()
                ),
            );
            for w in warnings {
                gatepost_log::warning("dict", w);
            }
            table.into_map()
        } else {
            decode(&bytes).map_err(|why| format!("database {shown}: {why}"))?
        };
        Ok(Loaded {
            stamp,
            map: Arc::new(map),
        })
    }

    /// The entries of the file to read now, reloaded when it changed.
    fn current(&self) -> Result<Arc<HashMap<String, String>>, String> {
        let (stamp, from_source) = choose(&self.source)?;
        {
            let guard = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if guard.stamp == stamp {
                return Ok(Arc::clone(&guard.map));
            }
        }
        let fresh = self.load(stamp, from_source)?;
        let map = Arc::clone(&fresh.map);
        let mut guard = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        *guard = fresh;
        Ok(map)
    }
}

impl Table for DbTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> TableKind {
        TableKind::Exact
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
        let map = self
            .current()
            .map_err(|why| TableError::temporary(&self.name, why))?;
        Ok(map.get(&key.to_lowercase()).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{encode, write_atomic};

    fn open(name: &str) -> Result<DbTable, TableError> {
        DbTable::open(&format!("hash:{name}"), "hash", name, SourceFormat::Map)
    }

    #[test]
    fn open_lookup_reload_and_temporary_failure() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("access");
        let name = name.to_str().unwrap();
        let dbfile = format!("{name}.gpdb");
        write_atomic(Path::new(&dbfile), &encode(&[("example.com", "REJECT")])).unwrap();
        let spec = format!("hash:{name}");
        let t = open(name).unwrap();
        assert_eq!(t.lookup("EXAMPLE.COM").unwrap().as_deref(), Some("REJECT"));
        assert_eq!(t.lookup("other").unwrap(), None);

        // Replaced by a new postmap run: picked up on the next lookup.
        write_atomic(
            Path::new(&dbfile),
            &encode(&[("example.com", "OK"), ("other", "DUNNO")]),
        )
        .unwrap();
        assert_eq!(t.lookup("example.com").unwrap().as_deref(), Some("OK"));
        assert_eq!(t.lookup("other").unwrap().as_deref(), Some("DUNNO"));

        // The file exists but cannot be read: temporary failure.
        fs::remove_file(&dbfile).unwrap();
        fs::create_dir(&dbfile).unwrap();
        let err = t.lookup("example.com").unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(err.to_string().starts_with(&format!(
            "{spec}: temporary lookup failure: read database {dbfile}: "
        )));

        // Gone entirely, no source either: also temporary (it was there
        // when opened), worded as Postfix.
        fs::remove_dir(&dbfile).unwrap();
        let err = t.lookup("example.com").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{spec}: temporary lookup failure: open database {name}.db: No such file or directory")
        );
    }

    #[test]
    fn missing_db_is_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("access");
        let name = name.to_str().unwrap();
        let err = open(name).unwrap_err();
        assert!(!err.is_temporary());
        assert_eq!(
            err.to_string(),
            format!("hash:{name}: open database {name}.db: No such file or directory")
        );
    }

    /// A Postfix-built `NAME.db` is never parsed: the source is read
    /// instead, until gatepost's own compiled file is newer than Postfix's.
    #[test]
    fn postfix_db_is_left_alone_and_the_source_read() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("access");
        let name = name.to_str().unwrap();
        fs::write(name, "Example.COM REJECT\nfirst one\nfirst two\n").unwrap();
        let postfix_db = format!("{name}.db");
        fs::write(&postfix_db, b"\0\x06\x15\x61 not our format").unwrap();
        let t = open(name).unwrap();
        assert_eq!(t.lookup("example.com").unwrap().as_deref(), Some("REJECT"));
        assert_eq!(t.lookup("first").unwrap().as_deref(), Some("one"));

        // Our compiled file, newer than Postfix's: read from now on.
        write_atomic(&compiled_path(name), &encode(&[("example.com", "OK")])).unwrap();
        assert_eq!(t.lookup("example.com").unwrap().as_deref(), Some("OK"));

        // Postfix's postmap ran again later (back and forth between the
        // two): ours is stale, the source is read.
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&postfix_db)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(t.lookup("example.com").unwrap().as_deref(), Some("REJECT"));
        assert_eq!(
            fs::read(&postfix_db).unwrap(),
            b"\0\x06\x15\x61 not our format"
        );
    }
}
