//! `unix:passwd.byname`: the system password file. The key is a login name
//! (folded to lower case like every Postfix lookup key); the value is the
//! whole `name:passwd:uid:gid:gecos:dir:shell` line. The file is read at each
//! lookup, so an unreadable file is a temporary failure.

use std::fs;
use std::path::PathBuf;

use crate::error::{io_text, TableError};
use crate::{Table, TableKind};

#[derive(Debug, Clone)]
pub(crate) struct PasswdTable {
    name: String,
    path: PathBuf,
}

impl PasswdTable {
    pub(crate) fn open(spec: &str, map: &str) -> Result<PasswdTable, TableError> {
        match map {
            "passwd.byname" => Ok(PasswdTable::with_path(spec, PathBuf::from("/etc/passwd"))),
            other => Err(TableError::config(
                spec,
                format!("unknown table: unix:{other}"),
            )),
        }
    }

    pub(crate) fn with_path(spec: &str, path: PathBuf) -> PasswdTable {
        PasswdTable {
            name: spec.to_string(),
            path,
        }
    }
}

impl Table for PasswdTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> TableKind {
        TableKind::Exact
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, TableError> {
        let key = key.to_lowercase();
        if key.is_empty() || key.contains(':') {
            return Ok(None);
        }
        let content = fs::read(&self.path).map_err(|e| {
            TableError::temporary(
                &self.name,
                format!("read {}: {}", self.path.display(), io_text(&e)),
            )
        })?;
        let content = String::from_utf8_lossy(&content);
        Ok(content
            .lines()
            .find(|line| line.split(':').next() == Some(key.as_str()))
            .map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        fs::write(
            &path,
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\n",
        )
        .unwrap();
        let t = PasswdTable::with_path("unix:passwd.byname", path.clone());
        let cases = [
            (
                "alice",
                Some("alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh"),
            ),
            ("ROOT", Some("root:x:0:0:root:/root:/bin/bash")),
            ("bob", None),
            ("", None),
        ];
        for (key, want) in cases {
            assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{key}");
        }
        fs::remove_file(&path).unwrap();
        let err = t.lookup("alice").unwrap_err();
        assert!(err.is_temporary());
        assert!(PasswdTable::open("unix:group.bygid", "group.bygid").is_err());
    }
}
