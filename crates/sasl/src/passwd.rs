//! gatepost's SASL password store: one `user[@realm]:HASH` per line (the
//! first two fields of a Dovecot passwd-file line, so such a file can be
//! used as it is). HASH is an argon2 PHC string (what `gatepost
//! saslpasswd add` writes), or `{ARGON2ID}`, `{SHA512-CRYPT}`,
//! `{SHA256-CRYPT}` or `{BLF-CRYPT}` followed by the crypt string.

use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("{0}: not a valid user name (no ':' or white space)")]
    BadUser(String),
}

/// The store, read when used (so `saslpasswd` changes apply at once).
#[derive(Debug, Clone)]
pub struct PasswdFile {
    path: PathBuf,
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, PasswdError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswdError::Hash(e.to_string()))
}

/// Whether `password` matches the stored `hash` (any supported scheme).
fn verify(hash: &str, password: &str) -> bool {
    let (scheme, rest) = match hash.strip_prefix('{').and_then(|h| h.split_once('}')) {
        Some((scheme, rest)) => (scheme.to_ascii_uppercase(), rest),
        None => (String::new(), hash),
    };
    match scheme.as_str() {
        "" | "ARGON2ID" | "ARGON2I" => match PasswordHash::new(rest) {
            Ok(parsed) => argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        },
        "SHA512-CRYPT" | "SHA256-CRYPT" | "CRYPT" if rest.starts_with("$6$") => {
            sha_crypt::sha512_check(password, rest).is_ok()
        }
        "SHA256-CRYPT" | "CRYPT" if rest.starts_with("$5$") => {
            sha_crypt::sha256_check(password, rest).is_ok()
        }
        "BLF-CRYPT" | "CRYPT" if rest.starts_with("$2") => {
            bcrypt::verify(password, rest).unwrap_or(false)
        }
        _ => false,
    }
}

fn valid_user(user: &str) -> bool {
    !user.is_empty() && !user.contains(':') && !user.chars().any(char::is_whitespace)
}

impl PasswdFile {
    pub fn new(path: impl Into<PathBuf>) -> PasswdFile {
        PasswdFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_err(&self, source: std::io::Error) -> PasswdError {
        PasswdError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// `(user, hash)` of every entry; a missing file is empty.
    pub fn entries(&self) -> Result<Vec<(String, String)>, PasswdError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io_err(e)),
        };
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut fields = l.splitn(3, ':');
                let user = fields.next()?.trim();
                let hash = fields.next()?.trim();
                Some((user.to_string(), hash.to_string()))
            })
            .collect())
    }

    /// Check a login: `Ok(true)` when the user exists and the password
    /// matches.
    pub fn check(&self, user: &str, password: &str) -> Result<bool, PasswdError> {
        Ok(self
            .entries()?
            .iter()
            .any(|(u, h)| u == user && verify(h, password)))
    }

    fn write_entries(&self, entries: &[(String, String)]) -> Result<(), PasswdError> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io_err(e))?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io_err(e))?;
        for (u, h) in entries {
            writeln!(file, "{u}:{h}").map_err(|e| self.io_err(e))?;
        }
        file.sync_all().map_err(|e| self.io_err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io_err(e))
    }

    /// Add or replace `user` with a new argon2 hash of `password`.
    pub fn set(&self, user: &str, password: &str) -> Result<(), PasswdError> {
        if !valid_user(user) {
            return Err(PasswdError::BadUser(user.to_string()));
        }
        let hash = hash_password(password)?;
        let mut entries: Vec<_> = self
            .entries()?
            .into_iter()
            .filter(|(u, _)| u != user)
            .collect();
        entries.push((user.to_string(), hash));
        self.write_entries(&entries)
    }

    /// Remove `user`; `Ok(false)` when there was no such entry.
    pub fn delete(&self, user: &str) -> Result<bool, PasswdError> {
        let entries = self.entries()?;
        let kept: Vec<_> = entries.iter().filter(|(u, _)| u != user).cloned().collect();
        if kept.len() == entries.len() {
            return Ok(false);
        }
        self.write_entries(&kept)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_check_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = PasswdFile::new(dir.path().join("sasl_passwd"));
        store.set("alice@example.com", "s3cret").unwrap();
        assert!(store.check("alice@example.com", "s3cret").unwrap());
        assert!(!store.check("alice@example.com", "wrong").unwrap());
        assert!(!store.check("bob", "s3cret").unwrap());
        assert!(store.delete("alice@example.com").unwrap());
        assert!(!store.delete("alice@example.com").unwrap());
        assert!(store.set("a b", "x").is_err());
    }

    #[test]
    fn dovecot_schemes() {
        let sha = sha_crypt::sha512_simple("pw", &sha_crypt::Sha512Params::default()).unwrap();
        assert!(verify(&format!("{{SHA512-CRYPT}}{sha}"), "pw"));
        assert!(!verify(&format!("{{SHA512-CRYPT}}{sha}"), "px"));
        let blf = bcrypt::hash("pw", 4).unwrap();
        assert!(verify(&format!("{{BLF-CRYPT}}{blf}"), "pw"));
        let argon = hash_password("pw").unwrap();
        assert!(verify(&format!("{{ARGON2ID}}{argon}"), "pw"));
        assert!(verify(&argon, "pw"));
        assert!(!verify("{PLAIN}pw", "pw"));
    }
}
