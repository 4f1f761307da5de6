//! `hash:/path` (and the `btree:`, `lmdb:`, `cdb:`, `dbm:` aliases): lookups
//! in `/path.db` as compiled by `postmap` or `postalias` (format in
//! [`crate::db`]). The file is loaded when the table is opened; a missing file
//! is a configuration error, as in Postfix. Each lookup checks whether the
//! file was replaced (postmap renames a new file into place) and reloads it;
//! a file that cannot be read or parsed at that point is a temporary failure.
//! The source file is never recompiled automatically.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::db::{db_path, decode};
use crate::error::{io_text, TableError};
use crate::{Table, TableKind};

/// What identifies one version of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
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
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

/// Why a load failed, with Postfix's wording.
fn load(path: &Path) -> Result<Loaded, String> {
    let shown = path.display();
    let meta = fs::metadata(path).map_err(|e| format!("open database {shown}: {}", io_text(&e)))?;
    let bytes = fs::read(path).map_err(|e| format!("read database {shown}: {}", io_text(&e)))?;
    let map = decode(&bytes).map_err(|why| format!("database {shown}: {why}"))?;
    Ok(Loaded {
        stamp: Stamp::of(&meta),
        map: Arc::new(map),
    })
}

impl DbTable {
    /// Open `NAME.db` for the table `spec` (`type:NAME` as configured).
    pub(crate) fn open(spec: &str, name: &str) -> Result<DbTable, TableError> {
        let path = db_path(name);
        let loaded = load(&path).map_err(|why| TableError::config(spec, why))?;
        Ok(DbTable {
            name: spec.to_string(),
            path,
            loaded: RwLock::new(loaded),
        })
    }

    fn current(&self) -> Result<Arc<HashMap<String, String>>, TableError> {
        let meta = fs::metadata(&self.path).map_err(|e| {
            TableError::temporary(
                &self.name,
                format!("open database {}: {}", self.path.display(), io_text(&e)),
            )
        })?;
        let stamp = Stamp::of(&meta);
        {
            let guard = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if guard.stamp == stamp {
                return Ok(Arc::clone(&guard.map));
            }
        }
        let fresh = load(&self.path).map_err(|why| TableError::temporary(&self.name, why))?;
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
        let map = self.current()?;
        Ok(map.get(&key.to_lowercase()).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{encode, write_atomic};

    #[test]
    fn open_lookup_reload_and_temporary_failure() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("access");
        let name = name.to_str().unwrap();
        let dbfile = format!("{name}.db");
        write_atomic(Path::new(&dbfile), &encode(&[("example.com", "REJECT")])).unwrap();
        let spec = format!("hash:{name}");
        let t = DbTable::open(&spec, name).unwrap();
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

        // Gone entirely: also temporary (it was there when opened).
        fs::remove_dir(&dbfile).unwrap();
        let err = t.lookup("example.com").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{spec}: temporary lookup failure: open database {dbfile}: No such file or directory")
        );
    }

    #[test]
    fn missing_db_is_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("access");
        let name = name.to_str().unwrap();
        let err = DbTable::open(&format!("hash:{name}"), name).unwrap_err();
        assert!(!err.is_temporary());
        assert_eq!(
            err.to_string(),
            format!("hash:{name}: open database {name}.db: No such file or directory")
        );
    }
}
