//! The one compiled table format behind `hash:`, `btree:`, `lmdb:`, `cdb:`
//! and `dbm:`, written by `postmap`/`postalias` to `NAME.gpdb`: a file name
//! of its own, so that Postfix's `NAME.db` (`NAME.lmdb`, `NAME.cdb`) is
//! never replaced by a file Postfix cannot open.
//!
//! On-disk layout (bytes, keys already folded to lower case, sorted):
//!
//! ```text
//! gatepost-db 1\n
//! <record count>\n
//! <key length> <value length>\n<key bytes><value bytes>\n    (per record)
//! end\n
//! ```
//!
//! Lengths are decimal byte counts, so keys and values may hold any bytes
//! except that both must be UTF-8. The trailing `end` line detects
//! truncation. Files are replaced atomically: write a temporary file in the
//! same directory, fsync it, rename it over the target, fsync the directory.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"gatepost-db 1\n";
const TRAILER: &[u8] = b"end\n";

/// Serialize entries (keys must already be folded).
pub(crate) fn encode(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + entries.len() * 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{}\n", entries.len()).as_bytes());
    for (k, v) in entries {
        out.extend_from_slice(format!("{} {}\n", k.len(), v.len()).as_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(TRAILER);
    out
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn line(&mut self) -> Result<&'a str, String> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated record header")?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| "bad record header".to_string())
    }

    fn take(&mut self, n: usize) -> Result<&'a str, String> {
        let end = self.pos.checked_add(n).ok_or("bad record length")?;
        let chunk = self.bytes.get(self.pos..end).ok_or("truncated record")?;
        self.pos = end;
        std::str::from_utf8(chunk).map_err(|_| "record is not UTF-8".to_string())
    }
}

fn number(text: &str) -> Result<usize, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad number \"{text}\""));
    }
    text.parse::<usize>()
        .map_err(|_| format!("bad number \"{text}\""))
}

/// Parse a compiled file. The error text says what is wrong.
pub(crate) fn decode(bytes: &[u8]) -> Result<HashMap<String, String>, String> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a gatepost compiled table")?;
    let mut cur = Cursor {
        bytes: body,
        pos: 0,
    };
    let count = number(cur.line()?)?;
    let mut map = HashMap::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let header = cur.line()?;
        let (kl, vl) = header.split_once(' ').ok_or("bad record header")?;
        let key = cur.take(number(kl)?)?;
        let value = cur.take(number(vl)?)?;
        if cur.take(1)? != "\n" {
            return Err("bad record terminator".to_string());
        }
        map.entry(key.to_string())
            .or_insert_with(|| value.to_string());
    }
    if body.get(cur.pos..) != Some(TRAILER) {
        return Err("truncated database".to_string());
    }
    Ok(map)
}

/// `NAME` → `NAME.gpdb`, gatepost's compiled file.
pub(crate) fn compiled_path(name: &str) -> PathBuf {
    PathBuf::from(format!("{name}.gpdb"))
}

/// The files Postfix's own postmap writes for `NAME` (never read or
/// written by gatepost; only their modification times are looked at).
pub(crate) fn postfix_paths(name: &str) -> [PathBuf; 3] {
    ["db", "lmdb", "cdb"].map(|ext| PathBuf::from(format!("{name}.{ext}")))
}

/// Replace `path` with `bytes` atomically (tmp, fsync, rename, fsync dir).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename durable; some filesystems refuse fsync on a
        // directory handle, which is not an error for us.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let entries = [("a b", "x\ny"), ("", "empty key"), ("k", "")];
        let bytes = encode(&entries);
        let map = decode(&bytes).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map["a b"], "x\ny");
        assert_eq!(map[""], "empty key");
        assert_eq!(map["k"], "");
    }

    #[test]
    fn corrupt_inputs() {
        let good = encode(&[("key", "value")]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"garbage".to_vec(), "not a gatepost compiled table"),
            (good[..good.len() - 2].to_vec(), "truncated database"),
            (good[..20].to_vec(), "truncated record"),
            (b"gatepost-db 1\nx\n".to_vec(), "bad number \"x\""),
            (b"gatepost-db 1\n1\n99 1\nab".to_vec(), "truncated record"),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(&bytes).unwrap_err(), want);
        }
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("map.gpdb");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary files left behind");
    }
}
