//! `texthash:/path`: the postmap source format read into memory when the
//! table is opened (no compiled file, no automatic reload), as Postfix's
//! `dict_thash`.

use std::fs;

use crate::error::{io_text, TableError};
use crate::memory::MemoryTable;
use crate::source::parse_records;

pub(crate) fn open_texthash(spec: &str, path: &str) -> Result<MemoryTable, TableError> {
    let content = fs::read(path)
        .map_err(|e| TableError::config(spec, format!("open database {path}: {}", io_text(&e))))?;
    let content = String::from_utf8_lossy(&content);
    let mut warnings = Vec::new();
    let records = parse_records(&content, path, &mut warnings);
    let mut table = MemoryTable::new(spec);
    for w in warnings {
        table.warn(w);
    }
    for rec in records {
        if !table.insert(&rec.key, &rec.value) {
            table.warn(format!(
                "{path}, line {}: duplicate entry: \"{}\"",
                rec.lineno,
                rec.key.to_lowercase()
            ));
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Table;

    #[test]
    fn texthash_reads_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access");
        fs::write(
            &path,
            "Example.com REJECT\n# c\n1.2.3 OK\nexample.com DUNNO\nlong 550 5.7.1\n too\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let spec = format!("texthash:{p}");
        let t = open_texthash(&spec, p).unwrap();
        let cases = [
            ("example.COM", Some("REJECT")),
            ("1.2.3", Some("OK")),
            ("long", Some("550 5.7.1 too")),
            ("1.2.3.4", None),
        ];
        for (key, want) in cases {
            assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{key}");
        }
        assert_eq!(
            t.warnings(),
            [format!("{p}, line 4: duplicate entry: \"example.com\"")]
        );
    }

    #[test]
    fn texthash_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope");
        let p = p.to_str().unwrap();
        let err = open_texthash(&format!("texthash:{p}"), p).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("texthash:{p}: open database {p}: No such file or directory")
        );
    }
}
