//! A self-signed certificate for the embedded defaults: generated once into
//! a directory (the queue's `tls/`), reused on later starts.

use std::path::{Path, PathBuf};

use crate::TlsError;

fn write(path: &Path, text: &str, private: bool) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)
}

/// Paths of `DIR/cert.pem` and `DIR/key.pem` for `hostname`, generating
/// them (ECDSA P-256) when missing. The flag says whether they were made now.
pub fn ensure_self_signed(
    dir: &Path,
    hostname: &str,
) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path, false));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let generated = rcgen::generate_simple_self_signed(names)?;
    write(&key_path, &generated.key_pair.serialize_pem(), true)?;
    write(&cert_path, &generated.cert.pem(), false)?;
    Ok((cert_path, key_path, true))
}
