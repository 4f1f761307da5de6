//! Local user lookup in the password file (`/etc/passwd` format:
//! `name:pw:uid:gid:gecos:home:shell`), the `getpwnam()` of Postfix's local
//! agent.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// Look `name` up in `file`. A missing file means no such user; other read
/// errors are returned (→ deferral).
pub(crate) fn lookup(file: &Path, name: &str) -> std::io::Result<Option<PasswdEntry>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(text.lines().filter_map(parse_line).find(|e| e.name == name))
}

fn parse_line(line: &str) -> Option<PasswdEntry> {
    if line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
        return None;
    }
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 7 || fields[0].is_empty() {
        return None;
    }
    Some(PasswdEntry {
        name: fields[0].to_string(),
        uid: fields[2].parse().ok()?,
        gid: fields[3].parse().ok()?,
        home: fields[5].to_string(),
        shell: fields[6].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let e = parse_line("alice:x:1000:100:Alice A:/home/alice:/bin/bash");
        assert_eq!(
            e,
            Some(PasswdEntry {
                name: "alice".into(),
                uid: 1000,
                gid: 100,
                home: "/home/alice".into(),
                shell: "/bin/bash".into()
            })
        );
        for bad in ["", "#comment", "+nis", "bob:x:abc:1:g:/h:/s", "bob:x:1:1"] {
            assert_eq!(parse_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(
            &path,
            "root:x:0:0:root:/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(lookup(&path, "bob").unwrap().map(|e| e.uid), Some(1001));
        assert_eq!(lookup(&path, "carol").unwrap(), None);
        assert_eq!(lookup(&dir.path().join("missing"), "bob").unwrap(), None);
    }
}
